"""lib/float32.vy against numpy float32, bit for bit, over every edge class.

Each contract call runs a whole batch of cases (py-evm costs ~1 ms per case), so thousands
of cases fit in a few seconds. NaN results must be the canonical 0x7fc00000.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HARNESS = "test_harness/float32_harness.vy"
CANONICAL_NAN = 0x7FC00000

# Operation codes of the harness.
OPS = {
    "add": 0, "sub": 1, "mul": 2, "div": 3, "sqrt": 4, "lt": 5, "le": 6, "eq": 7,
    "min": 8, "max": 9, "to_int32": 10, "from_int32": 11, "neg": 12, "abs": 13, "is_nan": 14,
}
SPECIALS = [
    0x00000000, 0x80000000,                      # +-0
    0x7F800000, 0xFF800000,                      # +-inf
    0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF, 0x7FFFFFFF,  # NaNs, quiet and signalling
    0x00000001, 0x80000001, 0x00000002, 0x007FFFFF, 0x807FFFFF, 0x00400000,  # subnormals
    0x00800000, 0x80800000, 0x00800001, 0x01000000,  # smallest normals
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7FFFFE, 0x7F000000,  # near overflow
    0x3F800000, 0xBF800000, 0x3F800001, 0x3F7FFFFF, 0x40000000, 0x3F000000,  # around 1
    0x4B000000, 0x4B000001, 0x4AFFFFFF, 0x3FC00000, 0x40200000,  # integer/halfway boundaries
    0x4F000000, 0xCF000000, 0x4EFFFFFF, 0xCF000001,  # int32 range edges
]


BINARY = ("add", "sub", "mul", "div", "lt", "le", "eq", "min", "max")


# ---------------------------------------------------------------- numpy reference


def _f(bits: np.ndarray) -> np.ndarray:
    return bits.astype(np.uint32).view(np.float32)


def _bits(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=np.float32).view(np.uint32).copy()
    out[np.isnan(np.asarray(values, dtype=np.float32))] = CANONICAL_NAN
    return out


def reference(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The expected uint32 result of `op` on bit patterns a, b (as the harness encodes it)."""
    x, y = _f(a), _f(b)
    nan = np.isnan(x) | np.isnan(y)
    with np.errstate(all="ignore"):
        if op == "add":
            return _bits(x + y)
        if op == "sub":
            return _bits(x - y)
        if op == "mul":
            return _bits(x * y)
        if op == "div":
            return _bits(x / y)
        if op == "sqrt":
            return _bits(np.sqrt(x))
        if op in ("lt", "le", "eq"):
            return getattr(np, {"lt": "less", "le": "less_equal", "eq": "equal"}[op])(x, y).astype(np.uint32)
        if op in ("min", "max"):
            # RepOps minimum/maximum (repops/reference.py): NaN if either is NaN, else
            # a if a < b (a > b) else b; the operand order decides between -0 and +0.
            pick_a = (x < y) if op == "min" else (x > y)
            out = np.where(pick_a, a, b).astype(np.uint32)
            return np.where(nan, CANONICAL_NAN, out).astype(np.uint32)
        if op == "to_int32":
            r = np.rint(x.astype(np.float64))  # round half to even
            r = np.clip(np.nan_to_num(r, nan=0.0, posinf=2**31 - 1, neginf=-(2**31)), -(2**31), 2**31 - 1)
            return r.astype(np.int64).astype(np.uint32)
        if op == "from_int32":
            return _bits(a.astype(np.uint32).view(np.int32).astype(np.float32))
        if op == "neg":
            return _bits(-x)
        if op == "abs":
            return _bits(np.abs(x))
        if op == "is_nan":
            return np.isnan(x).astype(np.uint32)
    raise AssertionError(op)


# ---------------------------------------------------------------- case generation


def _pack(sign, exp, frac) -> np.ndarray:
    return ((np.asarray(sign, np.uint64) << 31) | (np.asarray(exp, np.uint64) << 23) | np.asarray(frac, np.uint64)).astype(np.uint32)


