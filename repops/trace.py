"""Execution traces: every RepOps op reports its inputs and outputs here.

Ops call `record(op, inputs, outputs, attrs)`. With no tracer active this is one module-global
check. Inside `with tracing() as t:` each call appends a record per docs/commitments.md
(tensor roots of inputs and outputs, op name, attrs digest); `t.root` is the trace root.
With `keep_tensors=True` the tracer also keeps copies of every op's tensors, so any op can be
opened and any element proven against the trace root during a dispute.

One tracer per process at a time: autograd may run backward ops on its own threads (on GPUs),
so the active tracer is a module global rather than thread-local, and `tracing()` refuses to
nest. Ops called from other Python threads while a trace is recorded (generation in another
trio.to_thread worker) are not recorded; ops on threads Python did not start (autograd's) are.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import torch

from repops import merkle
from repops.errors import RepOpsError

_ACTIVE: "Tracer | None" = None


def record(
    op: str,
    inputs: Sequence[torch.Tensor],
    outputs: Sequence[torch.Tensor],
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Report one executed op. A no-op unless a tracer is active."""
    tracer = _ACTIVE
    if tracer is None:
        return
    if threading.get_ident() != tracer.owner and not isinstance(threading.current_thread(), threading._DummyThread):
        # Another Python thread (e.g. a trio.to_thread worker generating rollouts) is not
        # part of the traced computation. Threads that Python did not start, such as
        # autograd's device threads running backward ops on a GPU, are.
        return
    tracer.append(op, inputs, outputs, attrs)


def active() -> "Tracer | None":
    """The tracer recording now, if any."""
    return _ACTIVE


@contextmanager
def tracing(*, keep_tensors: bool = False) -> Iterator["Tracer"]:
    """Record every RepOps op executed inside the block (see Tracer for the options)."""
    global _ACTIVE
    if _ACTIVE is not None:
        raise RepOpsError("tracer_active", "a trace is already being recorded in this process")
    tracer = Tracer(keep_tensors=keep_tensors)
    _ACTIVE = tracer
    try:
        yield tracer
    finally:
        _ACTIVE = None
        tracer.close()


# ------------------------------------------------------------------------ canonical attrs


def _pack(value: Any, out: list[bytes]) -> None:
    """Canonical msgpack (the subset attrs use): maps with str keys sorted bytewise by UTF-8,
    ints in their shortest form, floats always as float64, tuples as arrays. Byte-identical
    to msgpack.packb(..., use_bin_type=True) on such data, without importing msgpack here
    (repops imports only torch/numpy)."""
    if value is None:
        out.append(b"\xc0")
    elif value is True:
        out.append(b"\xc3")
    elif value is False:
        out.append(b"\xc2")
    elif isinstance(value, int):
        if 0 <= value < 0x80:
            out.append(bytes([value]))
        elif -32 <= value < 0:
            out.append(struct.pack(">b", value))
        elif 0 <= value < 1 << 8:
            out.append(b"\xcc" + struct.pack(">B", value))
        elif 0 <= value < 1 << 16:
            out.append(b"\xcd" + struct.pack(">H", value))
        elif 0 <= value < 1 << 32:
            out.append(b"\xce" + struct.pack(">I", value))
        elif 0 <= value < 1 << 64:
            out.append(b"\xcf" + struct.pack(">Q", value))
        elif -(1 << 7) <= value < 0:
            out.append(b"\xd0" + struct.pack(">b", value))
        elif -(1 << 15) <= value < 0:
            out.append(b"\xd1" + struct.pack(">h", value))
        elif -(1 << 31) <= value < 0:
            out.append(b"\xd2" + struct.pack(">i", value))
        elif -(1 << 63) <= value < 0:
            out.append(b"\xd3" + struct.pack(">q", value))
        else:
            raise RepOpsError("bad_attrs", f"integer {value} does not fit 64 bits")
    elif isinstance(value, float):
        out.append(b"\xcb" + struct.pack(">d", value))
    elif isinstance(value, str):
        data = value.encode("utf-8")
        n = len(data)
        if n < 32:
            out.append(bytes([0xA0 | n]))
        elif n < 1 << 8:
            out.append(b"\xd9" + struct.pack(">B", n))
        elif n < 1 << 16:
            out.append(b"\xda" + struct.pack(">H", n))
        else:
            out.append(b"\xdb" + struct.pack(">I", n))
        out.append(data)
    elif isinstance(value, (bytes, bytearray)):
        n = len(value)
        if n < 1 << 8:
            out.append(b"\xc4" + struct.pack(">B", n))
        elif n < 1 << 16:
            out.append(b"\xc5" + struct.pack(">H", n))
        else:
            out.append(b"\xc6" + struct.pack(">I", n))
        out.append(bytes(value))
    elif isinstance(value, (list, tuple)):
        n = len(value)
        out.append(bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n) if n < 1 << 16 else b"\xdd" + struct.pack(">I", n))
        for item in value:
            _pack(item, out)
    elif isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise RepOpsError("bad_attrs", f"attribute names are strings, got {key!r}")
            items.append((key.encode("utf-8"), key, item))
        items.sort(key=lambda kv: kv[0])
        n = len(items)
        out.append(bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n) if n < 1 << 16 else b"\xdf" + struct.pack(">I", n))
        for _, key, item in items:
            _pack(key, out)
            _pack(item, out)
    elif isinstance(value, torch.dtype):
        _pack(str(value).removeprefix("torch."), out)
    else:
        raise RepOpsError("bad_attrs", f"cannot commit to an attribute of type {type(value).__name__}")


