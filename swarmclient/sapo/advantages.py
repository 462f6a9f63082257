"""Group-normalised advantages (GRPO style) for the SAPO update.

For the G completions of one prompt with rewards r_1..r_G:

    A_i = (r_i - mean(r)) / (std(r) + eps),   std with divisor G (population std)

A group whose rewards are all equal carries no learning signal: its advantages are exactly 0
(set explicitly, not left to rounding), and `is_zero_advantage` lets the batch builder drop it.

Advantages are inputs of the verified update and part of the batch digest, so every peer must
get the same bits. They are computed in float64 with math.fsum (an exactly rounded sum,
independent of summation order) and math.sqrt (correctly rounded by IEEE 754), so the result
does not depend on numpy's pairwise-sum blocking or on the platform, then rounded to float32
once (`advantages_f32`), which is what the update and the digest use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

from swarmclient.errors import SwarmError

DEFAULT_EPS = 1e-6

G = TypeVar("G")


def _checked(rewards: Sequence[float]) -> list[float]:
    if len(rewards) == 0:
        raise SwarmError("bad-rewards", "a group needs at least one reward")
    values = []
    for r in rewards:
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating, np.integer)):
            raise SwarmError("bad-rewards", f"reward {r!r} is not a number")
        value = float(r)
        if not math.isfinite(value):
            raise SwarmError("bad-rewards", f"reward {value} is not finite")
        values.append(value)
    return values


def is_zero_advantage(rewards: Sequence[float]) -> bool:
    """True when every reward of the group is equal (including a group of one)."""
    values = _checked(rewards)
    return all(v == values[0] for v in values)


def group_advantages(rewards: Sequence[float], eps: float = DEFAULT_EPS) -> list[float]:
    """(r - mean) / (std + eps) per completion, as float64; exactly 0.0 for a constant group."""
    if not (isinstance(eps, float | int) and math.isfinite(eps) and eps >= 0):
        raise SwarmError("bad-eps", f"eps must be a finite number >= 0, got {eps!r}")
    values = _checked(rewards)
    if all(v == values[0] for v in values):
        return [0.0] * len(values)
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n)
    if std + eps == 0.0:
        # Rewards a few ulps apart whose squared spread underflows, with eps = 0: no signal.
        return [0.0] * n
    return [(v - mean) / (std + eps) for v in values]


def advantages_f32(rewards: Sequence[float], eps: float = DEFAULT_EPS) -> np.ndarray:
    """group_advantages rounded once to float32 (round-to-nearest-even): the update's input."""
    return np.asarray(group_advantages(rewards, eps), dtype=np.float64).astype(np.float32)


def drop_zero_advantage(groups: Iterable[G], rewards_of: Callable[[G], Sequence[float]]) -> tuple[list[G], int]:
    """(groups that carry signal, number dropped), keeping the input order."""
    kept, dropped = [], 0
    for group in groups:
        if is_zero_advantage(rewards_of(group)):
            dropped += 1
        else:
            kept.append(group)
    return kept, dropped
