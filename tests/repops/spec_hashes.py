"""An independent, deliberately naive implementation of docs/commitments.md, written from the
spec text element by element (struct, no numpy, no caching), to check repops.merkle against."""

from __future__ import annotations

import hashlib
import math
import struct

import torch

ZERO = bytes(32)
CODES = {torch.float32: (1, "<f"), torch.int32: (2, "<i"), torch.int64: (3, "<q"), torch.uint8: (4, "<B"), torch.bool: (5, "<B")}


def H(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def spec_tree(leaves: list[bytes]) -> bytes:
    if not leaves:
        return ZERO
    size = 1
    while size < len(leaves):
        size *= 2
    level = list(leaves) + [ZERO] * (size - len(leaves))
    while len(level) > 1:
        level = [H(b"\x01", level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def element_bytes(value, dtype) -> bytes:
    code, fmt = CODES[dtype]
    if dtype == torch.float32 and math.isnan(value):
        return struct.pack("<I", 0x7FC00000)
    if dtype == torch.bool:
        value = int(value)
    return struct.pack(fmt, value)


def spec_tensor_root(t: torch.Tensor) -> bytes:
    code, _ = CODES[t.dtype]
    head = bytes([code, t.dim()]) + b"".join(d.to_bytes(8, "little") for d in t.shape)
    values = t.reshape(-1).tolist()
    elems = [element_bytes(v, t.dtype) for v in values]
    leaves = [H(b"\x00", *elems[i : i + 256]) for i in range(0, len(elems), 256)]
    return H(b"\x02", head, spec_tree(leaves))


def spec_record(i: int, op: str, ins: list[bytes], outs: list[bytes], attrs_digest: bytes) -> bytes:
    return H(b"\x03", i.to_bytes(8, "little"), bytes([len(op)]), op.encode(), bytes([len(ins)]), *ins,
             bytes([len(outs)]), *outs, attrs_digest)


def spec_trace_root(records: list[bytes]) -> bytes:
    return H(b"\x04", len(records).to_bytes(8, "little"), spec_tree(records))


def spec_checkpoint_hash(tensors: dict[str, torch.Tensor]) -> bytes:
    names = sorted(tensors, key=lambda n: n.encode())
    entries = [H(b"\x05", len(n.encode()).to_bytes(2, "little"), n.encode(), spec_tensor_root(tensors[n])) for n in names]
    return H(b"\x06", len(entries).to_bytes(8, "little"), spec_tree(entries))
