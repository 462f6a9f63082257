"""SHA-256 Merkle trees over tensors, exactly as docs/commitments.md specifies.

A tensor root commits to dtype, shape and canonical little-endian bytes, chunked in 256-element
leaves so that one element can be opened with a logarithmic proof (the dispute game needs
that). The same generic tree (`tree_root`, `prove`, `verify`) is used for trace records and
checkpoint entries.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from repops.errors import RepOpsError

ZERO = bytes(32)
CHUNK_ELEMENTS = 256

TAG_LEAF = b"\x00"
TAG_NODE = b"\x01"
TAG_TENSOR = b"\x02"
TAG_RECORD = b"\x03"
TAG_TRACE = b"\x04"
TAG_ENTRY = b"\x05"
TAG_CHECKPOINT = b"\x06"

# dtype -> (code, numpy dtype of the canonical little-endian bytes)
_DTYPES: dict[torch.dtype, tuple[int, np.dtype]] = {
    torch.float32: (1, np.dtype("<f4")),
    torch.int32: (2, np.dtype("<i4")),
    torch.int64: (3, np.dtype("<i8")),
    torch.uint8: (4, np.dtype("u1")),
    torch.bool: (5, np.dtype("u1")),
}
_CODES = {code: (dt, np_dt) for dt, (code, np_dt) in _DTYPES.items()}
CANONICAL_NAN_BITS = 0x7FC00000
_LITTLE = sys.byteorder == "little"
_sha256 = hashlib.sha256


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(TAG_NODE + left + right).digest()


# Roots of all-ZERO subtrees by height; padding the leaf level with ZERO makes every inner
# node above pure padding one of these, so they are computed once instead of per tree.
_ZERO_SUBTREE = [ZERO]
for _ in range(64):
    _ZERO_SUBTREE.append(_node(_ZERO_SUBTREE[-1], _ZERO_SUBTREE[-1]))


def tree_depth(n: int) -> int:
    """ceil(log2(max(n, 1))): the number of siblings in a proof for a tree of n leaves."""
    return (max(n, 1) - 1).bit_length()


def _level_up(level: bytes, height: int) -> bytes:
    """Hash one level (concatenated 32-byte nodes) into the next, padding with the
    all-ZERO subtree root of this height when the count is odd."""
    count = len(level) // 32
    if count % 2:
        level += _ZERO_SUBTREE[height]
        count += 1
    # One buffer of (tag || left || right) rows, hashed row by row through memoryview
    # slices: no per-node bytes concatenation.
    rows = np.empty((count // 2, 65), dtype=np.uint8)
    rows[:, 0] = 1
    rows[:, 1:] = np.frombuffer(level, dtype=np.uint8).reshape(count // 2, 64)
    view = memoryview(rows).cast("B")
    return b"".join([_sha256(view[i : i + 65]).digest() for i in range(0, len(view), 65)])


def tree_root_concat(leaves: bytes) -> bytes:
    """tree_root over leaf hashes given as one concatenated bytes string."""
    n = len(leaves) // 32
    if n == 0:
        return ZERO
    level, height = leaves, 0
    while len(level) > 32:
        level = _level_up(level, height)
        height += 1
    # Padding up to the next power of two only adds ZERO subtrees on the right; when n is
    # already a power of two the loop above has reached the root.
    return level


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the complete binary tree over `leaves` padded with ZERO to a power of two."""
    for leaf in leaves:
        if len(leaf) != 32:
            raise RepOpsError("bad_leaf", f"leaf hashes are 32 bytes, got {len(leaf)}")
    return tree_root_concat(b"".join(leaves))


