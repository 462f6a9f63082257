"""The closed set of RepOps primitives, on torch tensors of any device.

Every composite op (repops.ops.*) is a fixed sequence of these and nothing else. Each has a
numpy twin in repops.reference with the same name: that twin is the specification, and
tests check the two bit for bit. Why each one is bit-exact on every backend is said beside it.

binary32 (float32), IEEE-754 round-to-nearest-even, subnormals kept (never flushed):
    add, sub, mul, div, neg, abs, sqrt (correctly rounded), lt, le, eq, isnan, where,
    maximum, minimum, f32_to_i32 (round half to even), i32_to_f32 (exact for |i| <= 2**24)
binary64 (float64), same rounding, used by the matmul and transcendental programs:
    the same add/sub/mul/div/round/where on float64 tensors, widen (float32 -> float64, exact),
    narrow (float64 -> float32, round to nearest even, overflow to inf, gradual underflow),
    pow2 (2**n built from bits), frexp_exponent
int32 / int64 two's complement: iadd, isub, iand, ior, shl, shr, bitcast f32<->i32

NaN rule: any NaN result is "the" NaN; hashes write every NaN as 0x7fc00000, so neither a
NaN's sign nor its payload is part of the semantics, and none of these functions promise one.
Signed zero: add/sub/mul/div/sqrt/neg/abs follow IEEE-754 exactly (e.g. -0 + -0 = -0,
+0 + -0 = +0, sqrt(-0) = -0). maximum(a, b) = NaN if either is NaN, else (a if a > b else b):
the operand order decides max(+0, -0) = -0 and max(-0, +0) = +0. minimum likewise with <.

Forbidden here and in every composite: fused ops (addcmul, addcdiv, addmm, baddbmm, `alpha=`),
TF32, torch.sqrt/exp/log/tanh/erf on float32 (not correctly rounded on some backends), any
reduction (sum, matmul) whose result depends on the order of additions.
"""

from __future__ import annotations

import struct

import numpy as np
import torch

# Bit-exactness: torch's elementwise + - * / on float32/float64 are single IEEE instructions per
# element on CPU (SSE/AVX, MXCSR round-to-nearest, no FTZ unless torch.set_flush_denormal) and
# on CUDA (torch is built without --use_fast_math; one kernel per op, so no FMA contraction
# across our separate ops). Every op below is one such kernel.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_flush_denormal(False)

F32 = torch.float32
F64 = torch.float64
I32 = torch.int32
I64 = torch.int64


# ----------------------------------------------------------------------- binary32 / binary64


Operand = torch.Tensor | float


def _tensors(a: Operand, b: Operand) -> tuple[torch.Tensor, torch.Tensor]:
    """Python numbers become 0-dim tensors of the other operand's dtype ON ITS DEVICE.

    Why: torch rewrites `number / tensor` as reciprocal(tensor) * number (measured: 28% of
    3.0 / x differ from IEEE division), and on CUDA `tensor / cpu_scalar` as a multiply by
    the scalar's reciprocal. A same-device tensor operand takes the plain IEEE kernel."""
    if not isinstance(a, torch.Tensor):
        a = scalar(a, b.dtype, b.device)
    if not isinstance(b, torch.Tensor):
        b = scalar(b, a.dtype, a.device)
    return a, b


_SCALARS: dict[tuple, torch.Tensor] = {}