def canonical_attrs(attrs: Mapping[str, Any] | None) -> bytes:
    """The canonical msgpack bytes of an op's attributes (b'' when there are none)."""
    if not attrs:
        return b""
    out: list[bytes] = []
    _pack(dict(attrs), out)
    return b"".join(out)


def attrs_digest(attrs: Mapping[str, Any] | None) -> bytes:
    """sha256 of the canonical attrs, or ZERO for an op without attributes."""
    data = canonical_attrs(attrs)
    return hashlib.sha256(data).digest() if data else merkle.ZERO


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class OpRecord:
    index: int
    op: str
    input_roots: tuple[bytes, ...]
    output_roots: tuple[bytes, ...]
    attrs_digest: bytes

    def encode(self) -> bytes:
        """The bytes hashed into the record leaf (after the 0x03 tag)."""
        name = self.op.encode("ascii")
        if not name or len(name) > 255:
            raise RepOpsError("bad_op_name", f"op names are 1-255 ASCII bytes: {self.op!r}")
        if len(self.input_roots) > 255 or len(self.output_roots) > 255:
            raise RepOpsError("bad_record", "an op has at most 255 inputs and 255 outputs")
        return b"".join(
            [
                self.index.to_bytes(8, "little"),
                bytes([len(name)]),
                name,
                bytes([len(self.input_roots)]),
                *self.input_roots,
                bytes([len(self.output_roots)]),
                *self.output_roots,
                self.attrs_digest,
            ]
        )

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(merkle.TAG_RECORD + self.encode()).digest()


@dataclass(frozen=True)
class RecordProof:
    """Record `record.index` of a trace of `op_count` ops, with its Merkle path."""

    record: OpRecord
    op_count: int
    siblings: tuple[bytes, ...]


@dataclass(frozen=True)
class OpOpening:
    """One op opened: its record, proof, the tensors themselves and its attrs."""

    proof: RecordProof
    inputs: tuple[torch.Tensor, ...]
    outputs: tuple[torch.Tensor, ...]
    attrs: Mapping[str, Any] | None


def trace_root_from_tree(op_count: int, tree: bytes) -> bytes:
    return hashlib.sha256(merkle.TAG_TRACE + op_count.to_bytes(8, "little") + tree).digest()


def verify_record(trace_root: bytes, proof: RecordProof) -> bool:
    """True when the record is op `record.index` of the trace with this root."""
    rec = proof.record
    n = proof.op_count
    if not 0 <= rec.index < n or len(proof.siblings) != merkle.tree_depth(n):
        return False
    try:
        tree = merkle.root_from_proof(rec.hash, rec.index, proof.siblings)
    except RepOpsError:
        return False
    return trace_root_from_tree(n, tree) == trace_root


