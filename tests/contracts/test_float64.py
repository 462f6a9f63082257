"""lib/float64.vy against numpy float64 and repops.reference, bit for bit, over every edge class.

Each contract call runs a whole batch of cases (py-evm costs ~2 ms per binary64 case), so
thousands of cases fit in the area's budget. Binary64 NaN results must be the canonical
0x7ff8000000000000 and binary32 ones 0x7fc00000 (RepOps' NaN rule).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repops import reference as R

HARNESS = "test_harness/float64_harness.vy"
NAN64 = 0x7FF8000000000000
NAN32 = 0x7FC00000

# Operation codes of the harness.
OPS = {
    "add": 0, "sub": 1, "mul": 2, "div": 3, "round_even": 4, "lt": 5, "le": 6, "eq": 7,
    "min": 8, "max": 9, "neg": 10, "abs": 11, "is_nan": 12, "widen": 13, "narrow": 14,
    "pow2": 15, "frexp_exponent": 16, "trunc_int64": 17, "from_int64": 18, "exp_table": 19,
}
SPECIALS = [
    0x0000000000000000, 0x8000000000000000,                      # +-0
    0x7FF0000000000000, 0xFFF0000000000000,                      # +-inf
    0x7FF8000000000000, 0xFFF8000000000001, 0x7FF0000000000001,  # NaNs, quiet and signalling
    0x0000000000000001, 0x800FFFFFFFFFFFFF, 0x0008000000000000,  # subnormals
    0x0010000000000000, 0x8010000000000001,                      # smallest normals
    0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFE,                      # near overflow
    0x3FF0000000000000, 0xBFF0000000000001, 0x3FEFFFFFFFFFFFFF,  # around 1
    0x4330000000000000, 0x432FFFFFFFFFFFFF, 0x3FE0000000000000,  # 2**52, below, 0.5
    0xC004000000000000, 0x47EFFFFFE0000000, 0x36A0000000000000,  # -2.5, f32 max, 2**-149
    0x43E0000000000000,                                          # 2**63
]
BINARY = ("add", "sub", "mul", "div", "lt", "le", "eq", "min", "max")


# ---------------------------------------------------------------- numpy reference


def _f(bits: np.ndarray) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint64).view(np.float64)


def _bits64(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    out = v.view(np.uint64).copy()
    out[np.isnan(v)] = NAN64
    return out


def _bits32(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    out = v.view(np.uint32).astype(np.uint64)
    out[np.isnan(v)] = NAN32
    return out


def _i64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).view(np.uint64)


def reference(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The expected uint64 lane of `op` on bit patterns a, b (as the harness encodes it)."""
    x, y = _f(a), _f(b)
    nan = np.isnan(x) | np.isnan(y)
    with np.errstate(all="ignore"):
        if op in ("add", "sub", "mul", "div"):
            return _bits64(getattr(R, op)(x, y))             # repops.reference: numpy IEEE ops
        if op == "round_even":
            return _bits64(np.rint(x))                       # what the reference rounds with
        if op in ("lt", "le", "eq"):
            return getattr(np, {"lt": "less", "le": "less_equal", "eq": "equal"}[op])(x, y).astype(np.uint64)
        if op in ("min", "max"):
            return _bits64(getattr(R, {"min": "minimum", "max": "maximum"}[op])(x, y))
        if op == "neg":
            return _bits64(-x)
        if op == "abs":
            return _bits64(np.abs(x))
        if op == "is_nan":
            return np.isnan(x).astype(np.uint64)
        if op == "widen":
            return _bits64(a.astype(np.uint32).view(np.float32).astype(np.float64))
        if op == "narrow":
            return _bits32(x.astype(np.float32))
        if op == "pow2":
            # repops.reference.pow2 is ldexp after a cast to int32; RepOps defines only
            # -1022..1023, and the contract extends ldexp's saturation to every int256, so
            # exponents beyond int32 are clipped first (the reference would wrap them).
            return _bits64(R.pow2(np.clip(a.view(np.int64), -1100, 1100)))
        if op == "frexp_exponent":
            return _i64(np.frexp(x)[1].astype(np.int64))
        if op == "trunc_int64":
            # numpy's cast on its domain; NaN -> 0 and saturation outside it (the contract's
            # definition where the cast is undefined)
            inside = np.abs(x) < 2.0**63
            cast = np.where(inside, x, 0).astype(np.int64)
            sat = np.where(x < 0, np.iinfo(np.int64).min, np.iinfo(np.int64).max)
            return _i64(np.where(np.isnan(x), 0, np.where(inside, cast, sat)))
        if op == "from_int64":
            return _bits64(a.view(np.int64).astype(np.float64))
        if op == "exp_table":
            return _bits64(R.EXP_TABLE[a & np.uint64(31)])          # the program's k & 31
    raise AssertionError(op, nan)


