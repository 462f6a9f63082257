"""Request/response frames for the bulk stream protocols.

Streams (/swarm/ckpt/1, /swarm/batch/1, /swarm/trace/1) are already
authenticated by Noise, so frames are unsigned.  A frame is a 4-byte
big-endian payload length followed by a canonical msgpack map whose first key
`t` names the frame type.  A requester sends one BlobRequest; the responder
answers with BlobChunk frames from the requested offset to the end of the
blob, or with one RpcError.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from protocol.errors import ProtocolError
from protocol.wire.codec import describe_value, pack, unpack
from protocol.wire.reasons import WireReason
from protocol.wire.schema import HASH32, Blob, EnumOf, ScalarMap, Struct, Text, UInt, load_at, validated_plain, wire, wire_error

FRAME_HEADER_BYTES = 4
MAX_CHUNK_BYTES = 256 * 1024
MAX_FRAME_BYTES = MAX_CHUNK_BYTES + 1024  # payload cap (the header not included)

STREAM_PROTOCOLS = {
    "ckpt": "/swarm/ckpt/1",
    "batch": "/swarm/batch/1",
    "trace": "/swarm/trace/1",
}


class RpcErrorCode(enum.Enum):
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    TOO_LARGE = "too_large"
    BUSY = "busy"
    INTERNAL = "internal"


@dataclasses.dataclass(frozen=True)
class BlobRequest(Struct):
    """Ask for a blob by content hash, from `offset` to its end.  `query` narrows
    structured lookups (e.g. trace nodes: {"step": 3, "op": 17}); empty otherwise."""

    TYPE = "req"
    resource: str = wire(Text(max_bytes=16, choices=frozenset(STREAM_PROTOCOLS)))
    key: bytes = wire(HASH32)
    offset: int = wire(UInt())
    query: dict[str, Any] = wire(ScalarMap(max_items=16, max_key_bytes=32, max_str_bytes=256))


@dataclasses.dataclass(frozen=True, repr=False)
class BlobChunk(Struct):
    """Bytes [offset, offset + len(data)) of a blob of `total` bytes."""

    TYPE = "chunk"
    key: bytes = wire(HASH32)
    offset: int = wire(UInt())
    total: int = wire(UInt())
    data: bytes = wire(Blob(max_bytes=MAX_CHUNK_BYTES))

    @property
    def last(self) -> bool:
        return self.offset + len(self.data) == self.total

    def _check(self) -> None:
        if self.offset + len(self.data) > self.total:
            raise wire_error(WireReason.BAD_VALUE, "chunk runs past the blob's total size")
        if not self.data and self.total != 0:
            raise wire_error(WireReason.BAD_VALUE, "empty chunk of a non-empty blob")

    def __repr__(self) -> str:
        return f"BlobChunk(key={self.key[:4].hex()}.., offset={self.offset}, len={len(self.data)}, total={self.total})"


@dataclasses.dataclass(frozen=True)
class RpcError(Struct):
    TYPE = "error"
    code: RpcErrorCode = wire(EnumOf(RpcErrorCode))
    detail: str = wire(Text(max_bytes=256))


Frame = BlobRequest | BlobChunk | RpcError
FRAME_TYPES: dict[str, type] = {cls.TYPE: cls for cls in (BlobRequest, BlobChunk, RpcError)}


def encode_frame(frame: Frame) -> bytes:
    """Length prefix + canonical msgpack payload; validates the frame first."""
    cls = type(frame)
    if FRAME_TYPES.get(getattr(cls, "TYPE", None)) is not cls:
        raise ProtocolError(WireReason.UNKNOWN_KIND, f"{cls.__name__} is not a frame")
    payload = pack({"t": cls.TYPE, **validated_plain(cls, frame, "frame")})
    if len(payload) > MAX_FRAME_BYTES:
        raise ProtocolError(WireReason.OVERSIZE, f"frame payload {len(payload)} bytes, cap {MAX_FRAME_BYTES}")
    return len(payload).to_bytes(FRAME_HEADER_BYTES, "big") + payload


def frame_payload_length(header: bytes) -> int:
    """Payload length from a frame's 4-byte header; OVERSIZE above MAX_FRAME_BYTES.
    Stream readers call this before reading (and buffering) the payload."""
    if not isinstance(header, (bytes, bytearray, memoryview)) or len(header) != FRAME_HEADER_BYTES:
        raise ProtocolError(WireReason.MALFORMED, f"frame header must be {FRAME_HEADER_BYTES} bytes")
    length = int.from_bytes(header, "big")
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(WireReason.OVERSIZE, f"frame payload {length} bytes, cap {MAX_FRAME_BYTES}")
    return length


def decode_frame_payload(payload: bytes) -> Frame:
    """Strictly decode one frame payload (without its header)."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ProtocolError(WireReason.MALFORMED, f"expected bytes, got {type(payload).__name__}")
    payload = bytes(payload)
    if len(payload) > MAX_FRAME_BYTES:
        raise ProtocolError(WireReason.OVERSIZE, f"frame payload {len(payload)} bytes, cap {MAX_FRAME_BYTES}")
    fields = unpack(payload, MAX_FRAME_BYTES)
    if type(fields) is not dict:
        raise ProtocolError(WireReason.MALFORMED, f"frame must be a map, got {describe_value(fields)}")
    if "t" not in fields:
        raise ProtocolError(WireReason.MISSING_FIELD, "frame: missing field 't'")
    if next(iter(fields)) != "t":
        raise ProtocolError(WireReason.NON_CANONICAL, "frame: 't' must be the first key")
    tag = fields.pop("t")
    if type(tag) is not str:
        raise ProtocolError(WireReason.WRONG_TYPE, f"frame.t: expected str, got {describe_value(tag)}")
    cls = FRAME_TYPES.get(tag)
    if cls is None:
        raise ProtocolError(WireReason.UNKNOWN_KIND, f"frame type {tag[:32]!r}")
    frame = load_at(cls, fields, "frame")
    if pack({"t": tag, **fields}) != payload:
        raise ProtocolError(WireReason.NON_CANONICAL, "frame is valid but not canonically encoded")
    return frame


def decode_frame(data: bytes) -> Frame:
    """Decode one whole frame: 4-byte header + payload, nothing more or less."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError(WireReason.MALFORMED, f"expected bytes, got {type(data).__name__}")
    length = frame_payload_length(bytes(data[:FRAME_HEADER_BYTES])) if len(data) >= FRAME_HEADER_BYTES else None
    if length is None or len(data) != FRAME_HEADER_BYTES + length:
        raise ProtocolError(WireReason.MALFORMED, "frame length prefix does not match the data")
    return decode_frame_payload(data[FRAME_HEADER_BYTES:])
