"""Composite programs on plain tensors (no autograd, no tracing): fixed sequences of
repops.primitives. repops.reference has the numpy twin of every function here.

Each function's docstring states its scalar program; docs/repops.md repeats them for the
dispute contract. Everything here is vectorised over whole tensors: no Python loop runs over
elements, only over the log2(n) levels of a reduction tree.
"""

from __future__ import annotations

import math
import struct

import torch

from repops import primitives as P
from repops.ops import native
from repops.ops.memory import keep_freed_memory

keep_freed_memory()  # see repops/ops/memory.py: ~6% of a step was page faults

NAN = float("nan")
INF = float("inf")

# ------------------------------------------------------------------------------ reductions


def tree_sum(x: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """Fixed pairwise tree of adds (in x's dtype) along `dim`.

    Program: pad the n values to n2 = next power of two with -0.0 (the exact additive
    identity: v + -0 = v for every v, -0 included), then while n2 > 1: h = n2/2,
    v[i] = v[i] + v[i + h] for i < h. An empty sum (n = 0) is +0.0. The shape of the tree
    depends only on n, so the result is the same for any batch size, slicing or thread count.
    """
    dim = dim % x.dim()
    n = x.shape[dim]
    if n > 1 and x.is_contiguous():
        fused = _tree_sum_native(x, dim)
        if fused is not None:
            return fused.unsqueeze(dim) if keepdim else fused
    if n == 0:
        shape = list(x.shape)
        shape[dim] = 1
        out = torch.zeros(shape, dtype=x.dtype, device=x.device)
        return out if keepdim else out.squeeze(dim)
    n2 = 1 << (n - 1).bit_length()
    if n2 != n:
        shape = list(x.shape)
        shape[dim] = n2 - n
        x = torch.cat([x, torch.full(shape, -0.0, dtype=x.dtype, device=x.device)], dim)
    while n2 > 1:
        n2 //= 2
        x = P.add(x.narrow(dim, 0, n2), x.narrow(dim, n2, n2))
    return x if keepdim else x.squeeze(dim)


def _tree_sum_native(x: torch.Tensor, dim: int) -> torch.Tensor | None:
    """tree_sum by the native kernel for a contiguous CPU float32 x summed over its last or
    first dim; None otherwise or when a NaN is met (the torch program then runs)."""
    if dim not in (0, x.dim() - 1):
        return None
    ext = native.native_cpu_f32(x)
    if ext is None:
        return None
    inner = dim == x.dim() - 1
    shape = x.shape[:-1] if inner else x.shape[1:]
    flat = x.view(-1, x.shape[-1]) if inner else x.view(x.shape[0], -1)
    out = torch.empty(shape, dtype=torch.float32)
    return out if ext.tree_sum_2d(flat, out.view(-1), inner) else None


def amax(x: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """max over `dim`, then + 0.0. Program: m = x[0]; m = maximum(m, x[k]) for k = 1..n-1;
    return m + 0.0. The maximum of a set is unique except for the sign of a zero and NaN
    (any NaN gives NaN), and + 0.0 maps -0 to +0, so every order and every tree gives the
    same bits: torch.amax (NaN-propagating on CPU and CUDA) may use any order."""
    return P.add(torch.amax(x, dim=dim, keepdim=keepdim), 0.0)


# -------------------------------------------------------------------------------- matmul


def matmul_slice_bits(k: int) -> int:
    """Bits s kept per operand so that k products of two s-bit integers sum exactly in
    binary64: k * 2**(2s) <= 2**53. Capped at 24 (a binary32 significand)."""
    return min(24, (53 - max(0, (k - 1).bit_length())) // 2)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., M, K) @ (..., K, N) in float32, deterministic by exactness.

    Scalar program for y[i, j] (row a_k = a[i, k], column b_k = b[k, j], k < K):
      s = matmul_slice_bits(K)
      E = frexp exponent of max_k |a_k|  (so |a_k| < 2**E; E = 0 if the row is all zero)
      F = same for the column b
      A_k = round_half_even(a_k * 2**(s - E))   integers, |A_k| <= 2**s  (exact scaling)
      B_k = round_half_even(b_k * 2**(s - F))
      S = sum_k A_k * B_k                        an integer, computed exactly (|S| <= 2**53)
      y = narrow(S * 2**(E - s) * 2**(F - s)) + 0.0   one rounding to binary32; zero is +0
      if row i of a or column j of b holds an inf or NaN: y = NaN.
    The binary64 GEMM computes S exactly whatever its summation order, blocking, FMA use or
    thread split, because every product and partial sum is an integer of at most 53 bits:
    so BLAS (CPU) or cuBLAS (GPU, any split-K) give the same bits. It keeps s (>= 20 for
    K <= 8192) bits of each operand relative to its row/column maximum.
    """
    k = a.shape[-1]
    if k == 0:  # an empty dot product is +0
        shape = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        return torch.zeros(shape, dtype=a.dtype, device=a.device)
    s = matmul_slice_bits(k)
    ext = native.native_cpu_f32(a, b) if a.dim() >= 2 and b.dim() >= 2 else None
    if ext is not None:
        out = _matmul_native(ext, a, b, s)
        if out is not None:
            return out
    a_max = _line_absmax(a, -1)
    b_max = _line_absmax(b, -2)
    # One host-side look at the line maxima (a tiny reduction each) spares the NaN-penalty
    # tensors and their two passes over the output in the usual case where every line is
    # finite (amax propagates NaN, so a line holding an inf or NaN has a non-finite maximum),
    # and tells whether the grid rounding may run in binary32 (_to_grid_finite).
    a_range, b_range = _range(a_max), _range(b_max)
    if math.isfinite(a_range[1]) and math.isfinite(b_range[1]):
        # torch.matmul on float64 values that are integers times 2**(E-s) and 2**(F-s): every
        # product and partial sum of one output is an integer multiple of 2**(E+F-2s) below
        # 2**(53+E+F-2s), so it is exact: any summation order, blocking or FMA gives S exactly.
        acc = torch.matmul(_to_grid_finite(a, a_max, s, a_range), _to_grid_finite(b, b_max, s, b_range))
        return P.narrow(acc).add_(0.0)  # one rounding; + 0.0 maps a -0 to +0
    a_grid, pen_row = _to_grid(a, -1, s)
    b_grid, pen_col = _to_grid(b, -2, s)
    acc = torch.matmul(a_grid, b_grid)  # exact, as above: grid values, finite by construction
    # narrow rounds once; adding the +0 / NaN penalties maps -0 to +0 and poisons bad lines.
    return P.add(P.add(P.narrow(acc), pen_row), pen_col)


def _grid_native(ext, x: torch.Tensor, rows: bool, s: int) -> torch.Tensor | None:
    """The native fused grid rounding (one read for the line maxima, one read + write),
    in _widen_for_gemm's layout; None if a line is not finite (the torch program runs)."""
    if x.transpose(-1, -2).is_contiguous() and not x.is_contiguous():
        out = torch.empty_like(x, dtype=torch.float64)  # keeps the transposed strides
    else:
        out = torch.empty(x.shape, dtype=torch.float64)
    xv, ov = x, out
    if not out.is_contiguous():  # a transposed operand: walk it in memory order
        xv, ov, rows = x.transpose(-1, -2), out.transpose(-1, -2), not rows
    r, c = xv.shape[-2], xv.shape[-1]
    xv = xv.reshape(-1, r, c)
    if xv.stride(-1) != 1 and c > 1:
        xv = xv.clone(memory_format=torch.contiguous_format)
    ok = ext.to_grid(xv, ov.view(-1, r, c), rows, s)  # view: the kernel must write `out`
    return out if ok else None


def _matmul_native(ext, a: torch.Tensor, b: torch.Tensor, s: int) -> torch.Tensor | None:
    """matmul's program with fused grid rounding and narrowing (repops/ops/native); None
    when a line holds an inf or NaN, which the torch program handles."""
    a_grid = _grid_native(ext, a, True, s)
    if a_grid is None:
        return None
    b_grid = _grid_native(ext, b, False, s)
    if b_grid is None:
        return None
    acc = torch.matmul(a_grid, b_grid).contiguous()  # exact: the same grids as matmul()'s torch program
    out = torch.empty(acc.shape, dtype=torch.float32)
    ext.narrow_plus_zero(acc, out)
    return out


def onehot_matmul(idx: torch.Tensor, num: int, g: torch.Tensor) -> torch.Tensor:
    """matmul(onehot(idx)^T, g) for int64 idx (N,) in [0, num) and g (N, C): the embedding
    gradient, the same bits as that matmul without its (num, N) operand or its GEMM.

    Why it is the same: a one-hot row's maximum is 1 (E = 1), so A_k = 2**(s-1) where
    idx[k] = v, else 0, and S * 2**(1+F-2s) = sum over {k : idx[k] = v} of
    round_half_even(g[k, j] * 2**(s-F)) * 2**(F-s): a sum of grid values, integers times
    2**(F-s) below 2**(53+F-s) in magnitude, which binary64 index_add_ computes exactly in
    any order (on CUDA its atomics too). A row v no index hits stays +0. A column of g with
    an inf or NaN takes the matmul itself (its result is NaN in every row)."""
    n, c = g.shape
    if n == 0:
        return torch.zeros(num, c, dtype=g.dtype, device=g.device)
    g_max = _line_absmax(g, -2)
    g_range = _range(g_max)
    if not math.isfinite(g_range[1]):
        onehot_t = (torch.arange(num, device=g.device)[:, None] == idx[None, :]).to(g.dtype)
        return matmul(onehot_t, g)
    grid = _to_grid_finite(g, g_max, matmul_slice_bits(n), g_range)
    acc = torch.zeros(num, c, dtype=torch.float64, device=g.device).index_add_(0, idx, grid)
    return P.narrow(acc).add_(0.0)


def _line_absmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """max |x| along `dim` (keepdim), binary32: exact in any order; NaN propagates."""
    return torch.amax(x.abs(), dim=dim, keepdim=True) if x.numel() else x.abs().sum(dim, keepdim=True)


def _range(line_max: torch.Tensor) -> tuple[float, float]:
    """(smallest, largest) line maximum as Python floats; (1, 1) when there are no lines."""
    if not line_max.numel():
        return 1.0, 1.0
    lo, hi = torch.aminmax(line_max)
    return float(lo), float(hi)


# Rounding constant for the grid 2**(E-s), assembled from the bits of the line maximum m
# widened to binary64: exponent field f (2**(f-1023) <= m < 2**(f-1022), E = f - 1022) plus
# 53 - s gives the field of 2**(52+E-s); the significand bit 51 makes it 1.5 * that. After
# masking the exponent field the low bits are zero, so adding bit 51 equals or-ing it in.
_EXP_FIELD = 0x7FF << 52


def _to_grid_finite(x: torch.Tensor, absmax: torch.Tensor, s: int, line_range: tuple[float, float]) -> torch.Tensor:
    """_to_grid for lines known to be finite (no penalty), as a binary64 tensor: x + c - c.

    In binary64 (widen, then in place on the fresh copy; a mixed float32 + float64 add would
    save a pass but takes torch's slow casting loop, 15x slower at 256K elements), or, when
    s <= 22 and every line maximum m has 2**-126 <= m < 2**(104+s), in binary32 before
    widening (fewer bytes per pass): c32 = 1.5 * 2**(23+E-s) is then a normal binary32
    whose binade [2**(23+E-s), 2**(24+E-s)) holds x + c32 (|x| < 2**E <= 2**(22+E-s)) with
    ulp 2**(E-s), so x + c32 - c32 rounds x to the same grid, ties to even, exactly as the
    binary64 form does. c32's bits: m's binary32 exponent field (E + 126) plus 24 - s, and
    significand bit 22."""
    lo, hi = line_range
    if s <= 22 and lo >= _F32_TINY and hi < 2.0 ** (104 + s):
        c32 = (absmax.view(torch.int32) & _EXP_FIELD32).add_(((24 - s) << 23) + (1 << 22)).view(torch.float32)
        return _widen_for_gemm(torch.add(x, c32).sub_(c32))
    bits = P.widen(absmax).view(torch.int64)
    c = (bits & _EXP_FIELD).add_(((53 - s) << 52) + (1 << 51)).view(torch.float64)
    return _widen_for_gemm(x).add_(c).sub_(c)


_EXP_FIELD32 = 0xFF << 23
_F32_TINY = 2.0**-126  # the smallest normal binary32


def _widen_for_gemm(x: torch.Tensor) -> torch.Tensor:
    """widen (exact). Layout: a row-major or transposed operand keeps its layout (a
    transposing copy costs more than dgemm gains from it); a strided view (a head of the
    fused q/k/v projection) is made row-major, which measured 20% faster in the attention's
    batched dgemm."""
    if x.is_contiguous() or x.transpose(-1, -2).is_contiguous():
        return P.widen(x)
    return x.to(torch.float64, memory_format=torch.contiguous_format)


def _to_grid(x: torch.Tensor, dim: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(round_half_even(x * 2**(s-E)) * 2**(E-s) in binary64, penalty), E per line along
    `dim`; penalty is +0.0 for a finite line and NaN for one holding an inf or NaN.

    E is read from the bits of the line's max |x| widened to binary64 (where every binary32,
    subnormals included, is normal): exponent field f gives 2**(f-1023) <= max < 2**(f-1022),
    so E = f - 1022 (frexp's exponent); an all-zero line has f = 0, and any E works for it.
    Rounding to the grid 2**(E-s), ties to even, is x + c - c with c = 1.5 * 2**(52+E-s):
    x + c lies in [2**(52+E-s), 2**(53+E-s)) whose ulp is exactly 2**(E-s), and both ops are
    single IEEE roundings. This equals round_half_even(x * 2**(s-E)) * 2**(E-s), which the
    reference computes; c's bits are assembled directly (exponent 52+E-s, significand 1.5).
    """
    absmax = P.widen(torch.amax(x.abs(), dim=dim, keepdim=True))  # exact; NaN/inf propagate
    field = absmax.view(torch.int64) >> 52  # sign bit is 0
    bad = field == 2047  # inf or NaN in the line
    c_exp = torch.where(bad, torch.zeros_like(field), field - 1022 + 52 - s + 1023)
    c = ((c_exp << 52) | (1 << 51)).view(torch.float64)
    x64 = P.widen(x)
    x64.add_(c).sub_(c)  # in place on the fresh copy: the same two IEEE operations
    pen = P.where(bad, torch.tensor(NAN, device=x.device), torch.tensor(0.0, device=x.device)).to(x.dtype)
    return x64, pen


# ------------------------------------------------------------------------ transcendentals

# Constants: binary64 values, written so that they are exact or correctly rounded in Python
# (int / int true division is correctly rounded): the same bits on every machine.
LN2_HI = float.fromhex("0x1.62e42feep-1")  # ln 2 to 32 bits: k * LN2_HI exact for |k| < 2**21
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")  # ln 2 - LN2_HI, rounded
LN2 = float.fromhex("0x1.62e42fefa39efp-1")
INV_LN2 = float.fromhex("0x1.71547652b82fep0")
SQRT_HALF = float.fromhex("0x1.6a09e667f3bcdp-1")
EXP_COEFFS = tuple(1 / math.factorial(n) for n in range(10, -1, -1))  # r^10 ... r^0
LOG_COEFFS = tuple(1 / (2 * n + 1) for n in range(7, -1, -1))  # z^7/15 ... 1/1
GELU_C0 = float.fromhex("0x1.9884533d43651p-1")  # sqrt(2/pi), rounded to binary64
GELU_C1 = 0.044715
EXP_CLAMP = 700.0
ROUND_C = 1.5 * 2.0**52  # (t + ROUND_C) - ROUND_C = round_half_even(t) for |t| < 2**51
EXP_L_HI = LN2_HI / 32  # exact (power-of-two division); 32 significant bits
EXP_L_LO = LN2_LO / 32
EXP_INV_L = float.fromhex("0x1.71547652b82fep5")  # 32 / ln 2, rounded
EXP_POLY = (1 / 24, 1 / 6, 1 / 2, 1.0, 1.0)
_ROUND_C_BITS = struct.unpack("<q", struct.pack("<d", ROUND_C))[0]


def exp64(x: torch.Tensor) -> torch.Tensor:
    """binary64 program for e**x (NaN in gives NaN out, see exp).

      x = clamp(x, -700, 700)
      k = round_half_even(x * EXP_INV_L)        (as (t + ROUND_C) - ROUND_C, |t| < 2**51)
      r = (x - k * EXP_L_HI) - k * EXP_L_LO     |r| <= ln2/64 = 0.0109
      j = k mod 32 (k & 31);  m = floor(k / 32) (k >> 5)
      p = ((((r * (1/24) + 1/6) * r + 1/2) * r + 1) * r + 1
      return (EXP_TABLE[j] * p) * 2**m
    Relative error < 2**-39 (truncation r^5/120 plus roundings), so the binary32 result is
    within 0.5 + 2**-15 ulp. In-place ops on fresh buffers: the same IEEE operations in the
    same order, without an allocation per step.

    The last two multiplies are done as p * (EXP_TABLE[j] * 2**m), the scale assembled as
    integers (EXP_TABLE[j]'s bits plus m in the exponent field): the same bits, because
    scaling by 2**m is exact here (|m| <= 1010 keeps T * 2**m and the result normal), so
    round(T * p) * 2**m = round(p * (T * 2**m)). NaN: any int64 that k converts to indexes
    the table in range (& 31), and NaN times any scale is NaN."""
    xc = torch.clamp(x, -EXP_CLAMP, EXP_CLAMP)
    u = P.mul(xc, EXP_INV_L).add_(ROUND_C)
    # u = ROUND_C + k exactly (u lies in [2**52, 2**53), where the ulp is 1), so k as an
    # integer is u's bits minus ROUND_C's: cheaper than a float64 -> int64 conversion.
    ki = u.view(torch.int64) - _ROUND_C_BITS  # |k| <= 700 * 32 / ln 2 < 2**15
    k = u.sub_(ROUND_C)
    t = P.mul(k, EXP_L_HI)
    r = xc.sub_(t).sub_(torch.mul(k, EXP_L_LO, out=t))  # t reused: k * EXP_L_LO
    j = ki & 31
    scale = _exp_table_bits(x.device).index_select(0, j.reshape(-1)).view(ki.shape)
    scale.add_(ki.sub_(j).bitwise_left_shift_(47))  # + (32 m) << 47 = m << 52: times 2**m
    p = P.mul(r, EXP_POLY[0])
    for c in EXP_POLY[1:-1]:
        p.add_(c).mul_(r)
    p.add_(EXP_POLY[-1])
    return p.mul_(scale.view(torch.float64))


CHUNK = 1 << 15


def _chunked(program):
    """Run an elementwise program over blocks of CHUNK elements. Elementwise means each
    output element depends only on its own input element, so blocking cannot change a bit;
    it keeps the binary64 temporaries (CHUNK * 8 bytes each) in the CPU's L2 cache, which
    makes the 25-40 passes of a program several times faster on large tensors."""

    def run(*xs: torch.Tensor):
        x = xs[0]
        if x.numel() <= CHUNK or x.device.type != "cpu":  # GPUs want one big launch
            return program(*xs)
        flats = [t.reshape(-1) for t in xs]
        outs = None
        for start in range(0, x.numel(), CHUNK):
            part = program(*(f[start : start + CHUNK] for f in flats))
            parts = part if isinstance(part, tuple) else (part,)
            if outs is None:
                outs = [torch.empty(x.numel(), dtype=q.dtype, device=x.device) for q in parts]
            for o, q in zip(outs, parts):
                o[start : start + CHUNK] = q
        shaped = tuple(o.view(x.shape) for o in outs)
        return shaped if len(shaped) > 1 else shaped[0]

    run.__name__ = program.__name__
    run.__doc__ = program.__doc__
    run.program = program
    return run


def _const(value: float, like: torch.Tensor) -> torch.Tensor:
    """A 0-dim tensor for torch.where's other branch (no full-size allocation)."""
    return P.scalar(value, like.dtype, like.device)


_EXP_TABLES: dict[torch.device, torch.Tensor] = {}


def _exp_table_bits(device: torch.device) -> torch.Tensor:
    """EXP_TABLE's binary64 bits as int64, one copy per device."""
    t = _EXP_TABLES.get(device)
    if t is None:
        t = _EXP_TABLES[device] = torch.tensor(EXP_TABLE, dtype=torch.float64, device=device).view(torch.int64)
    return t


def _two_to_the_j_over_32(j: int) -> float:
    """2**(j/32) correctly rounded to binary64, by exact integer arithmetic: y = floor of
    2**(j/32 + 100) via five nested integer square roots (floor(sqrt(floor(v))) =
    floor(sqrt(v))); float(y) rounds to nearest, which is the correct rounding of y + frac
    unless y sits exactly on a rounding midpoint (checked: it does not)."""
    y = 1 << (j + 100 * 32)
    for _ in range(5):
        y = math.isqrt(y)
    low = y & ((1 << (y.bit_length() - 53)) - 1)
    assert j == 0 or low != 1 << (y.bit_length() - 54), "midpoint: needs more bits"
    return float(y) * 2.0**-100


EXP_TABLE = tuple(_two_to_the_j_over_32(j) for j in range(32))


@_chunked
def exp(x: torch.Tensor) -> torch.Tensor:
    """binary32 e**x = narrow(exp64(widen(x))); NaN -> NaN, +inf -> +inf, -inf -> +0,
    x > 88.7228 -> +inf, results below 2**-126 rounded gradually (subnormal).
    NaN needs no mask: clamp keeps it, so r and p are NaN; k's integer conversion then gives
    some int32 whatever the backend, `& 31` keeps the table index in range, and NaN times
    any scale is NaN."""
    return P.narrow(exp64(P.widen(x)))


@_chunked
def log(x: torch.Tensor) -> torch.Tensor:
    """binary32 natural log. Specials: NaN or x < 0 -> NaN, +-0 -> -inf, +inf -> +inf.
    For finite x > 0, in binary64:
      e = frexp exponent of x;  m = x * 2**-e  in [0.5, 1)
      if m < SQRT_HALF: m = m * 2; e = e - 1           m in [0.7071, 1.4142)
      f = m - 1 (exact);  s = f / (2 + f);  z = s * s
      q = LOG_COEFFS[0]; q = q * z + c for c in LOG_COEFFS[1:]   (1/15 ... 1/1)
      y = e * LN2 + (2 * s) * q
    return narrow(y)."""
    ok = (x > 0) & (x < INF)
    xd = P.widen(P.where(ok, x, _const(1.0, x)))
    e = P.frexp_exponent(xd)
    m = P.mul(xd, P.pow2(-e))
    small = m < SQRT_HALF
    m = P.where(small, P.mul(m, 2.0), m)
    e = P.where(small, e - 1, e).to(torch.float64)
    f = P.sub(m, 1.0)
    s = P.div(f, P.add(f, 2.0))
    z = P.mul(s, s)
    q = torch.full_like(z, LOG_COEFFS[0])
    for c in LOG_COEFFS[1:]:
        q = P.add(P.mul(q, z), c)
    y = P.narrow(P.add(P.mul(e, LN2), P.mul(P.mul(s, 2.0), q)))
    y = P.where(x == 0, _const(-INF, y), P.where(x == INF, x, y))
    return P.where((x < 0) | P.isnan(x), _const(NAN, y), y)


TANH_SMALL = 2.0**-10


@_chunked
def tanh(x: torch.Tensor) -> torch.Tensor:
    """binary32 tanh; odd (the sign bit of x is copied, so tanh(-0) = -0), NaN -> NaN.
    With a = min(|x|, 20) in binary64:
      a < 2**-10:  t = a + a*a*a * (-1/3 + (a*a) * (2/15))
      otherwise:   t = 1 - 2 / (exp64(2 * a) + 1)
    return narrow(t) with x's sign bit."""
    nan = P.isnan(x)
    a = torch.clamp(P.abs_(P.widen(P.where(nan, _const(0.0, x), x))), max=20.0)
    a2 = P.mul(a, a)
    poly = P.mul(a2, a).mul_(P.mul(a2, 2 / 15).add_(-1 / 3)).add_(a)
    big = P.div(2.0, exp64(P.mul(a, 2.0)).add_(1.0)).neg_().add_(1.0)  # 1 - q as -q + 1
    t = P.narrow(P.where(a < TANH_SMALL, poly, big))
    bits = P.ior(P.bitcast_f32_i32(t), P.iand(P.bitcast_f32_i32(x), -(2**31)))
    return P.where(nan, x, P.bitcast_i32_f32(bits))


def _gelu_parts(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(xd, q, den) in binary64: v = -2 * (C0 * (x + C1 * x*x*x)); q = exp64(v); den = 1 + q."""
    xd = P.widen(x)
    v = P.mul(xd, xd).mul_(xd).mul_(GELU_C1).add_(xd).mul_(GELU_C0).mul_(-2.0)
    q = exp64(v)
    return xd, q, P.add(q, 1.0)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """binary32 GELU, tanh form: 0.5 x (1 + tanh(C0 (x + C1 x^3))) = x / (1 + e^v) with
    v = -2 C0 (x + C1 x^3) (no cancellation). Program (binary64, see _gelu_parts):
    y = narrow(x / den). Specials: NaN -> NaN, +inf -> +inf, -inf -> -0."""
    return gelu_with_q(x)[0]


def gelu_with_q(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gelu(x), q) where q is the binary64 exp64(v) of the program, kept for the backward
    (gelu_grad_from_q), so the backward does not evaluate exp64 again: same bits. The fused
    native kernel runs it when it can (not for a NaN input: the torch program does)."""
    ext = native.native_cpu_f32(x)
    if ext is not None:
        xc = x.contiguous()
        y, q = torch.empty(x.shape, dtype=torch.float32), torch.empty(x.shape, dtype=torch.float64)
        if ext.gelu_forward(xc, y, q):
            return y, q
    return _gelu_with_q_torch(x)


@_chunked
def _gelu_with_q_torch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """gelu_with_q's torch program."""
    nan = P.isnan(x)
    xs = P.where(nan | (x == -INF), _const(0.0, x), x)
    xd, q, den = _gelu_parts(xs)
    y = P.narrow(P.div(xd, den))
    y = P.where(x == -INF, _const(-0.0, y), y)
    return P.where(nan, x, y), q


def gelu_grad(x: torch.Tensor) -> torch.Tensor:
    """binary32 d gelu / dx. In binary64 (see _gelu_parts):
      sig = 1 / den;  w = (q / den) / den                      (= sig * (1 - sig))
      d = sig + (x * w) * ((2 * C0) * (1 + (3 * C1) * (x * x)))
    return narrow(d). Specials: NaN -> NaN, +inf -> 1, -inf -> +0."""
    return gelu_grad_from_q(x, gelu_with_q(x)[1])


def gelu_grad_from_q(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """gelu_grad given the forward's q (equal to exp64(v) of x wherever x is finite; the
    other elements are overwritten by the specials). Native kernel when it can."""
    ext = native.native_cpu_f32(x)
    if ext is not None and q.dtype == torch.float64 and q.shape == x.shape and q.device == x.device:
        d = torch.empty(x.shape, dtype=torch.float32)
        if ext.gelu_backward(x.contiguous(), q.contiguous(), d):
            return d
    return _gelu_grad_from_q_torch(x, q)


@_chunked
def _gelu_grad_from_q_torch(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """gelu_grad_from_q's torch program."""
    nan = P.isnan(x)
    inf = P.abs_(x) == INF
    xd = P.widen(P.where(nan | inf, _const(0.0, x), x))
    den = P.add(q, 1.0)
    sig = P.div(1.0, den)
    w = P.div(P.div(q, den), den)
    du = P.mul(xd, xd).mul_(3 * GELU_C1).add_(1.0).mul_(2 * GELU_C0)
    d = P.narrow(w.mul_(xd).mul_(du).add_(sig))
    d = P.where(x == INF, _const(1.0, d), P.where(x == -INF, _const(0.0, d), d))
    return P.where(nan, x, d)


def relu(x: torch.Tensor) -> torch.Tensor:
    """maximum(x, +0) as one select: where(x <= 0, +0, x). The same bits: NaN <= 0 is false
    (NaN stays), -0 <= 0 is true (-0 becomes +0, as maximum(-0, +0) = +0). A select with +0
    (all bits clear) on one side is the kept operand's bits times 0 or 1, as integers."""
    if x.dtype not in (torch.float32, torch.float64):
        return P.where(x <= 0, _const(0.0, x), x)
    return torch.mul(x.view(P._BITS[x.dtype]), (x <= 0).logical_not_()).view(x.dtype)


def relu_backward(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """where(x > 0, g, +0), as g's bits times (x > 0)."""
    if g.dtype not in (torch.float32, torch.float64):
        return P.where(x > 0, g, _const(0.0, g))
    return torch.mul(g.view(P._BITS[g.dtype]), x > 0).view(g.dtype)


# ------------------------------------------------------------------------- normalisations


def _softmax_native(x: torch.Tensor, dim: int, want_log: bool):
    """(p, y) from the fused native row kernel, or None (not on, not the last dim, empty,
    or a row that makes NaNs: the torch program handles those)."""
    if dim % max(x.dim(), 1) != x.dim() - 1 or x.numel() == 0:
        return None
    ext = native.native_cpu_f32(x)
    if ext is None:
        return None
    rows = x.contiguous().view(-1, x.shape[-1])
    p = torch.empty(x.shape, dtype=torch.float32)
    y = torch.empty(x.shape, dtype=torch.float32) if want_log else p
    if not ext.softmax_rows(rows, p.view(rows.shape), y.view(rows.shape), want_log):
        return None
    return p, y


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """m = amax(x); e = exp(x - m); y = e / tree_sum(e)   (all binary32)."""
    fused = _softmax_native(x, dim, False)
    if fused is not None:
        return fused[0]
    e = exp(P.sub(x, amax(x, dim, keepdim=True)))
    return P.div(e, tree_sum(e, dim, keepdim=True))


def log_softmax(x: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, p): z = x - amax(x); e = exp(z); s = tree_sum(e); y = z - log(s); p = e / s."""
    fused = _softmax_native(x, dim, True)
    if fused is not None:
        return fused[1], fused[0]
    z = P.sub(x, amax(x, dim, keepdim=True))
    e = exp(z)
    s = tree_sum(e, dim, keepdim=True)
    return P.sub(z, log(s)), P.div(e, s)


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(y, xhat, rstd) over the last dim (n values), binary32:
    mu = tree_sum(x) / n; d = x - mu; var = tree_sum(d * d) / n;
    rstd = 1 / sqrt(var + eps); xhat = d * rstd; y = xhat * w + b."""
    n = float(x.shape[-1])
    mu = P.div(tree_sum(x, -1, keepdim=True), n)
    d = P.sub(x, mu)
    var = P.div(tree_sum(P.mul(d, d), -1, keepdim=True), n)
    rstd = P.div(1.0, P.sqrt(P.add(var, eps)))
    xhat = P.mul(d, rstd)
    return P.add(P.mul(xhat, weight), bias), xhat, rstd


def layer_norm_backward(
    g: torch.Tensor, xhat: torch.Tensor, rstd: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dw, db), binary32:
    gh = g * w; a = tree_sum(gh) / n; c = tree_sum(gh * xhat) / n   (over the last dim)
    dx = ((gh - a) - xhat * c) * rstd
    dw = rows_sum(g * xhat); db = rows_sum(g)   (rows_sum: tree over all leading dims,
    flattened in row-major order)."""
    n = float(g.shape[-1])
    gh = P.mul(g, weight)
    a = P.div(tree_sum(gh, -1, keepdim=True), n)
    c = P.div(tree_sum(P.mul(gh, xhat), -1, keepdim=True), n)
    dx = P.mul(P.sub(P.sub(gh, a), P.mul(xhat, c)), rstd)
    rows = g.reshape(-1, g.shape[-1])
    dw = tree_sum(P.mul(rows, xhat.reshape(rows.shape)), 0)
    db = tree_sum(rows, 0)
    return dx, dw, db


def sum_to_shape(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Undo broadcasting: tree-sum the leading extra dims (flattened, row-major) first, then
    every dim where `shape` has 1 and g does not, left to right (keepdim)."""
    extra = g.dim() - len(shape)
    if extra > 0:
        g = tree_sum(g.reshape(-1, *g.shape[extra:]), 0)
    for d, size in enumerate(shape):
        if size == 1 and g.shape[d] != 1:
            g = tree_sum(g, d, keepdim=True)
    return g