# ---------------------------------------------------------------- case generation


def _pack(sign, exp, frac) -> np.ndarray:
    return ((np.asarray(sign, np.uint64) << np.uint64(63)) | (np.asarray(exp, np.uint64) << np.uint64(52))
            | np.asarray(frac, np.uint64)).astype(np.uint64)


def edge_cases(op: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n operand pairs drawn from every edge class, plus the specials' cross product."""
    rng = np.random.default_rng(seed)
    k = n // 8
    A: list[np.ndarray] = []
    B: list[np.ndarray] = []

    def bits(m):
        return rng.integers(0, 2**64, m, dtype=np.uint64)

    def frac(m):
        return rng.integers(0, 2**52, m, dtype=np.uint64)

    def signs(m):
        return rng.integers(0, 2, m).astype(np.uint64)

    def exps(lo, hi, m):
        return rng.integers(lo, hi, m).astype(np.uint64)

    if op == "widen":
        # binary32 bit patterns: random, subnormal, normal, specials
        f32 = np.concatenate([
            rng.integers(0, 2**32, 4 * k, dtype=np.uint64),
            (signs(2 * k) << np.uint64(31)) | rng.integers(0, 2**23, 2 * k, dtype=np.uint64),
            np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFF800001, 1,
                      0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x3F800000], np.uint64)])
        return f32, np.zeros_like(f32)
    if op in ("pow2", "from_int64", "exp_table"):
        if op == "exp_table":
            ints = np.concatenate([np.arange(-40, 40), [2**62, -(2**62) - 1]])
        elif op == "pow2":
            # every boundary region of the exponent (the normal range is one formula)
            ints = np.concatenate([np.arange(-1100, -1000), np.arange(-40, 40), np.arange(1000, 1100),
                                   rng.integers(-1022, 1024, k), [-(2**62), 2**62, 2**31, -(2**31) - 1]])
        else:
            ints = np.concatenate([
                rng.integers(-(2**63), 2**63 - 1, 3 * k, dtype=np.int64),
                rng.integers(-(2**54), 2**54, 2 * k, dtype=np.int64),       # near 2**53: ties
                rng.integers(-(2**20), 2**20, k, dtype=np.int64),
                (rng.integers(1, 2**11, k, dtype=np.int64) << 53) | (1 << rng.integers(0, 12, k)),
                [0, 1, -1, 2**53 + 1, 2**53 + 3, -(2**63), 2**63 - 1, 2**62 + 2**9]])
        a = np.asarray(ints, np.int64).view(np.uint64)
        return a, np.zeros_like(a)

    # 1. uniformly random bit patterns
    A.append(bits(k)); B.append(bits(k))
    # 2. subnormal / tiny-normal operands
    A.append(_pack(signs(k), exps(0, 4, k), frac(k))); B.append(_pack(signs(k), exps(0, 4, k), frac(k)))
    # 3. near overflow and underflow of products and quotients
    A.append(_pack(signs(k), exps(1500, 2047, k), frac(k)))
    B.append(_pack(signs(k), rng.choice(np.r_[np.arange(1000, 1100), [1, 2, 400, 500, 600, 2000]], k).astype(np.uint64), frac(k)))
    # 4. close magnitudes: cancellation, ties in comparisons
    base = _pack(signs(k), exps(1, 2046, k), frac(k))
    other = (base.astype(np.int64) + rng.integers(-3, 4, k)).astype(np.uint64) ^ (signs(k) << np.uint64(63))
    A.append(base); B.append(other)
    # 5. halfway cases for add: exponent gaps 52..66 with a low pattern 100..0
    e = exps(200, 1800, k)
    A.append(_pack(signs(k), e, frac(k)))
    low = rng.choice(np.array([2**51, 2**51 + 1, 2**51 - 1, 0, 2**52 - 1], np.uint64), k)
    B.append(_pack(signs(k), e - exps(51, 67, k), low))
    if op in ("round_even", "trunc_int64", "frexp_exponent"):
        # 6. integers and halves around every magnitude up to 2**64
        v = (rng.integers(-(2**40), 2**40, k) + rng.choice([0.5, 0.0, 0.25, 0.75], k)) * np.exp2(rng.integers(-40, 24, k))
        A.append(_bits64(v)); B.append(bits(k))
        near = rng.choice([2.0**52, 2.0**53, 2.0**63, 2.0**64, 1.0, 0.5], k) * rng.choice([1, -1], k)
        A.append((_bits64(near).astype(np.int64) + rng.integers(-2, 3, k)).astype(np.uint64)); B.append(bits(k))
    elif op == "narrow":
        # 6. binary32's range: ties at the 24th bit, subnormal results, the overflow edge
        A.append(_pack(signs(k), exps(1023 - 160, 1023 + 129, k), (frac(k) >> np.uint64(29)) << np.uint64(29) | np.uint64(1 << 28)))
        B.append(bits(k))
        A.append(_pack(signs(k), exps(1023 - 155, 1023 - 125, k), frac(k))); B.append(bits(k))
        edge = _bits64(np.array([2.0**128 - 2.0**103, 2.0**128 - 2.0**104, 2.0**-150, 2.0**-126, 3 * 2.0**-150]))
        A.append((np.repeat(edge, 8).astype(np.int64) + np.tile(np.arange(-4, 4), len(edge))).astype(np.uint64))
        B.append(bits(8 * len(edge)))
    else:
        # 6. exact products and quotients (short significands)
        A.append(_pack(signs(k), exps(900, 1150, k), rng.integers(0, 2**20, k, dtype=np.uint64) << np.uint64(32)))
        B.append(_pack(signs(k), exps(900, 1150, k), rng.integers(0, 2**20, k, dtype=np.uint64) << np.uint64(32)))
        # 7. products and quotients of subnormals with large normals
        A.append(_pack(signs(k), exps(0, 1, k), frac(k))); B.append(_pack(signs(k), exps(900, 2047, k), frac(k)))
    # 8. NaN payloads and infinities mixed with random values
    nans = _pack(signs(k), 2047, rng.integers(1, 2**52, k, dtype=np.uint64))
    pick = signs(k) == 1
    A.append(np.where(pick, nans, bits(k))); B.append(np.where(pick, bits(k), nans))
    a = np.concatenate(A).astype(np.uint64)
    b = np.concatenate(B).astype(np.uint64)
    if op in ("sub", "div", "lt", "le"):
        a, b = np.concatenate([a, b]), np.concatenate([b, a])       # both operand orders
    sp = np.array(SPECIALS, dtype=np.uint64)
    if op in BINARY:
        sp = sp if op in ("add", "sub", "mul", "div") else sp[::2]
        ga, gb = np.meshgrid(sp, sp)                                 # every special pair
        return np.concatenate([a, ga.ravel()]), np.concatenate([b, gb.ravel()])
    return np.concatenate([a, sp]), np.concatenate([b, sp])


