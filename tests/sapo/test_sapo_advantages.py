"""Group-normalised advantages: the maths and its determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from swarmclient.errors import SwarmError
from swarmclient.sapo import advantages_f32, drop_zero_advantage, group_advantages, is_zero_advantage

rewards = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=32)
varied = rewards.filter(lambda rs: len(set(rs)) > 1)
# Rewards on a grid (what verifiers return): spreads far from underflow.
grid = st.lists(st.integers(0, 1000).map(lambda k: k / 1000), min_size=2, max_size=32).filter(lambda rs: len(set(rs)) > 1)


@given(varied)
@example([1.1754943508222875e-38, 1.175494351e-38])
def test_zero_mean_unit_scale(rs):
    adv = group_advantages(rs, eps=0.0)
    if max(rs) - min(rs) < 1e-100:
        # Squared deviations underflow (documented): the group carries no signal, or only a
        # std computed from subnormals; found by hypothesis with rs = [0.0, 1.2e-180].
        assert all(math.isfinite(a) for a in adv)
        return
    # The mean is rounded once (error up to half an ulp of max(rs)); each advantage carries
    # that error divided by the spread, so rewards that differ only in their last digits
    # (hypothesis: [1.1754943508222875e-38, 1.175494351e-38]) are ill-conditioned.
    tolerance = max(1e-9, 8 * 2**-52 * max(rs) / (max(rs) - min(rs)))
    assert abs(math.fsum(adv)) <= tolerance * len(rs)
    assert math.sqrt(math.fsum(a * a for a in adv) / len(adv)) == pytest.approx(1.0, rel=tolerance * len(rs))


@given(varied)
def test_matches_the_formula(rs):
    arr = np.asarray(rs, dtype=np.float64)
    expected = (arr - arr.mean()) / (arr.std() + 1e-6)
    np.testing.assert_allclose(group_advantages(rs, eps=1e-6), expected, rtol=1e-9, atol=1e-9)


@given(st.floats(0.0, 1.0), st.integers(1, 32))
def test_constant_group_is_exactly_zero(value, size):
    rs = [value] * size
    assert is_zero_advantage(rs)
    assert group_advantages(rs) == [0.0] * size
    assert advantages_f32(rs).tobytes() == np.zeros(size, np.float32).tobytes()


def test_underflowing_spread_with_zero_eps_is_zero_not_a_crash():
    # Regression: the variance of [0, 3e-288] underflows to 0, which divided by zero.
    assert group_advantages([0.0, 3.0997296809960145e-288], eps=0.0) == [0.0, 0.0]


@given(grid, st.floats(0.01, 100.0), st.floats(-10.0, 10.0))
def test_scale_and_shift_invariance(rs, scale, shift):
    moved = [scale * r + shift for r in rs]
    assume(len(set(moved)) > 1)
    base = group_advantages(rs, eps=0.0)
    np.testing.assert_allclose(group_advantages(moved, eps=0.0), base, rtol=1e-6, atol=1e-6)


@given(varied)
def test_order_equivariance_and_ranking(rs):
    adv = group_advantages(rs)
    rev = group_advantages(rs[::-1])
    assert rev == adv[::-1], "summation must not depend on order"
    for (ra, aa), (rb, ab) in zip(zip(rs, adv), zip(rs[1:], adv[1:])):
        # Monotone (not strictly: rewards closer than rounding map to one advantage).
        assert aa <= ab if ra <= rb else aa >= ab


@given(varied)
def test_float32_is_one_rounding_of_float64(rs):
    f32 = advantages_f32(rs)
    assert f32.dtype == np.float32
    assert f32.tobytes() == np.asarray(group_advantages(rs), np.float64).astype(np.float32).tobytes()


def test_drop_zero_advantage_keeps_order():
    groups = [("a", [1.0, 0.0]), ("b", [0.5, 0.5]), ("c", [0.0, 0.2]), ("d", [1.0])]
    kept, dropped = drop_zero_advantage(groups, lambda g: g[1])
    assert [g[0] for g in kept] == ["a", "c"] and dropped == 2


@pytest.mark.parametrize("bad", [[], [float("nan"), 1.0], [float("inf")], ["1"], [None], [True, False]])
def test_bad_rewards_refused(bad):
    with pytest.raises(SwarmError) as err:
        group_advantages(bad)
    assert err.value.reason == "bad-rewards"


@pytest.mark.parametrize("eps", [-1e-6, float("nan"), float("inf"), "0"])
def test_bad_eps_refused(eps):
    with pytest.raises(SwarmError) as err:
        group_advantages([0.0, 1.0], eps=eps)
    assert err.value.reason == "bad-eps"
