# pragma version ~=0.4.3
"""
@title assembly: the last transition of a step, op records -> the checkpoint after
@notice A checkpoint (docs/commitments.md) is the tree of its sorted (name, tensor root)
        entries. After a step every parameter X, X.exp_avg and X.exp_avg_sq is output 0, 1, 2
        of the step's `adamw` record whose inputs 0, 2, 3 are their roots before the step, and
        `step` (an int64 scalar) is one more. `Game.prove_assembly` rebuilds the checkpoint
        after from the agreed checkpoint before and the agreed op records with these helpers.
"""

from lib import merkle

MAX_ENTRIES: constant(uint256) = 128
MAX_PARAMS: constant(uint256) = 48

struct Entry:
    name: Bytes[256]
    root: bytes32


@internal
@pure
def checkpoint_hash(entries: DynArray[Entry, MAX_ENTRIES], roots: DynArray[bytes32, MAX_ENTRIES]) -> bytes32:
    """@notice The checkpoint hash of `entries`' names with `roots` (commitments.md)."""
    level: bytes32[MAX_ENTRIES] = empty(bytes32[MAX_ENTRIES])
    n: uint256 = len(entries)
    for t: uint256 in range(MAX_ENTRIES):
        if t >= n:
            break
        level[t] = merkle.checkpoint_entry(entries[t].name, roots[t])
    size: uint256 = 1
    for t: uint256 in range(8):
        if size >= n:
            break
        size *= 2
    # leaves beyond n are ZERO; every inner node is hashed (a node over padding is not ZERO)
    for t: uint256 in range(8):
        if size <= 1:
            break
        size //= 2
        for j: uint256 in range(MAX_ENTRIES // 2):
            if j >= size:
                break
            level[j] = merkle.inner(level[2 * j], level[2 * j + 1])
    tree: bytes32 = level[0]
    if n == 0:
        tree = empty(bytes32)
    return merkle.checkpoint_root(convert(n, uint64), tree)


@internal
@pure
def int64_scalar_root(v: uint256) -> bytes32:
    """@notice Tensor root of an int64 scalar (the checkpoint's `step`)."""
    return merkle.tensor_root(b"\x03\x00", merkle.chunk_leaf(merkle.le64(v)))


@internal
@pure
def is_moment_of(moment: Bytes[256], name: Bytes[256], suffix: Bytes[12]) -> bool:
    """@notice moment == name || suffix."""
    if len(moment) != len(name) + len(suffix):
        return False
    return keccak256(moment) == keccak256(concat(name, suffix))
