"""The moves of an honest player as tiny pure functions (no chain, no torch).

Each takes what the player knows (its own hashes, what the other side revealed) and returns
the move's arguments. Property-tested in tests/verde/test_strategy.py.
"""

from __future__ import annotations

from typing import Callable, Sequence

from protocol.chain.position import inner_boundaries, parts


def reveal_points(lo: int, hi: int, hash_at: Callable[[int], bytes]) -> list[bytes]:
    """Claimant: its hashes at the inner boundaries of [lo, hi]."""
    return [hash_at(p) for p in inner_boundaries(lo, hi)]


def disputed_part(lo: int, hi: int, revealed: Sequence[bytes], hash_at: Callable[[int], bytes]) -> int:
    """Challenger: the first sub-range whose right end differs from its own hash (the last
    sub-range when every revealed boundary agrees: the disputed end is h_hi itself)."""
    for j, (theirs, p) in enumerate(zip(revealed, inner_boundaries(lo, hi))):
        if hash_at(p) != theirs:
            return j
    return parts(lo, hi) - 1


def first_difference(ours: Sequence[int], theirs: Sequence[int]) -> int | None:
    """The first index where two equally long sequences differ, or None."""
    if len(ours) != len(theirs):
        raise ValueError("sequences of different lengths")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return i
    return None


def timed_out(left: int, since_last_move: int) -> bool:
    """The side to move has used up its clock (Game.timeout's strict rule)."""
    return since_last_move > left


__all__ = ["disputed_part", "first_difference", "reveal_points", "timed_out"]