def scalar(value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A 0-dim tensor holding `value` rounded to `dtype`, cached: the programs use a few dozen
    constants thousands of times per step, and creating a tensor costs microseconds. Keyed by
    the binary64 bits (so -0.0 and +0.0, and NaNs, are told apart). Never written to: every
    primitive returns a new tensor, and callers use these only as operands."""
    key = (struct.pack("<d", value), dtype, device)
    t = _SCALARS.get(key)
    if t is None:
        if len(_SCALARS) > 4096:  # bounded: a stream of distinct values cannot grow it
            _SCALARS.clear()
        t = _SCALARS[key] = torch.tensor(value, dtype=dtype, device=device)
    return t


def add(a: Operand, b: Operand) -> torch.Tensor:
    a, b = _tensors(a, b)
    return torch.add(a, b)


def sub(a: Operand, b: Operand) -> torch.Tensor:
    a, b = _tensors(a, b)
    return torch.sub(a, b)


def mul(a: Operand, b: Operand) -> torch.Tensor:
    a, b = _tensors(a, b)
    return torch.mul(a, b)


def div(a: Operand, b: Operand) -> torch.Tensor:
    a, b = _tensors(a, b)
    return torch.div(a, b)


def neg(a: torch.Tensor) -> torch.Tensor:
    return -a  # flips the sign bit: exact, -(+0) = -0


def abs_(a: torch.Tensor) -> torch.Tensor:
    return a.abs()  # clears the sign bit: exact


def lt(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a < b  # IEEE: false whenever a NaN is involved; -0 == +0


def le(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a <= b


def eq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a == b


def isnan(a: torch.Tensor) -> torch.Tensor:
    return a != a


_BITS = {torch.float32: torch.int32, torch.float64: torch.int64}


def where(cond: torch.Tensor, a: torch.Tensor | float, b: torch.Tensor | float) -> torch.Tensor:
    """A select: copies the bits of a where cond, else of b, computes nothing.

    Float tensors of one dtype take an integer form, b ^ ((a ^ b) * cond) on their bits
    (cond as 0/1; integer xor and multiply are exact), which copies exactly the same bits as
    torch.where and measured 5x faster on CPU (torch.where's float kernel: ~3.5 ns/element)."""
    if (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
            and a.dtype in _BITS and cond.dtype == torch.bool):
        ai, bi = a.view(_BITS[a.dtype]), b.view(_BITS[a.dtype])
        return torch.mul(torch.bitwise_xor(ai, bi), cond).bitwise_xor_(bi).view(a.dtype)
    return torch.where(cond, a, b)


def maximum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """NaN if either is NaN, else a if a > b else b (see the module docstring for zeros)."""
    out = where(a > b, a, b)
    return where(isnan(a) | isnan(b), scalar(float("nan"), out.dtype, out.device), out)


def minimum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """NaN if either is NaN, else a if a < b else b."""
    out = where(a < b, a, b)
    return where(isnan(a) | isnan(b), scalar(float("nan"), out.dtype, out.device), out)


def sqrt(x: torch.Tensor) -> torch.Tensor:
    """Correctly rounded binary32 square root (IEEE: sqrt(-0) = -0, sqrt(x<0) = NaN).

    On CPU: numpy's float32 sqrt, which is the hardware instruction (IEEE-754 requires it
    correctly rounded; numpy does not approximate it), one pass instead of the ~30 of
    sqrt_program (measured 10x faster on AdamW's 116K moments). Elsewhere: sqrt_program.
    Both are checked bit for bit against the reference (binary64 sqrt, then narrowing)."""
    if x.device.type == "cpu" and x.dtype == F32:
        a = x.detach().numpy()
        with np.errstate(invalid="ignore"):  # sqrt(negative) = NaN, as specified
            return torch.from_numpy(np.sqrt(a, out=np.empty(a.shape, np.float32)))
    return sqrt_program(x)


def sqrt_program(x: torch.Tensor) -> torch.Tensor:
    """Correctly rounded binary32 square root from torch ops, for any device.

    torch.sqrt is not correctly rounded even in float64 on this CPU (measured: ~1.4% of
    float64 results differ from the hardware instruction), so we take its float64 result
    only as an estimate y0 (within one float32 ulp after narrowing), then decide the
    rounding exactly: the float32 neighbours' midpoints m = (y + y')/2 have 25 significant
    bits, so m*m (<= 50 bits) is exact in float64 and `x > m*m` is an exact test. A float32
    x is never equal to such m*m (m*m has its lowest set bit at bit 49-50), so there are no
    ties. One correction step suffices because y0 is off by at most one ulp.
    """
    xd = x.to(F64)
    # +inf takes the main path (sqrt64 gives inf; its "up" neighbour is a NaN pattern and its
    # "down" midpoint squares to inf, so both tests are false and inf stays); NaN, zeros and
    # negatives take the specials at the end.
    pos = x > 0
    safe = where(pos, xd, scalar(1.0, F64, x.device))
    y0 = torch.sqrt(safe).to(F32)  # estimate only; repaired below by exact tests
    bits = y0.view(I32)
    up = (bits + 1).view(F32)
    down = (bits - 1).view(F32)
    y0d = y0.to(F64)
    m_hi = (y0d + up.to(F64)).mul_(0.5)
    m_lo = (y0d + down.to(F64)).mul_(0.5)
    # binary32 selects (the three candidates are binary32 values): the same bits as selecting
    # among their binary64 widenings and narrowing
    y = where(safe > m_hi.mul_(m_hi), up, where(safe < m_lo.mul_(m_lo), down, y0))
    # specials: +-0 -> +-0, +inf -> +inf, negative or NaN -> NaN
    return where(pos, y, where(x < 0, scalar(float("nan"), F32, x.device), x))


def widen(x: torch.Tensor) -> torch.Tensor:
    """float32 -> float64: exact (every binary32 value, subnormals included, is a binary64)."""
    return x.to(F64)


def narrow(x: torch.Tensor) -> torch.Tensor:
    """float64 -> float32, round to nearest even, overflow to +-inf, gradual underflow."""
    return x.to(F32)


def round_even(x: torch.Tensor) -> torch.Tensor:
    """Round to an integral value, ties to even, in the same float type (exact result)."""
    return torch.round(x)


def f32_to_i32(x: torch.Tensor) -> torch.Tensor:
    """Round half to even to int32. Defined only for |x| < 2**31 and not NaN (callers mask)."""
    return torch.round(x).to(I32)


def i32_to_f32(i: torch.Tensor) -> torch.Tensor:
    """int32 -> float32; exact for |i| <= 2**24 (the only range composites use)."""
    return i.to(F32)


def pow2(n: torch.Tensor) -> torch.Tensor:
    """2.0**n as float64 for integer n in [-1022, 1023], built from bits (exact, no libm)."""
    return ((n.to(I64) + 1023) << 52).view(F64)


def frexp_exponent(x: torch.Tensor) -> torch.Tensor:
    """The int32 e with |x| < 2**e <= 2|x| for finite nonzero x (0 for x = 0): frexp's
    exponent, i.e. the IEEE exponent field read from the bits (subnormals normalised)."""
    return torch.frexp(x)[1]


# ------------------------------------------------------------------------------- integers


def bitcast_f32_i32(x: torch.Tensor) -> torch.Tensor:
    return x.view(I32)


def bitcast_i32_f32(i: torch.Tensor) -> torch.Tensor:
    return i.view(F32)


def iadd(a: torch.Tensor, b: torch.Tensor | int) -> torch.Tensor:
    return a + b  # two's complement, wraps


def isub(a: torch.Tensor, b: torch.Tensor | int) -> torch.Tensor:
    return a - b


def iand(a: torch.Tensor, b: torch.Tensor | int) -> torch.Tensor:
    return a & b


def ior(a: torch.Tensor, b: torch.Tensor | int) -> torch.Tensor:
    return a | b


def shl(a: torch.Tensor, n: int) -> torch.Tensor:
    return a << n


def shr(a: torch.Tensor, n: int) -> torch.Tensor:
    """Arithmetic shift right (sign-extending)."""
    return a >> n


__all__ = [
    "add", "sub", "mul", "div", "neg", "abs_", "lt", "le", "eq", "isnan", "where", "maximum",
    "minimum", "sqrt", "sqrt_program", "widen", "narrow", "round_even", "f32_to_i32", "i32_to_f32", "pow2",
    "frexp_exponent", "bitcast_f32_i32", "bitcast_i32_f32", "iadd", "isub", "iand", "ior",
    "shl", "shr",
]
