"""Every primitive against its numpy reference, bit for bit, on arbitrary binary32 bit
patterns (subnormals, infinities, NaNs, signed zeros, every exponent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from repops import primitives as P
from repops import reference as R

SPECIALS = np.array(
    [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, 1.17549435e-38, 3.4028235e38,
     -3.4028235e38, 1.0, -1.0, 0.5, 2.0, 16777216.0, 16777217.0, 2.5, -2.5],
    dtype=np.float32,
)

# any 32-bit pattern, plus hypothesis' own float32 edge cases
bits32 = st.integers(0, 2**32 - 1).map(lambda b: np.uint32(b).view(np.float32))
f32 = st.one_of(bits32, st.floats(width=32), st.sampled_from(list(SPECIALS)))
vectors = hnp.arrays(np.float32, st.integers(1, 64), elements=f32)


def pair(n_max: int = 64):
    return st.integers(1, n_max).flatmap(
        lambda n: st.tuples(hnp.arrays(np.float32, n, elements=f32), hnp.arrays(np.float32, n, elements=f32))
    )


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


@settings(max_examples=150)
@given(pair())
def test_arithmetic_matches_reference(ab):
    a, b = ab
    for name in ("add", "sub", "mul", "div", "maximum", "minimum"):
        got = getattr(P, name)(t(a), t(b)).numpy()
        assert R.same_bits(got, getattr(R, name)(a, b)), name


def test_python_number_operands_use_ieee_division():
    """`3.0 / x` in torch is reciprocal(x) * 3 (not IEEE); P.div must not be."""
    x = np.random.default_rng(1).random(200_000, dtype=np.float32) * 100 + 1e-3
    assert R.same_bits(P.div(3.0, t(x)).numpy(), np.float32(3.0) / x)
    assert R.same_bits(P.div(t(x), 3.0).numpy(), x / np.float32(3.0))
    assert R.same_bits(P.sub(1.0, t(x)).numpy(), np.float32(1.0) - x)


def test_dense_random_bits_all_arithmetic():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    b = rng.integers(0, 2**32, 1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    for name in ("add", "sub", "mul", "div"):
        assert R.same_bits(getattr(P, name)(t(a), t(b)).numpy(), getattr(R, name)(a, b)), name


# P.sqrt (numpy's hardware sqrt on CPU) and P.sqrt_program (the torch program other devices
# run) are both checked here, on CPU.
SQRTS = pytest.mark.parametrize("sqrt", [P.sqrt, P.sqrt_program], ids=["sqrt", "sqrt_program"])


@SQRTS
def test_sqrt_correctly_rounded_on_random_bits_and_specials(sqrt):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32), SPECIALS])
    got = sqrt(t(x)).numpy()
    assert R.same_bits(got, R.sqrt(x))
    # the IEEE specials: sqrt(-0) = -0, sqrt(+inf) = +inf, sqrt(negative) = NaN
    s = sqrt(t(np.array([-0.0, 0.0, np.inf, -1.0, -np.inf], np.float32))).numpy()
    assert np.signbit(s[0]) and s[0] == 0 and not np.signbit(s[1]) and s[2] == np.inf
    assert np.isnan(s[3]) and np.isnan(s[4])


@SQRTS
def test_sqrt_dense_in_1_to_4(sqrt):
    """Every 3rd float32 in [1, 4): both exponent parities (sqrt's rounding pattern repeats
    with period 4 in x), 5.6M results."""
    lo, hi = np.float32(1.0).view(np.int32), np.float32(4.0).view(np.int32)
    x = np.arange(lo, hi, 3, dtype=np.int32).view(np.float32)
    assert R.same_bits(sqrt(t(x)).numpy(), R.sqrt(x))


@SQRTS
@given(vectors)
def test_sqrt_property(sqrt, x):
    assert R.same_bits(sqrt(t(x)).numpy(), R.sqrt(x))


def test_max_min_nan_and_zero_rules():
    a = t(np.array([0.0, -0.0, np.nan, 1.0, -np.inf], np.float32))
    b = t(np.array([-0.0, 0.0, 1.0, np.nan, np.inf], np.float32))
    mx = P.maximum(a, b).numpy()
    # a > b ? a : b  -> max(+0, -0) = -0 (b), max(-0, +0) = +0 (b)
    assert np.signbit(mx[0]) and not np.signbit(mx[1])
    assert np.isnan(mx[2]) and np.isnan(mx[3]) and mx[4] == np.inf
    mn = P.minimum(a, b).numpy()
    assert np.isnan(mn[2]) and np.isnan(mn[3]) and mn[4] == -np.inf


@given(hnp.arrays(np.float32, st.integers(1, 64), elements=st.floats(-2.0**31 + 256, 2.0**31 - 256, width=32)))
def test_conversions(x):
    assert np.array_equal(P.f32_to_i32(t(x)).numpy(), R.f32_to_i32(x))
    i = np.clip(R.f32_to_i32(x), -(2**24), 2**24).astype(np.int32)
    assert R.same_bits(P.i32_to_f32(torch.from_numpy(i)).numpy(), R.i32_to_f32(i))


def test_round_half_even():
    x = t(np.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.5000002], np.float32))
    assert P.f32_to_i32(x).tolist() == [0, 2, 2, 0, -2, 4]


@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=32), st.integers(0, 31))
def test_integer_bit_ops(values, n):
    a = np.array(values, np.int32)
    b = a[::-1].copy()
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert np.array_equal(P.iand(ta, tb).numpy(), a & b)
    assert np.array_equal(P.ior(ta, tb).numpy(), a | b)
    assert np.array_equal(P.iadd(ta, tb).numpy(), (a.astype(np.int64) + b).astype(np.int32))
    assert np.array_equal(P.isub(ta, tb).numpy(), (a.astype(np.int64) - b).astype(np.int32))
    assert np.array_equal(P.shr(ta, n).numpy(), a >> n)
    assert np.array_equal(P.shl(ta, n).numpy(), (a.astype(np.int64) << n).astype(np.uint64).astype(np.uint32).view(np.int32))
    assert np.array_equal(P.bitcast_i32_f32(ta).numpy().view(np.int32), a)
    assert np.array_equal(P.bitcast_f32_i32(P.bitcast_i32_f32(ta)).numpy(), a)


@given(st.lists(st.integers(-1022, 1023), min_size=1, max_size=32))
def test_pow2_exact(ns):
    got = P.pow2(torch.tensor(ns)).numpy()
    assert np.array_equal(got, np.ldexp(1.0, np.array(ns, np.int32)))
