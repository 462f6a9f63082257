"""The one msgpack configuration used for every wire message and frame.

Packing is canonical by construction (maps are built in the declared field
order, ints and strings take msgpack-python's shortest forms, floats are
always float64); unpacking is strict and bounded.  Decoders compare the
received bytes with the re-packed value, so exactly one byte string encodes a
given message: signatures cover well-defined bytes and message ids are unique.
"""

from __future__ import annotations

from typing import Any

import msgpack

from protocol.errors import ProtocolError
from protocol.wire.reasons import WireReason


def pack(value: Any) -> bytes:
    """Canonical msgpack of an already validated plain value (dict/list/scalars)."""
    try:
        return msgpack.packb(value, use_bin_type=True, use_single_float=False)
    except (TypeError, ValueError, OverflowError) as exc:  # only reachable on unvalidated input
        raise ProtocolError(WireReason.BAD_VALUE, f"cannot encode: {type(exc).__name__}") from None


def unpack(data: bytes, cap: int) -> Any:
    """Strictly unpack one msgpack value that must fill `data` exactly.

    No ext types (timestamps included), UTF-8 strings only, map keys str/bytes
    only, every length bounded by `cap`.
    """
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_str_len=cap,
            max_bin_len=cap,
            max_array_len=cap,
            max_map_len=cap,
            max_ext_len=0,
        )
    except (ValueError, TypeError, OverflowError, RecursionError, msgpack.UnpackException) as exc:
        # ValueError covers ExtraData, FormatError, StackError, OutOfData and bad UTF-8;
        # RecursionError only if msgpack's pure-Python fallback is in use.
        raise ProtocolError(WireReason.MALFORMED, f"not one strict msgpack value ({type(exc).__name__})") from None


def peek_map_prefix(data: bytes, count: int) -> list[tuple[Any, Any]] | None:
    """Read the first `count` (key, value) pairs of a top-level map from at most
    the first 256 bytes, without unpacking the rest; None when that is not possible
    (the full decode then reports the precise error)."""
    unpacker = msgpack.Unpacker(
        raw=False, strict_map_key=True, max_buffer_size=256, max_str_len=64, max_bin_len=64,
        max_array_len=0, max_map_len=16, max_ext_len=0,
    )
    try:
        unpacker.feed(data[:256])
        n = unpacker.read_map_header()
        pairs = []
        for _ in range(min(n, count)):
            key = unpacker.unpack()
            pairs.append((key, unpacker.unpack()))
        return pairs
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException):
        return None


def describe_value(value: Any) -> str:
    """A short, never-failing description of an untrusted value for error details."""
    kind = type(value).__name__
    if isinstance(value, (bytes, str, list, dict)):
        return f"{kind} of length {len(value)}"
    if isinstance(value, (bool, float)):
        return f"{kind} {value!r}"
    if isinstance(value, int):
        return f"int {value}" if abs(value) < 10**24 else "int (huge)"
    return kind
