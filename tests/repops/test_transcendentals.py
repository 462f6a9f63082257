"""exp, log, tanh, GELU (and GELU's derivative): bit-identical to the numpy reference, and
within 1 ULP of the float64 function over the whole float32 range, densely near the special
points, with the specified special values. Measured maxima: exp, log, gelu, gelu_grad
0.5 + 1e-7 ulp; tanh 0.5012 ulp (the binary64 exp's 2**-39 error, amplified near |x| = 2**-10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from repops import reference as R
from repops.ops import kernels as K

OPS = ("exp", "log", "tanh", "gelu", "gelu_grad")
# ulp bounds asserted (all inside the 1-ulp requirement); measured values in the docstring
BOUNDS = {"exp": 0.5 + 2.0**-15, "log": 0.5 + 2.0**-15, "tanh": 0.5 + 2.0**-8, "gelu": 0.5 + 2.0**-15,
          "gelu_grad": 0.5 + 2.0**-10}


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def truth(name: str, x: np.ndarray) -> np.ndarray:
    """float64 values of the function (libm), in forms without cancellation."""
    with np.errstate(all="ignore"):
        xd = x.astype(np.float64)
        if name == "exp":
            return np.exp(xd)
        if name == "log":
            return np.log(xd)
        if name == "tanh":
            return np.tanh(xd)
        v = -2 * R.GELU_C0 * (xd + R.GELU_C1 * xd**3)
        if name == "gelu":
            return xd / (1 + np.exp(v))
        q = np.exp(v)
        return 1 / (1 + q) + xd * (q / (1 + q) ** 2) * 2 * R.GELU_C0 * (1 + 3 * R.GELU_C1 * xd * xd)


def ulp_error(y: np.ndarray, exact: np.ndarray) -> float:
    """max |y - exact| in units of the float32 ulp at exact (2**-149 below the normal range)."""
    ok = np.isfinite(exact) & (np.abs(exact) < 3.4028235e38)
    if not ok.any():
        return 0.0
    e = exact[ok]
    ex = np.frexp(np.maximum(np.abs(e), 2.0**-126))[1] - 1  # exact in [2**ex, 2**(ex+1))
    ulp = np.ldexp(1.0, ex - 23)
    return float(np.max(np.abs(y[ok].astype(np.float64) - e) / ulp))


def sample_inputs() -> np.ndarray:
    rng = np.random.default_rng(11)
    every_exponent = rng.integers(0, 2**32, 1_500_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    near = []
    for p in (0.0, 1.0, -1.0, 88.72, -87.33, -103.28, 9.01, 2.0**-10, 0.55):
        base = np.float32(p).view(np.int32)
        near.append((base + np.arange(-20_000, 20_000, dtype=np.int32)).view(np.float32))
    near.append(np.linspace(-120, 100, 400_000, dtype=np.float32))
    return np.concatenate([every_exponent, *near])


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    return sample_inputs()


@pytest.mark.parametrize("name", OPS)
def test_bits_equal_reference_and_within_one_ulp(name, inputs):
    y = getattr(K, name)(t(inputs)).numpy()
    assert R.same_bits(y, getattr(R, name)(inputs))
    err = ulp_error(y, truth(name, inputs))
    assert err <= BOUNDS[name], err


@given(hnp.arrays(np.float32, st.integers(1, 32), elements=st.floats(width=32)))
def test_property_bits_equal_reference(x):
    for name in OPS:
        assert R.same_bits(getattr(K, name)(t(x)).numpy(), getattr(R, name)(x)), name


def test_special_values():
    x = t(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e-45, 89.0, -104.0], np.float32))
    e = K.exp(x).numpy()
    assert np.isnan(e[0]) and e[1] == np.inf and e[2] == 0 and not np.signbit(e[2])
    assert e[3] == 1 and e[4] == 1 and e[6] == 1 and e[7] == np.inf and e[8] == 0
    lg = K.log(x).numpy()
    assert np.isnan(lg[0]) and lg[1] == np.inf and np.isnan(lg[2]) and lg[3] == -np.inf and lg[4] == -np.inf
    assert np.isnan(lg[5]) and lg[6] == np.float32(np.log(np.float64(np.float32(1e-45))))
    th = K.tanh(x).numpy()
    assert np.isnan(th[0]) and th[1] == 1 and th[2] == -1 and th[3] == 0 and not np.signbit(th[3])
    assert th[4] == 0 and np.signbit(th[4]) and th[6] == np.float32(1e-45)
    ge = K.gelu(x).numpy()
    assert np.isnan(ge[0]) and ge[1] == np.inf and ge[2] == 0 and np.signbit(ge[2]) and ge[3] == 0
    gg = K.gelu_grad(x).numpy()
    assert np.isnan(gg[0]) and gg[1] == 1 and gg[2] == 0 and gg[3] == 0.5


def test_subnormal_results_exp():
    x = np.linspace(-103.9, -87.4, 100_000, dtype=np.float32)  # results 2**-150 .. 2**-126
    y = K.exp(t(x)).numpy()
    assert ulp_error(y, np.exp(x.astype(np.float64))) <= BOUNDS["exp"]