# ---------------------------------------------------------------- harness calls


@pytest.fixture(scope="module")
def harness(deploy):
    return deploy(HARNESS)


def run(harness, op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out: list[int] = []
    for i in range(0, len(a), 2048):
        out += harness.functions.batch(
            OPS[op], [int(v) for v in a[i:i + 2048]], [int(v) for v in b[i:i + 2048]]
        ).call({"gas": 95_000_000})
    return np.array(out, dtype=np.uint64)


def assert_bit_exact(op: str, a: np.ndarray, b: np.ndarray, got: np.ndarray) -> None:
    want = reference(op, a, b)
    bad = np.nonzero(got != want)[0]
    if len(bad):
        rows = [f"{op}({a[i]:#018x}, {b[i]:#018x}) = {got[i]:#018x}, want {want[i]:#018x}" for i in bad[:10]]
        raise AssertionError(f"{len(bad)}/{len(a)} mismatches:\n" + "\n".join(rows))


# ---------------------------------------------------------------- primitives

# Cases per op drawn from the edge classes (on top of the specials).
CASES = {"add": 900, "sub": 500, "mul": 800, "div": 700, "round_even": 700, "narrow": 800,
         "widen": 400, "frexp_exponent": 400, "trunc_int64": 500, "from_int64": 500}


@pytest.mark.parametrize("op", list(OPS))
def test_matches_numpy_on_edge_classes(harness, op):
    a, b = edge_cases(op, CASES.get(op, 200), seed=OPS[op])
    assert_bit_exact(op, a, b, run(harness, op, a, b))


float64_bits = st.one_of(
    st.integers(0, 2**64 - 1),
    st.sampled_from(SPECIALS),
    st.floats(allow_nan=False).map(lambda v: int(np.float64(v).view(np.uint64))),
    st.integers(0, 2**52 - 1).map(lambda f: f | (2**63 if f & 1 else 0)),   # subnormals
)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(op=st.sampled_from(["add", "sub", "mul", "div", "round_even", "narrow", "frexp_exponent", "lt", "min"]),
       pairs=st.lists(st.tuples(float64_bits, float64_bits), min_size=1, max_size=120))
def test_matches_numpy_property(harness, op, pairs):
    a = np.array([p[0] for p in pairs], dtype=np.uint64)
    b = np.array([p[1] for p in pairs], dtype=np.uint64)
    assert_bit_exact(op, a, b, run(harness, op, a, b))


def test_nan_results_are_canonical(harness):
    nans = np.array([0x7FF0000000000001, 0xFFF0000000000001, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF,
                     0x7FF8000000000001, 0xFFF8000000000000], dtype=np.uint64)
    ones = np.full(len(nans), 0x3FF0000000000000, dtype=np.uint64)
    for op in ("add", "sub", "mul", "div", "min", "max", "neg", "abs", "round_even"):
        assert set(run(harness, op, nans, ones).tolist()) == {NAN64}, op
    for op in ("add", "sub", "mul", "div", "min", "max"):
        assert set(run(harness, op, ones, nans).tolist()) == {NAN64}, op
    assert set(run(harness, "narrow", nans, ones).tolist()) == {NAN32}
    f32_nans = np.array([0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFC00000], dtype=np.uint64)
    assert set(run(harness, "widen", f32_nans, f32_nans).tolist()) == {NAN64}


def test_matches_repops_primitives_on_torch(harness):
    """The torch primitives that the programs run agree with the contract (and so with the
    numpy reference) on the conversions and roundings: round_even, widen, narrow, pow2,
    frexp_exponent."""
    import torch

    from repops import primitives as P

    a, b = edge_cases("round_even", 300, seed=7)
    x = torch.from_numpy(a.view(np.int64).copy()).view(torch.float64)
    want = _bits64(P.round_even(x).numpy())
    assert np.array_equal(run(harness, "round_even", a, b), want)
    want = _bits32(P.narrow(x).numpy())
    assert np.array_equal(run(harness, "narrow", a, b), want)
    finite = ~np.isnan(_f(a)) & ~np.isinf(_f(a))                   # torch leaves inf/NaN unspecified
    want = _i64(P.frexp_exponent(x).numpy().astype(np.int64))[finite]
    assert np.array_equal(run(harness, "frexp_exponent", a[finite], b[finite]), want)
    n = np.arange(-1022, 1024, dtype=np.int64)                     # RepOps' pow2 domain
    want = _bits64(P.pow2(torch.from_numpy(n)).numpy())
    assert np.array_equal(run(harness, "pow2", n.view(np.uint64), n.view(np.uint64)), want)
    w, _ = edge_cases("widen", 200, seed=8)
    want = _bits64(P.widen(torch.from_numpy(w.astype(np.uint32).view(np.int32).copy()).view(torch.float32)).numpy())
    assert np.array_equal(run(harness, "widen", w, w), want)


# ---------------------------------------------------------------- scaled_narrow / matmul


def exact_float32_bits(value: Fraction) -> int:
    """The binary32 nearest to an exact rational (ties to even), found independently of the
    contract: float() rounds to binary64 correctly, then the nearest of that value's binary32
    neighbours is chosen by exact comparison."""
    neg = value < 0
    mag = -value if neg else value
    if mag >= Fraction(2**25 - 1, 2) * 2**104:                # (2**24 - 1/2) * 2**104: overflow
        return (0x80000000 if neg else 0) | 0x7F800000
    c = np.float32(float(mag)) if float(mag) < 3.4e38 else np.float32(3.4028234663852886e38)
    cands = {int(c.view(np.uint32)) + d for d in (-1, 0, 1) if 0 <= int(c.view(np.uint32)) + d <= 0x7F7FFFFF}

    def dist(bits):
        return abs(Fraction(float(np.uint32(bits).view(np.float32))) - mag)

    best = min(cands, key=lambda bits: (dist(bits), bits & 1))
    return (0x80000000 if neg else 0) | best


def run_scaled(harness, s: list[int], exp2: list[int]) -> np.ndarray:
    out: list[int] = []
    for i in range(0, len(s), 2048):
        out += harness.functions.batch_scaled_narrow(s[i:i + 2048], exp2[i:i + 2048]).call({"gas": 95_000_000})
    return np.array(out, dtype=np.uint64)


def test_scaled_narrow_rounds_once_from_the_exact_value(harness):
    rng = np.random.default_rng(11)
    s: list[int] = []
    e: list[int] = []
    for _ in range(400):
        width = int(rng.choice([1, 5, 24, 25, 26, 53, 54, 64, 65, 120, 254]))
        v = int(rng.integers(0, 2**62)) | (1 << 62)
        v = (v << max(0, width - 63)) >> max(0, 63 - width)      # a `width`-bit integer
        if rng.random() < 0.3:                                    # a tie at the 24th bit
            v = (v >> max(0, width - 25) << max(0, width - 25)) | (1 << max(0, width - 25)) if width > 25 else v
        s.append(-v if rng.random() < 0.5 else v)
        e.append(int(rng.choice([rng.integers(-200, 130), rng.integers(-149 - width - 2, -149 - width + 30),
                                 rng.integers(128 - width - 2, 128 - width + 2)])))
    s += [0, 1, -1, 2**255 - 1, -(2**255), 3, 2**24 + 1, 2**25 + 3, 2**24 - 1, 7, 1, -1]
    e += [5, -150, -150, -2000, -1900, -151, 0, -1, 104, 3000, -3000, 2001]
    got = run_scaled(harness, s, e)
    for si, ei, g in zip(s, e, got):
        if si == 0:
            want = 0
        elif abs(ei) > 2000:
            want = (0x80000000 if si < 0 else 0) | (0x7F800000 if ei > 0 else 0)
        else:
            want = exact_float32_bits(Fraction(si) * Fraction(2) ** ei)
        assert int(g) == want, (si, ei, hex(int(g)), hex(want))


def _row(rng, k: int) -> np.ndarray:
    kind = rng.integers(0, 5)
    if kind == 0:                                                  # ordinary values
        v = rng.standard_normal(k)
    elif kind == 1:                                                # a wide dynamic range
        v = rng.standard_normal(k) * np.exp2(rng.integers(-40, 40, k))
    elif kind == 2:                                                # tiny: subnormal products
        v = rng.standard_normal(k) * 2.0**-130
    elif kind == 3:                                                # huge: overflowing sums
        v = rng.standard_normal(k) * 2.0**120
    else:                                                          # zeros and exact values
        v = rng.integers(-3, 4, k).astype(np.float64)
    return v.astype(np.float32)


def test_matmul_element_matches_repops_reference(harness):
    """narrow(S * 2**(E+F-2s)) + 0.0 from the exact integer S equals repops.reference.matmul,
    the specification of the matmul output the one-step check opens."""
    rng = np.random.default_rng(12)
    cases_s: list[int] = []
    cases_e: list[int] = []
    want: list[int] = []
    for _ in range(300):
        k = int(rng.choice([1, 3, 32, 33, 100, 512, 700]))
        a, b = _row(rng, k), _row(rng, k)
        y = R.matmul(a[None, :], b[:, None])[0, 0]
        s = R.matmul_slice_bits(k)
        big_e = int(np.frexp(np.max(np.abs(a.astype(np.float64))))[1])
        big_f = int(np.frexp(np.max(np.abs(b.astype(np.float64))))[1])
        ai = [int(v) for v in np.rint(a.astype(np.float64) * 2.0 ** (s - big_e))]
        bi = [int(v) for v in np.rint(b.astype(np.float64) * 2.0 ** (s - big_f))]
        cases_s.append(sum(p * q for p, q in zip(ai, bi)))
        cases_e.append(big_e + big_f - 2 * s)
        want.append(int(np.float32(y).view(np.uint32)))
    got = [harness.functions.matmul_element(si, ei).call() for si, ei in zip(cases_s[:40], cases_e[:40])]
    assert got == want[:40]
    # The rest in batches: scaled_narrow then the binary32 `+ 0.0` (only -0 changes).
    raw = run_scaled(harness, cases_s, cases_e)
    plus_zero = np.where(raw == 0x80000000, 0, raw)
    assert plus_zero.tolist() == want
    assert (raw == 0x80000000).any() and (np.array(want) == 0x7F800000).any()   # both edges hit


# ---------------------------------------------------------------- whole programs


class Lanes:
    """Runs one primitive over a whole vector of lanes per harness call, so a scalar program
    of repops.reference runs step by step on the contract (selects and integer ops, which
    copy bits, are done here)."""

    def __init__(self, harness):
        self.h = harness

    def __getattr__(self, op):
        def apply(a, b=None):
            a = np.asarray(a, np.uint64)
            b = a if b is None else np.broadcast_to(np.asarray(b, np.uint64), a.shape)
            return run(self.h, op, a, b)
        return apply


def c64(v: float) -> np.ndarray:
    return _bits64(np.float64(v))


def contract_exp64(f, x):
    x = f.min(f.max(x, c64(-700.0)), c64(700.0))           # np.clip
    k = f.round_even(f.mul(x, c64(R.EXP_INV_L)))
    r = f.sub(f.sub(x, f.mul(k, c64(R.LN2_HI / 32))), f.mul(k, c64(R.LN2_LO / 32)))
    p = f.mul(r, c64(1 / 24))
    for c in (1 / 6, 1 / 2, 1.0):
        p = f.mul(f.add(p, c64(c)), r)
    p = f.add(p, c64(1.0))
    ki = f.trunc_int64(k).view(np.int64)
    scale = f.pow2((ki >> 5).view(np.uint64))                # integer shift: arithmetic
    return f.mul(f.mul(f.exp_table(ki.view(np.uint64)), p), scale)


def _f32_inputs(rng, n: int, lo: float, hi: float) -> np.ndarray:
    x = rng.uniform(lo, hi, n).astype(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 88.72283, 88.72284,
                         -87.33655, -103.97208, -103.97209, 1.0, 0.5, 3e38, -3e38, 1e-38], np.float32)
    return np.concatenate([x, specials])


