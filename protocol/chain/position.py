"""Mirror of protocol/contracts/modules/position.vy: the k-ary bisection's index maths.

A level's dispute range is [lo, hi] (hash at lo agreed, at hi disputed). One round splits it
into `parts(lo, hi)` sub-ranges; the defender reveals the inner boundaries
`boundary(lo, hi, j)` for j = 1 .. parts-1, and the challenger names the first sub-range
whose right end it disputes.
"""

from __future__ import annotations

ARITY = 8
MAX_POINTS = ARITY - 1


def parts(lo: int, hi: int) -> int:
    return min(hi - lo, ARITY)


def boundary(lo: int, hi: int, j: int) -> int:
    return lo + (hi - lo) * j // parts(lo, hi)


def inner_boundaries(lo: int, hi: int) -> list[int]:
    """Positions whose hashes a reveal must carry, in order."""
    return [boundary(lo, hi, j) for j in range(1, parts(lo, hi))]


def is_leaf(lo: int, hi: int) -> bool:
    return hi - lo == 1


def rounds_to_leaf(length: int) -> int:
    """Reveal/choose rounds needed to narrow [0, length] to one transition (worst case)."""
    lo, hi, rounds = 0, length, 0
    while hi - lo > 1:
        # the widest sub-range is the worst case
        widths = [boundary(lo, hi, j + 1) - boundary(lo, hi, j) for j in range(parts(lo, hi))]
        hi = lo + max(widths)
        rounds += 1
    return rounds