def edge_cases(op: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n operand pairs drawn from every edge class, plus the specials' full cross product."""
    rng = np.random.default_rng(seed)
    parts_a: list[np.ndarray] = []
    parts_b: list[np.ndarray] = []
    k = n // 8

    def rand_bits(m):
        return rng.integers(0, 2**32, m, dtype=np.uint64).astype(np.uint32)

    def rand_frac(m):
        return rng.integers(0, 2**23, m, dtype=np.uint64)

    def signs(m):
        return rng.integers(0, 2, m)

    # 1. uniformly random bit patterns
    parts_a.append(rand_bits(k)); parts_b.append(rand_bits(k))
    # 2. subnormal / tiny-normal operands (exponent 0..3)
    parts_a.append(_pack(signs(k), rng.integers(0, 4, k), rand_frac(k)))
    parts_b.append(_pack(signs(k), rng.integers(0, 4, k), rand_frac(k)))
    # 3. near overflow and near underflow products/quotients
    parts_a.append(_pack(signs(k), rng.integers(180, 255, k), rand_frac(k)))
    parts_b.append(_pack(signs(k), rng.choice([rng.integers(40, 127)] + list(range(120, 140)) + [1, 2, 60, 70, 80], k), rand_frac(k)))
    # 4. close magnitudes, both signs: cancellation in add/sub, ties in compare
    base = _pack(signs(k), rng.integers(1, 254, k), rand_frac(k))
    delta = rng.integers(-3, 4, k).astype(np.int64)
    other = (base.astype(np.int64) + delta).clip(0, 2**32 - 1).astype(np.uint32) ^ (signs(k).astype(np.uint32) << 31)
    parts_a.append(base); parts_b.append(other)
    # 5. halfway cases for add: exponent gap 23..26 with a low bit pattern 100..0
    e = rng.integers(30, 220, k)
    parts_a.append(_pack(signs(k), e, rand_frac(k)))
    low = rng.choice([0x400000, 0x400001, 0x3FFFFF, 0x000000, 0x7FFFFF], k)
    parts_b.append(_pack(signs(k), e - rng.integers(22, 27, k), low))
    # 6. exact products and quotients (small significands), halfway products
    ma = rng.integers(1, 2**12, k)
    mb = rng.integers(1, 2**12, k)
    parts_a.append(_pack(signs(k), rng.integers(100, 150, k), (ma << 11) & 0x7FFFFF))
    parts_b.append(_pack(signs(k), rng.integers(100, 150, k), (mb << 11) & 0x7FFFFF))
    # 7. integers and halfway points for conversions, perfect squares for sqrt
    ints = rng.integers(-(2**31), 2**31, k, dtype=np.int64)
    if op == "from_int32":
        parts_a.append(ints.astype(np.int32).view(np.uint32)); parts_b.append(rand_bits(k))
        small = rng.integers(-(2**26), 2**26, k, dtype=np.int64)
        parts_a.append(small.astype(np.int32).view(np.uint32)); parts_b.append(rand_bits(k))
    else:
        halves = (rng.integers(-(2**24), 2**24, k) + 0.5).astype(np.float32).view(np.uint32)
        parts_a.append(halves); parts_b.append(rand_bits(k))
        sq = (rng.integers(1, 2**12, k).astype(np.float32) ** 2).view(np.uint32)
        parts_a.append(sq); parts_b.append(rand_bits(k))
    # 8. random NaN payloads and random infinities mixed with random values
    nans = _pack(signs(k), 255, rng.integers(1, 2**23, k))
    parts_a.append(np.where(signs(k) == 1, nans, rand_bits(k)).astype(np.uint32))
    parts_b.append(np.where(signs(k) == 1, rand_bits(k), nans).astype(np.uint32))
    a = np.concatenate(parts_a).astype(np.uint32)
    b = np.concatenate(parts_b).astype(np.uint32)
    if op in ("sub", "div", "lt", "le"):
        a, b = np.concatenate([a, b]), np.concatenate([b, a])  # both operand orders
    # Comparisons are simple enough that every other special suffices for the cross product.
    sp = np.array(SPECIALS if op in ("add", "sub", "mul", "div") else SPECIALS[::2] + [0x80000000], dtype=np.uint32)
    if op in ("from_int32", "neg", "abs", "sqrt", "to_int32", "is_nan"):
        a, b = np.concatenate([a, sp]), np.concatenate([b, sp])
    else:
        ga, gb = np.meshgrid(sp, sp)  # every special against every special
        a, b = np.concatenate([a, ga.ravel()]), np.concatenate([b, gb.ravel()])
    return a, b


# ---------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def harness(deploy):
    return deploy(HARNESS)


def run(harness, op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = []
    for i in range(0, len(a), 2048):
        out += harness.functions.batch(
            OPS[op], [int(v) for v in a[i:i + 2048]], [int(v) for v in b[i:i + 2048]]
        ).call({"gas": 95_000_000})
    return np.array(out, dtype=np.uint32)


def assert_bit_exact(op, a, b, got):
    want = reference(op, a, b)
    bad = np.nonzero(got != want)[0]
    if len(bad):
        rows = [f"{op}({a[i]:#010x}, {b[i]:#010x}) = {got[i]:#010x}, numpy {want[i]:#010x}" for i in bad[:10]]
        raise AssertionError(f"{len(bad)}/{len(a)} mismatches:\n" + "\n".join(rows))


# Cases per op drawn from the edge classes (on top of the specials' cross product).
CASES = {"add": 900, "sub": 400, "mul": 900, "div": 600, "sqrt": 1200, "to_int32": 900,
         "from_int32": 900, "neg": 200, "abs": 200}


@pytest.mark.parametrize("op", list(OPS))
def test_matches_numpy_on_edge_classes(harness, op):
    n = CASES.get(op, 200)
    a, b = edge_cases(op, n, seed=OPS[op])
    assert_bit_exact(op, a, b, run(harness, op, a, b))


float32_bits = st.one_of(
    st.integers(0, 2**32 - 1),
    st.sampled_from(SPECIALS),
    st.floats(width=32, allow_nan=False).map(lambda v: int(np.float32(v).view(np.uint32))),
    st.integers(0, 2**23 - 1).map(lambda f: f | (0x80000000 if f & 1 else 0)),  # subnormals
)


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(op=st.sampled_from(["add", "sub", "mul", "div", "sqrt", "min", "max", "lt", "to_int32", "from_int32"]),
       pairs=st.lists(st.tuples(float32_bits, float32_bits), min_size=1, max_size=200))
def test_matches_numpy_property(harness, op, pairs):
    a = np.array([p[0] for p in pairs], dtype=np.uint32)
    b = np.array([p[1] for p in pairs], dtype=np.uint32)
    assert_bit_exact(op, a, b, run(harness, op, a, b))


def test_nan_results_are_canonical(harness):
    # Regression guard for the payload rule: NaN operands of any payload and sign.
    nans = np.array([0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FC00001, 0xFFC00000], dtype=np.uint32)
    ones = np.full(len(nans), 0x3F800000, dtype=np.uint32)
    for op in ("add", "sub", "mul", "div", "sqrt", "min", "max", "neg", "abs"):
        assert set(run(harness, op, nans, ones).tolist()) == {CANONICAL_NAN}, op
    for op in ("add", "sub", "mul", "div", "min", "max"):
        assert set(run(harness, op, ones, nans).tolist()) == {CANONICAL_NAN}, op


def test_div_by_subnormal_keeps_every_quotient_bit(harness):
    # Regression: a fast path once assumed a normal divisor and misjudged the quotient's width.
    a = np.array([0x0161D389, 0x00CA151D, 0x00B7C843, 0x3F800000], dtype=np.uint32)
    b = np.array([0x8016A7EA, 0x00647813, 0x800B1C23, 0x00000001], dtype=np.uint32)
    assert_bit_exact("div", a, b, run(harness, "div", a, b))


REPOPS_TWINS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "sqrt": "sqrt",
                "min": "minimum", "max": "maximum", "to_int32": "f32_to_i32", "from_int32": "i32_to_f32"}


@pytest.mark.parametrize("op", list(REPOPS_TWINS))
def test_matches_repops_reference(harness, op):
    """The contract agrees with the off-chain specification (repops.reference) itself."""
    from repops import reference

    a, b = edge_cases(op, 400, seed=100 + OPS[op])
    pick = np.random.default_rng(OPS[op]).permutation(len(a))[:500]
    a, b = a[pick], b[pick]
    x, y = _f(a), _f(b)
    twin = getattr(reference, REPOPS_TWINS[op])
    if op == "to_int32":
        with np.errstate(invalid="ignore"):
            keep = ~np.isnan(x) & (np.abs(x.astype(np.float64)) < 2**31)  # RepOps' domain
        a, b, x = a[keep], b[keep], x[keep]
        want = twin(x).view(np.uint32)
    elif op == "from_int32":
        want = _bits(twin(a.view(np.int32)))
    elif op == "sqrt":
        want = _bits(twin(x))
    else:
        want = _bits(twin(x, y))
    got = run(harness, op, a, b)
    assert np.array_equal(got, want), np.nonzero(got != want)[0][:5]