class Tracer:
    """The records of one traced computation (usually one training step), hashed inline on
    the caller's thread. Tracing is off the training hot path: peers train untraced and
    trace a step by replay only in a dispute (docs/architecture.md, "RepOps tracing")."""

    def __init__(self, *, keep_tensors: bool = False, cache_bytes: int = 512 << 20) -> None:
        self.keep_tensors = keep_tensors
        self.owner = threading.get_ident()  # the thread whose ops are recorded
        self._records: list[OpRecord] = []
        self._leaves: list[bytes] = []
        self._tensors: list[tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]] = []
        self._attrs: list[Mapping[str, Any] | None] = []
        # Content cache: (data_ptr, dtype, shape, strides, device) -> (tensor, version, root,
        # kept copy). A tensor read by many ops (a parameter, an activation, a saved tensor
        # that autograd hands back as a new Python object) is hashed once while unchanged.
        # The entry holds a strong reference, so its memory cannot be reused by another
        # tensor while the key is cached; oldest entries go first beyond `cache_bytes`.
        self._roots: dict[tuple, tuple[torch.Tensor, int, Any, torch.Tensor | None]] = {}
        self._cache_bytes = 0
        self.cache_limit = cache_bytes
        self._root_cache: bytes | None = None

    # -- recording
    def _commit(self, t: torch.Tensor, fresh: bool) -> tuple[bytes, torch.Tensor | None]:
        if not isinstance(t, torch.Tensor):
            raise RepOpsError("bad_record", f"ops record tensors, got {type(t).__name__}")
        try:
            version = t._version
        except RuntimeError:  # inference-mode tensors carry no version counter: never cached
            version = -1
        key = (t.data_ptr(), t.dtype, tuple(t.shape), tuple(t.stride()), t.device)
        if not fresh and version >= 0:
            hit = self._roots.get(key)
            # Views and detached aliases share the version counter of the tensor cached, so an
            # in-place write through any of them since it was hashed shows up here.
            if hit is not None and hit[0]._version == hit[1]:
                return hit[2], hit[3]
        root = merkle.tensor_root(t)
        kept = t.detach().clone() if self.keep_tensors else None
        if version >= 0:
            old = self._roots.pop(key, None)
            if old is not None:
                self._cache_bytes -= old[0].numel() * old[0].element_size()
            self._roots[key] = (t.detach(), version, root, kept)
            self._cache_bytes += t.numel() * t.element_size()
            while self._cache_bytes > self.cache_limit and self._roots:
                gone = self._roots.pop(next(iter(self._roots)))
                self._cache_bytes -= gone[0].numel() * gone[0].element_size()
        return root, kept

    def append(
        self,
        op: str,
        inputs: Sequence[torch.Tensor],
        outputs: Sequence[torch.Tensor],
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        # Outputs are always hashed afresh: an in-place op may return the very tensor object
        # it was given, and its version counter is not bumped when written through `.data`.
        ins = [self._commit(t, fresh=False) for t in inputs]
        outs = [self._commit(t, fresh=True) for t in outputs]
        rec = OpRecord(len(self._records), op, tuple(r for r, _ in ins), tuple(r for r, _ in outs), attrs_digest(attrs))
        self._records.append(rec)
        self._leaves.append(rec.hash)
        if self.keep_tensors:
            self._tensors.append((tuple(k for _, k in ins), tuple(k for _, k in outs)))
            self._attrs.append(dict(attrs) if attrs else None)
        self._root_cache = None

    def close(self) -> None:
        """Release the tensors the root cache kept alive (idempotent)."""
        self._roots.clear()

    # -- commitments
    @property
    def records(self) -> list[OpRecord]:
        return self._records

    @property
    def op_count(self) -> int:
        return len(self._records)

    @property
    def root(self) -> bytes:
        """sha256(0x04 || op count (8 bytes) || tree root over the record hashes)."""
        if self._root_cache is None:
            tree = merkle.tree_root_concat(b"".join(self._leaves))
            self._root_cache = trace_root_from_tree(len(self._leaves), tree)
        return self._root_cache

    def prove_record(self, index: int) -> RecordProof:
        records = self.records
        if not 0 <= index < len(records):
            raise RepOpsError("bad_index", f"op {index} of {len(records)}")
        return RecordProof(records[index], len(records), tuple(merkle.prove(self._leaves, index)))

    # -- openings (need keep_tensors=True)
    def _require_tensors(self) -> None:
        if not self.keep_tensors:
            raise RepOpsError("tensors_not_kept", "trace was recorded with keep_tensors=False")

    def open(self, index: int) -> OpOpening:
        """An op's record with its proof, its input and output tensors and its attrs."""
        self._require_tensors()
        proof = self.prove_record(index)
        ins, outs = self._tensors[index]
        return OpOpening(proof, ins, outs, self._attrs[index])

    def prove_element(self, index: int, side: str, position: int, flat_index: int) -> merkle.ElementProof:
        """Open element `flat_index` of input/output number `position` of op `index`; the proof
        verifies against the tensor root in that op's record (`record.input_roots[position]`
        or `output_roots[position]`)."""
        self._require_tensors()
        if side not in ("input", "output"):
            raise RepOpsError("bad_side", f"side is 'input' or 'output', got {side!r}")
        if not 0 <= index < len(self.records):
            raise RepOpsError("bad_index", f"op {index} of {len(self.records)}")
        tensors = self._tensors[index][0 if side == "input" else 1]
        if not 0 <= position < len(tensors):
            raise RepOpsError("bad_index", f"{side} {position} of {len(tensors)}")
        return merkle.prove_element(tensors[position], flat_index)


__all__ = [
    "OpOpening",
    "OpRecord",
    "RecordProof",
    "Tracer",
    "active",
    "attrs_digest",
    "canonical_attrs",
    "record",
    "tracing",
    "verify_record",
]
