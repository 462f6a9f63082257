"""The numpy reference of every RepOps primitive and composite: THE SPECIFICATION.

Written independently of the torch code in repops.primitives / repops.ops.kernels (numpy's
float32/float64 + - * / are IEEE round-to-nearest-even; square roots come from numpy's
hardware sqrt; the matmul's integer sum is done in int64, not in a float GEMM), so tests that
compare the two bit for bit check the torch implementation against an independent machine.
Every function takes and returns numpy arrays (float32 unless stated). NaN bits are not part
of the semantics (compare with `same_bits`).
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32
F64 = np.float64

# the same binary64 constants as repops.ops.kernels (re-derived here, not imported)
LN2_HI = float.fromhex("0x1.62e42feep-1")
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
LN2 = float.fromhex("0x1.62e42fefa39efp-1")
INV_LN2 = float.fromhex("0x1.71547652b82fep0")
SQRT_HALF = float.fromhex("0x1.6a09e667f3bcdp-1")
EXP_COEFFS = tuple(1 / math.factorial(n) for n in range(10, -1, -1))
LOG_COEFFS = tuple(1 / (2 * n + 1) for n in range(7, -1, -1))
GELU_C0 = float.fromhex("0x1.9884533d43651p-1")
GELU_C1 = 0.044715


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit equality with every NaN canonical (the commitment's rule)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    an, bn = np.isnan(a), np.isnan(b)
    ia = a.view(np.int32 if a.dtype == F32 else np.int64)
    ib = b.view(ia.dtype)
    return bool(np.array_equal(an, bn) and np.array_equal(np.where(an, 0, ia), np.where(bn, 0, ib)))


def _quiet():
    return np.errstate(all="ignore")


# ------------------------------------------------------------------------------ primitives


def add(a, b):
    with _quiet():
        return np.add(a, b)


def sub(a, b):
    with _quiet():
        return np.subtract(a, b)


def mul(a, b):
    with _quiet():
        return np.multiply(a, b)


def div(a, b):
    with _quiet():
        return np.divide(a, b)


def sqrt(x):
    """Correctly rounded: binary64 sqrt (hardware, correctly rounded) then narrowing; double
    rounding is harmless for sqrt since 53 >= 2 * 24 + 2 (Figueroa)."""
    with _quiet():
        return np.sqrt(x.astype(F64)).astype(F32)


def maximum(a, b):
    with _quiet():
        out = np.where(a > b, a, b)
    return np.where(np.isnan(a) | np.isnan(b), np.array(np.nan, a.dtype), out)


def minimum(a, b):
    with _quiet():
        out = np.where(a < b, a, b)
    return np.where(np.isnan(a) | np.isnan(b), np.array(np.nan, a.dtype), out)


def relu(x):
    """maximum(x, +0): NaN -> NaN, -0 -> +0 (maximum's operand order), else x or +0."""
    return maximum(x, np.zeros((), x.dtype))


def relu_backward(g, x):
    """where(x > 0, g, +0)."""
    return np.where(x > 0, g, np.zeros((), g.dtype))


def f32_to_i32(x):
    return np.rint(x).astype(np.int32)  # rint: ties to even


def i32_to_f32(i):
    return i.astype(F32)


def pow2(n):
    return np.ldexp(1.0, np.asarray(n, dtype=np.int64).astype(np.int32))


# ------------------------------------------------------------------------------ reductions


def tree_sum(x, axis=-1, keepdims=False):
    x = np.moveaxis(np.asarray(x), axis, -1)
    n = x.shape[-1]
    n2 = 1 << max(0, (n - 1).bit_length())
    pad = np.full(x.shape[:-1] + (n2 - n,), -0.0, dtype=x.dtype)
    v = np.concatenate([x, pad], axis=-1)
    with _quiet():
        while v.shape[-1] > 1:
            h = v.shape[-1] // 2
            v = v[..., :h] + v[..., h:]
    out = np.moveaxis(v, -1, axis)
    return out if keepdims else np.squeeze(out, axis=axis)


def amax(x, axis=-1, keepdims=False):
    """Sequential maximum(), then + 0.0 (the spec's left-to-right order)."""
    x = np.moveaxis(np.asarray(x), axis, -1)
    m = x[..., 0]
    for k in range(1, x.shape[-1]):
        m = maximum(m, x[..., k])
    m = add(m, x.dtype.type(0.0))
    m = m[..., None]
    out = np.moveaxis(m, -1, axis)
    return out if keepdims else np.squeeze(out, axis=axis)


def matmul_slice_bits(k: int) -> int:
    return min(24, (53 - max(0, (k - 1).bit_length())) // 2)


def matmul(a, b):
    """Exact integer dot products of s-bit slices (see repops.ops.kernels.matmul); the sum
    is done in int64 (exact), independently of any float GEMM."""
    a = np.asarray(a, F32)
    b = np.asarray(b, F32)
    k = a.shape[-1]
    s = matmul_slice_bits(k)
    with _quiet():
        am = np.max(np.abs(a.astype(F64)), axis=-1, keepdims=True)
        bm = np.max(np.abs(b.astype(F64)), axis=-2, keepdims=True)
    bad_a, bad_b = ~np.isfinite(am), ~np.isfinite(bm)
    ea = np.frexp(np.where(bad_a, 0.0, am))[1].astype(np.int64)
    eb = np.frexp(np.where(bad_b, 0.0, bm))[1].astype(np.int64)
    with _quiet():
        ai = np.rint(np.where(np.isfinite(a), a, 0).astype(F64) * pow2(s - ea)).astype(np.int64)
        bi = np.rint(np.where(np.isfinite(b), b, 0).astype(F64) * pow2(s - eb)).astype(np.int64)
    acc = np.matmul(ai, bi)  # int64, exact: |acc| <= 2**53
    with _quiet():
        y = ((acc.astype(F64) * pow2(ea - s)) * pow2(eb - s)).astype(F32) + F32(0.0)
    return np.where(bad_a | bad_b, F32(np.nan), y)


# ------------------------------------------------------------------------ transcendentals


def _exp_table() -> tuple[float, ...]:
    """2**(j/32), j < 32, correctly rounded: 50-digit decimal power, then float() (which
    rounds a decimal string correctly)."""
    import decimal

    ctx = decimal.Context(prec=50)
    return tuple(float(ctx.power(decimal.Decimal(2), decimal.Decimal(j) / 32)) for j in range(32))


EXP_TABLE = np.array(_exp_table())
EXP_INV_L = float.fromhex("0x1.71547652b82fep5")


def exp64(x):
    """k = rint(x * 32/ln2); r = (x - k*L_hi) - k*L_lo; p = degree-4 Taylor Horner;
    (T[k mod 32] * p) * 2**floor(k/32)."""
    x = np.clip(x, -700.0, 700.0)
    k = np.rint(x * EXP_INV_L)
    r = (x - k * (LN2_HI / 32)) - k * (LN2_LO / 32)
    p = ((((r * (1 / 24) + 1 / 6) * r + 1 / 2) * r + 1.0) * r) + 1.0
    ki = k.astype(np.int64)
    return (EXP_TABLE[ki & 31] * p) * pow2(ki >> 5)


def exp(x):
    nan = np.isnan(x)
    with _quiet():
        y = exp64(np.where(nan, 0, x).astype(F64)).astype(F32)
    return np.where(nan, x, y)


def log(x):
    with _quiet():
        ok = (x > 0) & (x < np.inf)
        xd = np.where(ok, x, F32(1)).astype(F64)
        m, e = np.frexp(xd)
        small = m < SQRT_HALF
        m = np.where(small, m * 2.0, m)
        e = np.where(small, e - 1, e).astype(F64)
        f = m - 1.0
        s = f / (f + 2.0)
        z = s * s
        q = np.full_like(z, LOG_COEFFS[0])
        for c in LOG_COEFFS[1:]:
            q = q * z + c
        y = (e * LN2 + (s * 2.0) * q).astype(F32)
        y = np.where(x == 0, F32(-np.inf), np.where(x == np.inf, x, y))
        return np.where((x < 0) | np.isnan(x), F32(np.nan), y)


def tanh(x):
    nan = np.isnan(x)
    with _quiet():
        a = np.minimum(np.abs(np.where(nan, 0, x).astype(F64)), 20.0)
        a2 = a * a
        poly = a + (a2 * a) * (-1 / 3 + a2 * (2 / 15))
        big = 1.0 - 2.0 / (exp64(a * 2.0) + 1.0)
        t = np.where(a < 2.0**-10, poly, big).astype(F32)
    t = np.copysign(t, x)  # copies the sign bit, like the torch program's bit-or
    return np.where(nan, x, t)


def _gelu_parts(x):
    xd = x.astype(F64)
    inner = xd + ((xd * xd) * xd) * GELU_C1
    q = exp64((inner * GELU_C0) * -2.0)
    return xd, q, q + 1.0


def gelu(x):
    nan = np.isnan(x)
    with _quiet():
        xd, _, den = _gelu_parts(np.where(nan | (x == -np.inf), F32(0), x))
        y = (xd / den).astype(F32)
    y = np.where(x == -np.inf, F32(-0.0), y)
    return np.where(nan, x, y)


def gelu_grad(x):
    nan = np.isnan(x)
    with _quiet():
        xd, q, den = _gelu_parts(np.where(nan | np.isinf(x), F32(0), x))
        sig = 1.0 / den
        w = (q / den) / den
        du = (2 * GELU_C0) * (1.0 + (3 * GELU_C1) * (xd * xd))
        d = (sig + (xd * w) * du).astype(F32)
    d = np.where(x == np.inf, F32(1), np.where(x == -np.inf, F32(0), d))
    return np.where(nan, x, d)


# -------------------------------------------------------------------------------- composites


def softmax(x, axis=-1):
    with _quiet():
        e = exp(x - amax(x, axis, keepdims=True))
        return e / tree_sum(e, axis, keepdims=True)


def log_softmax(x, axis=-1):
    with _quiet():
        z = x - amax(x, axis, keepdims=True)
        return z - log(tree_sum(exp(z), axis, keepdims=True))


def cross_entropy(logits, targets):
    """mean over rows of -log_softmax(logits)[row, target]: tree_sum(nll) / N."""
    ls = log_softmax(logits, -1)
    nll = -np.take_along_axis(ls, targets[:, None].astype(np.int64), axis=1)[:, 0]
    with _quiet():
        return tree_sum(nll, 0) / F32(len(targets))


def layer_norm(x, w, b, eps):
    n = F32(x.shape[-1])
    with _quiet():
        mu = tree_sum(x, -1, keepdims=True) / n
        d = x - mu
        var = tree_sum(d * d, -1, keepdims=True) / n
        rstd = F32(1) / sqrt(var + F32(eps))
        return (d * rstd) * w + b


def adamw(p, g, m, v, step, lr, beta1, beta2, eps, weight_decay):
    """One AdamW update (step is the new, 1-based count); see repops.optim."""
    b1, b2 = F32(beta1), F32(beta2)
    with _quiet():
        bc1 = F32(1) - pow_int(b1, step)
        bc2 = F32(1) - pow_int(b2, step)
        p = p * (F32(1) - F32(lr) * F32(weight_decay))
        m = b1 * m + (F32(1) - b1) * g
        v = b2 * v + ((F32(1) - b2) * g) * g
        denom = sqrt(v) / sqrt(np.asarray(bc2, F32)) + F32(eps)
        p = p - (F32(lr) / bc1) * (m / denom)
    return p, m, v


def pow_int(base, n: int):
    """base**n by square-and-multiply over the bits of n, high to low, in binary32."""
    base = F32(base)
    acc = F32(1)
    for bit in bin(n)[2:]:
        acc = F32(acc * acc)
        if bit == "1":
            acc = F32(acc * base)
    return acc
