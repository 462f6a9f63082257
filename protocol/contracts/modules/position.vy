# pragma version ~=0.4.3
"""
@title position: index maths of the k-ary bisection
@notice A dispute at one level is an index range [lo, hi] over a sequence of 32-byte hashes
        with the hash at `lo` agreed and the hash at `hi` disputed. One round splits the range
        into `parts(lo, hi)` sub-ranges whose inner boundaries the defender reveals; the
        challenger then names the first sub-range it disputes.
@dev    Pure functions only, so they are unit-tested on their own (tests/contracts/
        test_position.py) and the client mirrors them exactly (protocol/chain/position.py).
"""

# At most this many sub-ranges per round: 7 revealed hashes narrow the range 8-fold.
ARITY: constant(uint256) = 8
MAX_POINTS: constant(uint256) = 7


@internal
@pure
def width(lo: uint256, hi: uint256) -> uint256:
    # INVARIANT: callers keep lo < hi, so this never underflows.
    return hi - lo


@internal
@pure
def parts(lo: uint256, hi: uint256) -> uint256:
    """@notice Number of sub-ranges one round splits [lo, hi] into (2..ARITY; 1 at a leaf)."""
    return min(hi - lo, ARITY)


@internal
@pure
def boundary(lo: uint256, hi: uint256, j: uint256) -> uint256:
    """@notice Position of the j-th boundary (j = 0 is lo, j = parts is hi)."""
    return lo + (hi - lo) * j // min(hi - lo, ARITY)


@internal
@pure
def is_leaf(lo: uint256, hi: uint256) -> bool:
    """@notice True when the range is one transition: nothing left to bisect at this level."""
    return hi - lo == 1