def prove(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from the leaf level up for leaf `index`."""
    n = len(leaves)
    if not 0 <= index < n:
        raise RepOpsError("bad_index", f"leaf {index} of {n}")
    siblings: list[bytes] = []
    level = b"".join(leaves)
    i, height = index, 0
    while len(level) > 32:
        count = len(level) // 32
        j = i ^ 1
        siblings.append(level[32 * j : 32 * j + 32] if j < count else _ZERO_SUBTREE[height])
        level = _level_up(level, height)
        i //= 2
        height += 1
    return siblings


def root_from_proof(leaf: bytes, index: int, siblings: Sequence[bytes]) -> bytes:
    node = leaf
    for k, sibling in enumerate(siblings):
        if len(sibling) != 32:
            raise RepOpsError("bad_proof", "sibling hashes are 32 bytes")
        node = _node(sibling, node) if (index >> k) & 1 else _node(node, sibling)
    return node


def verify(root: bytes, leaf: bytes, index: int, n: int, siblings: Sequence[bytes]) -> bool:
    """True when `leaf` is leaf `index` of an n-leaf tree with this root."""
    if not 0 <= index < n or len(siblings) != tree_depth(n) or len(leaf) != 32:
        return False
    try:
        return root_from_proof(leaf, index, siblings) == root
    except RepOpsError:
        return False


# ---------------------------------------------------------------------------------- tensors


def dtype_code(dtype: torch.dtype) -> int:
    try:
        return _DTYPES[dtype][0]
    except KeyError:
        raise RepOpsError("unsupported_dtype", f"no commitment format for {dtype}") from None


def header(tensor: torch.Tensor) -> bytes:
    """dtype code (1 byte) || ndim (1 byte) || each dim as 8 bytes little-endian."""
    shape = tuple(tensor.shape)
    if len(shape) > 255:
        raise RepOpsError("bad_shape", "more than 255 dimensions")
    out = bytes([dtype_code(tensor.dtype), len(shape)])
    return out + b"".join(int(d).to_bytes(8, "little") for d in shape)


def parse_header(data: bytes) -> tuple[torch.dtype, tuple[int, ...]]:
    if len(data) < 2 or data[0] not in _CODES or len(data) != 2 + 8 * data[1]:
        raise RepOpsError("bad_header", f"malformed tensor header ({len(data)} bytes)")
    shape = tuple(int.from_bytes(data[2 + 8 * k : 10 + 8 * k], "little") for k in range(data[1]))
    return _CODES[data[0]][0], shape


def canonical_array(tensor: torch.Tensor) -> np.ndarray:
    """The tensor's canonical elements as a flat little-endian numpy array (a view when the
    tensor is already contiguous on the CPU and has no NaN to rewrite)."""
    np_dtype = _DTYPES.get(tensor.dtype, (0, None))[1]
    if np_dtype is None:
        raise RepOpsError("unsupported_dtype", f"no commitment format for {tensor.dtype}")
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == torch.bool:
        t = t.view(torch.uint8)
    arr = t.contiguous().reshape(-1).numpy()
    if arr.dtype == np.float32 and arr.size and np.isnan(arr).any():
        # NaN payloads and signs differ between CPUs and GPUs: commit to one NaN. (numpy's
        # isnan: torch.isnan(...).any() was 100x slower here, on a busy 2-core machine.)
        arr = arr.copy()
        arr.view(np.uint32)[np.isnan(arr)] = CANONICAL_NAN_BITS
    if not _LITTLE:  # pragma: no cover - every supported CPU is little-endian today
        arr = arr.astype(np_dtype)
    return arr


def chunk_leaves(arr: np.ndarray) -> bytes:
    """Concatenated leaf hashes sha256(0x00 || chunk) of a flat canonical array."""
    n = arr.size
    if n == 0:
        return b""
    width = arr.itemsize * CHUNK_ELEMENTS
    full = n // CHUNK_ELEMENTS
    raw = arr.view(np.uint8)
    out = []
    if full:
        # One copy into rows of (tag || chunk), then one hashlib call per row on a memoryview
        # slice: the per-chunk Python cost is what limits tracing speed, so keep it minimal.
        rows = np.empty((full, width + 1), dtype=np.uint8)
        rows[:, 0] = 0
        rows[:, 1:] = raw[: full * width].reshape(full, width)
        view = memoryview(rows).cast("B")
        step = width + 1
        out = [_sha256(view[i : i + step]).digest() for i in range(0, len(view), step)]
    if n % CHUNK_ELEMENTS:
        out.append(_sha256(TAG_LEAF + raw[full * width :].tobytes()).digest())
    return b"".join(out)


def root_of_array(head: bytes, arr: np.ndarray) -> bytes:
    """Tensor root from a header and the flat canonical array it describes."""
    return _sha256(TAG_TENSOR + head + tree_root_concat(chunk_leaves(arr))).digest()


def tensor_root(tensor: torch.Tensor) -> bytes:
    """sha256(0x02 || header || tree root over the 256-element chunk leaves)."""
    return root_of_array(header(tensor), canonical_array(tensor))


@dataclass(frozen=True)
class ElementProof:
    """Opens element `flat_index` of a committed tensor: its chunk's bytes, the chunk's
    Merkle path, and the header (dtype, shape) that the root also commits to."""

    header: bytes
    chunk_bytes: bytes
    chunk_index: int
    flat_index: int
    siblings: tuple[bytes, ...]


def prove_element(tensor: torch.Tensor, flat_index: int) -> ElementProof:
    arr = canonical_array(tensor)
    if not 0 <= flat_index < arr.size:
        raise RepOpsError("bad_index", f"element {flat_index} of {arr.size}")
    leaves = chunk_leaves(arr)
    chunk = flat_index // CHUNK_ELEMENTS
    leaf_list = [leaves[i : i + 32] for i in range(0, len(leaves), 32)]
    raw = arr[chunk * CHUNK_ELEMENTS : (chunk + 1) * CHUNK_ELEMENTS].tobytes()
    return ElementProof(header(tensor), raw, chunk, flat_index, tuple(prove(leaf_list, chunk)))


def verify_element(root: bytes, proof: ElementProof) -> float | int | bool:
    """Check an element proof against a tensor root and return the element's value
    (a Python float holding the exact float32 value, an int, or a bool).
    Raises RepOpsError('bad_proof') when anything does not match."""
    dtype, shape = parse_header(proof.header)
    numel = 1
    for d in shape:
        numel *= d
    np_dtype = _DTYPES[dtype][1]
    n_chunks = -(-numel // CHUNK_ELEMENTS)
    chunk = proof.chunk_index
    if not 0 <= proof.flat_index < numel or proof.flat_index // CHUNK_ELEMENTS != chunk:
        raise RepOpsError("bad_proof", "element index outside the tensor or its chunk")
    expected = min(CHUNK_ELEMENTS, numel - chunk * CHUNK_ELEMENTS) * np_dtype.itemsize
    if len(proof.chunk_bytes) != expected:
        raise RepOpsError("bad_proof", f"chunk has {len(proof.chunk_bytes)} bytes, expected {expected}")
    leaf = _sha256(TAG_LEAF + proof.chunk_bytes).digest()
    if len(proof.siblings) != tree_depth(n_chunks):
        raise RepOpsError("bad_proof", "wrong proof length")
    tree = root_from_proof(leaf, chunk, proof.siblings)
    if _sha256(TAG_TENSOR + proof.header + tree).digest() != root:
        raise RepOpsError("bad_proof", "element proof does not match the tensor root")
    values = np.frombuffer(proof.chunk_bytes, dtype=np_dtype)
    value = values[proof.flat_index - chunk * CHUNK_ELEMENTS]
    if dtype == torch.bool:
        return bool(value)
    return float(value) if dtype == torch.float32 else int(value)