def test_exp_program_on_the_contract_matches_repops_reference(harness):
    """The binary64 primitives cover the exp program: run step by step on the contract, it
    gives repops.reference.exp bit for bit (subnormal results and overflow included)."""
    f = Lanes(harness)
    x32 = _f32_inputs(np.random.default_rng(13), 60, -106.0, 90.0)
    nan = np.isnan(x32)
    xd = f.widen(np.where(nan, np.float32(0), x32).view(np.uint32).astype(np.uint64))
    y = f.narrow(contract_exp64(f, xd))
    got = np.where(nan, NAN32, y)
    assert np.array_equal(got, _bits32(R.exp(x32)))


def test_log_program_on_the_contract_matches_repops_reference(harness):
    f = Lanes(harness)
    rng = np.random.default_rng(14)
    x32 = np.abs(_f32_inputs(rng, 60, -1.0, 1.0))
    x32[:30] = np.exp2(rng.uniform(-149, 128, 30)).astype(np.float32)      # every binade
    x32[30:45] = rng.uniform(0.5, 2.0, 15).astype(np.float32)               # near 1
    x32 = np.concatenate([x32, np.float32([-1.0, -0.0, -np.inf])])
    with np.errstate(invalid="ignore"):
        ok = (x32 > 0) & (x32 < np.inf)
    xd = f.widen(np.where(ok, x32, np.float32(1)).view(np.uint32).astype(np.uint64))
    e = f.frexp_exponent(xd).view(np.int64)
    m = f.mul(xd, f.pow2((-e).view(np.uint64)))
    small = f.lt(m, c64(R.SQRT_HALF)) == 1
    m = np.where(small, f.mul(m, c64(2.0)), m)
    e = f.from_int64(np.where(small, e - 1, e).view(np.uint64))
    fr = f.sub(m, c64(1.0))
    s = f.div(fr, f.add(fr, c64(2.0)))
    z = f.mul(s, s)
    q = np.broadcast_to(c64(R.LOG_COEFFS[0]), s.shape)
    for c in R.LOG_COEFFS[1:]:
        q = f.add(f.mul(q, z), c64(c))
    y = f.narrow(f.add(f.mul(e, c64(R.LN2)), f.mul(f.mul(s, c64(2.0)), q)))
    y = np.where(x32 == 0, 0xFF800000, np.where(x32 == np.inf, 0x7F800000, y))
    with np.errstate(invalid="ignore"):
        got = np.where((x32 < 0) | np.isnan(x32), NAN32, y)
    assert np.array_equal(got.astype(np.uint64), _bits32(R.log(x32)))
