# pragma version ~=0.4.3
"""
@title float64: bit-exact IEEE-754 binary64 arithmetic and the binary32 <-> binary64 bridge
@notice Operands and results are uint64 bit patterns (binary32 ones are uint32). Rounding is
        round-to-nearest-even; subnormals, infinities and signed zeros follow IEEE-754; every
        binary64 NaN result is the canonical quiet NaN 0x7ff8000000000000 and every binary32
        one 0x7fc00000, whatever the payload of a NaN operand (RepOps' NaN rule).
        These are the binary64 RepOps primitives (repops/primitives.py, specified by
        repops/reference.py) that the matmul and transcendental scalar programs use.
@dev    Stateless Vyper module: `from lib import float64` then `float64.add(a, b)`.
        The same scheme as lib/float32.vy: every operation reduces its exact result to
        (sign, m, e) with value = m * 2**(e - EXP_OFFSET) and one routine per format rounds
        it; a lost remainder is folded into a sticky bit below the rounding bit.
"""

SIGN: constant(uint256) = 9223372036854775808           # 0x8000000000000000
ABS_MASK: constant(uint256) = 9223372036854775807       # 0x7fffffffffffffff
INF_BITS: constant(uint256) = 9218868437227405312       # 0x7ff0000000000000
FRAC_MASK: constant(uint256) = 4503599627370495         # 2**52 - 1
HIDDEN_BIT: constant(uint256) = 4503599627370496        # 2**52
HALF_BITS: constant(uint256) = 4602678819172646912      # 0x3fe0000000000000 = 0.5
TWO63_BITS: constant(uint256) = 4890909195324358656     # 0x43e0000000000000 = 2**63

SIGN32: constant(uint256) = 2147483648                 # 0x80000000
ABS_MASK32: constant(uint256) = 2147483647
INF_BITS32: constant(uint256) = 2139095040             # 0x7f800000
FRAC_MASK32: constant(uint256) = 8388607

# Canonical NaNs and infinities, exported for callers.
NAN: constant(uint64) = 9221120237041090560             # 0x7ff8000000000000
POS_INF: constant(uint64) = 9218868437227405312         # 0x7ff0000000000000
NEG_INF: constant(uint64) = 18442240474082181120        # 0xfff0000000000000
NAN32: constant(uint32) = 2143289344                   # 0x7fc00000

# Exponents travel as uint256 offset by EXP_OFFSET (value = m * 2**(E - EXP_OFFSET)): the
# smallest exact exponent any operation forms (a quotient of a subnormal by the largest
# normal, minus DIV_EXTRA) is about -2200, so everything stays positive.
EXP_OFFSET: constant(uint256) = 4096
# E of the binary64 subnormal scale 2**-1074 (also of the smallest normal's unit).
E_MIN: constant(uint256) = 3022                         # EXP_OFFSET - 1074
# The same for binary32 results (narrow, scaled_narrow): 2**-149.
E_MIN32: constant(uint256) = 3947                       # EXP_OFFSET - 149
# Beyond this exponent gap the smaller addend only matters as a sticky bit (see _add).
ADD_GAP: constant(uint256) = 64
# Extra quotient bits for div: a subnormal dividend (1 significant bit) over a 53-bit
# divisor still yields >= 76 quotient bits, more than the 55 that rounding needs.
DIV_EXTRA: constant(uint256) = 128
# scaled_narrow: exponents beyond this bound are certain overflow / underflow.
SCALE_BOUND: constant(int256) = 2000

# T[j] = 2**(j/32) correctly rounded to binary64, j < 32: the exp program's table (the same
# bits as repops.reference.EXP_TABLE and repops.ops.kernels.EXP_TABLE; a test checks them).
EXP_TABLE: constant(uint64[32]) = [
    4607182418800017408,
    4607281034790536564,
    4607381810190059791,
    4607484792283487057,
    4607590029391122811,
    4607697570891348394,
    4607807467243790904,
    4607919770012999393,
    4608034531892639509,
    4608151806730217931,
    4608271649552348194,
    4608394116590569773,
    4608519265307732519,
    4608647154424958850,
    4608777843949196329,
    4608911395201373573,
    4609047870845172685,
    4609187334916431732,
    4609329852853191047,
    4609475491526397459,
    4609624319271280859,
    4609776405919417829,
    4609931822831497360,
    4610090642930804061,
    4610252940737434541,
    4610418792403263047,
    4610588275747672732,
    4610761470294069353,
    4610938457307194503,
    4611119319831255903,
    4611304142728892634,
    4611493012720993600,
]

@internal
@pure
def _bitlen(v: uint256) -> uint256:
    # Number of significant bits of v (any uint256).
    x: uint256 = v
    n: uint256 = 0
    if x >> 128 != 0:
        x = x >> 128
        n = 128
    if x >> 64 != 0:
        x = x >> 64
        n = unsafe_add(n, 64)
    if x >> 32 != 0:
        x = x >> 32
        n = unsafe_add(n, 32)
    if x >> 16 != 0:
        x = x >> 16
        n = unsafe_add(n, 16)
    if x >> 8 != 0:
        x = x >> 8
        n = unsafe_add(n, 8)
    if x >> 4 != 0:
        x = x >> 4
        n = unsafe_add(n, 4)
    if x >> 2 != 0:
        x = x >> 2
        n = unsafe_add(n, 2)
    if x >> 1 != 0:
        x = x >> 1
        n = unsafe_add(n, 1)
    return unsafe_add(n, x)


@internal
@pure
def _round_pack(sign: uint256, m: uint256, e: uint256, n: uint256) -> uint64:
    # Round m * 2**(e - EXP_OFFSET) to binary64 with RNE; 2**(n-1) <= m < 2**n, n < 255.
    # An inexact value is passed as (2m + 1, e - 1, n + 1): that sticky 1 then sits strictly
    # below the rounding bit, because inexact callers always keep >= 55 significant bits.
    eo: uint256 = unsafe_sub(unsafe_add(e, n), 53)     # exponent of the 53-bit result
    if eo < E_MIN:
        eo = E_MIN                                     # subnormal result: fixed scale
    r: uint256 = 0
    if eo > e:
        s: uint256 = unsafe_sub(eo, e)
        if s <= n:                                     # else m < half an ulp: r = 0
            # Round half to even: add half - 1 plus the kept lsb, then truncate.
            half: uint256 = 1 << unsafe_sub(s, 1)
            r = unsafe_add(unsafe_add(m, unsafe_sub(half, 1)), (m >> s) & 1) >> s
    else:
        r = m << unsafe_sub(e, eo)
    # Normal: r in [2**52, 2**53] and bits = (biased - 1) << 52 + r; subnormal: eo = E_MIN
    # and bits = r. A rounding carry lands in the exponent field by itself.
    bits: uint256 = unsafe_add(unsafe_sub(eo, E_MIN) << 52, r)
    if bits >= INF_BITS:
        return convert(sign | INF_BITS, uint64)
    return convert(sign | bits, uint64)


@internal
@pure
def _round_pack32(sign: uint256, m: uint256, e: uint256, n: uint256) -> uint32:
    # As _round_pack, to binary32 (sign is 0 or SIGN32); inexact callers keep >= 26 bits.
    eo: uint256 = unsafe_sub(unsafe_add(e, n), 24)
    if eo < E_MIN32:
        eo = E_MIN32
    r: uint256 = 0
    if eo > e:
        s: uint256 = unsafe_sub(eo, e)
        if s <= n:
            half: uint256 = 1 << unsafe_sub(s, 1)
            r = unsafe_add(unsafe_add(m, unsafe_sub(half, 1)), (m >> s) & 1) >> s
    else:
        r = m << unsafe_sub(e, eo)
    bits: uint256 = unsafe_add(unsafe_sub(eo, E_MIN32) << 23, r)
    if bits >= INF_BITS32:
        return convert(sign | INF_BITS32, uint32)
    return convert(sign | bits, uint32)


@internal
@pure
def _add(x: uint256, y: uint256) -> uint64:
    ax: uint256 = x & ABS_MASK
    ay: uint256 = y & ABS_MASK
    if ax > INF_BITS or ay > INF_BITS:
        return NAN
    if ax == INF_BITS:
        if ay == INF_BITS and (x ^ y) & SIGN != 0:
            return NAN
        return convert(x, uint64)
    if ay == INF_BITS:
        return convert(y, uint64)
    if ax == 0:
        if ay == 0:
            return convert(x & y, uint64)   # -0 + -0 = -0, otherwise +0
        return convert(y, uint64)
    if ay == 0:
        return convert(x, uint64)
    sign: uint256 = x & SIGN
    if ay > ax:
        sign = y & SIGN
        t: uint256 = ax
        ax = ay
        ay = t
    ea: uint256 = ax >> 52
    ma: uint256 = ax & FRAC_MASK
    if ea == 0:
        ea = 1                                # subnormal: same scale as the smallest normal
    else:
        ma = ma | HIDDEN_BIT
    ea = unsafe_add(ea, EXP_OFFSET - 1075)
    eb: uint256 = ay >> 52
    mb: uint256 = ay & FRAC_MASK
    if eb == 0:
        eb = 1
    else:
        mb = mb | HIDDEN_BIT
    eb = unsafe_add(eb, EXP_OFFSET - 1075)
    d: uint256 = unsafe_sub(ea, eb)
    if d > ADD_GAP:
        # The smaller addend is below 2**(ea - 11), under a quarter of the result's ulp
        # (>= 2**ea, or 2**(ea-1) below a power of two): any such value rounds the same
        # way, so stand it in with one unit at scale ea - ADD_GAP.
        mb = 1
        d = ADD_GAP
    s: uint256 = ma << d
    if (x ^ y) & SIGN == 0:
        s = unsafe_add(s, mb)
    else:
        s = unsafe_sub(s, mb)
        if s == 0:
            return 0                          # exact cancellation is +0 under RNE
    # ma normal has 53 bits, so s has 53 + d (+1 carry, -1 borrow) bits unless it cancels.
    g: uint256 = unsafe_add(d, 53)
    n: uint256 = 0
    if s >> g != 0:
        n = unsafe_add(g, 1)
    elif s >> unsafe_sub(g, 1) != 0:
        n = g
    else:
        n = self._bitlen(s)
    return self._round_pack(sign, s, unsafe_sub(ea, d), n)


@internal
@pure
def add(a: uint64, b: uint64) -> uint64:
    return self._add(convert(a, uint256), convert(b, uint256))


@internal
@pure
def sub(a: uint64, b: uint64) -> uint64:
    return self._add(convert(a, uint256), convert(b, uint256) ^ SIGN)


@internal
@pure
def mul(a: uint64, b: uint64) -> uint64:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    ax: uint256 = x & ABS_MASK
    ay: uint256 = y & ABS_MASK
    sign: uint256 = (x ^ y) & SIGN
    if ax > INF_BITS or ay > INF_BITS:
        return NAN
    if ax == INF_BITS or ay == INF_BITS:
        if ax == 0 or ay == 0:
            return NAN                        # inf * 0
        return convert(sign | INF_BITS, uint64)
    if ax == 0 or ay == 0:
        return convert(sign, uint64)
    ea: uint256 = ax >> 52
    ma: uint256 = ax & FRAC_MASK
    if ea == 0:
        ea = 1
    else:
        ma = ma | HIDDEN_BIT
    ea = unsafe_add(ea, EXP_OFFSET - 1075)
    eb: uint256 = ay >> 52
    mb: uint256 = ay & FRAC_MASK
    if eb == 0:
        eb = 1
    else:
        mb = mb | HIDDEN_BIT
    eb = unsafe_add(eb, EXP_OFFSET - 1075)
    m: uint256 = unsafe_mul(ma, mb)
    n: uint256 = 0
    if m >> 105 != 0:
        n = 106
    elif m >> 104 != 0:
        n = 105
    else:
        n = self._bitlen(m)                   # a subnormal operand
    return self._round_pack(sign, m, unsafe_sub(unsafe_add(ea, eb), EXP_OFFSET), n)


@internal
@pure
def div(a: uint64, b: uint64) -> uint64:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    ax: uint256 = x & ABS_MASK
    ay: uint256 = y & ABS_MASK
    sign: uint256 = (x ^ y) & SIGN
    if ax > INF_BITS or ay > INF_BITS:
        return NAN
    if ax == INF_BITS:
        if ay == INF_BITS:
            return NAN                        # inf / inf
        return convert(sign | INF_BITS, uint64)
    if ay == INF_BITS:
        return convert(sign, uint64)
    if ay == 0:
        if ax == 0:
            return NAN                        # 0 / 0
        return convert(sign | INF_BITS, uint64)
    if ax == 0:
        return convert(sign, uint64)
    ea: uint256 = ax >> 52
    ma: uint256 = ax & FRAC_MASK
    if ea == 0:
        ea = 1
    else:
        ma = ma | HIDDEN_BIT
    ea = unsafe_add(ea, EXP_OFFSET - 1075)
    eb: uint256 = ay >> 52
    mb: uint256 = ay & FRAC_MASK
    if eb == 0:
        eb = 1
    else:
        mb = mb | HIDDEN_BIT
    eb = unsafe_add(eb, EXP_OFFSET - 1075)
    num: uint256 = ma << DIV_EXTRA
    q: uint256 = unsafe_div(num, mb)
    n: uint256 = 0
    if q >> 129 != 0 or q >> 127 == 0:
        n = self._bitlen(q)                   # a subnormal operand
    elif q >> 128 != 0:
        n = 129
    else:
        n = 128
    e: uint256 = unsafe_sub(unsafe_add(ea, EXP_OFFSET), unsafe_add(eb, DIV_EXTRA))
    if unsafe_mul(q, mb) != num:
        return self._round_pack(sign, unsafe_add(q << 1, 1), unsafe_sub(e, 1), unsafe_add(n, 1))
    return self._round_pack(sign, q, e, n)


@internal
@pure
def round_even(a: uint64) -> uint64:
    # RepOps `round_even` on binary64 (torch.round / numpy rint): the nearest integral
    # binary64, ties to even; the sign is kept (round(-0.3) = -0); infinities are returned.
    x: uint256 = convert(a, uint256)
    ax: uint256 = x & ABS_MASK
    if ax > INF_BITS:
        return NAN
    f: uint256 = ax >> 52
    if f >= 1075:
        return a                              # |a| >= 2**52: already integral (or inf)
    sign: uint256 = x & SIGN
    if f < 1022:
        return convert(sign, uint64)          # |a| < 0.5
    s: uint256 = unsafe_sub(1075, f)          # fraction bits of the significand, 1..53
    m: uint256 = (ax & FRAC_MASK) | HIDDEN_BIT
    half: uint256 = 1 << unsafe_sub(s, 1)
    r: uint256 = unsafe_add(unsafe_add(m, unsafe_sub(half, 1)), (m >> s) & 1) >> s
    if r == 0:
        return convert(sign, uint64)          # 0.5 is a tie to 0
    # r << s is at most 2**53: a carry lands in the exponent field by itself.
    return convert(sign | unsafe_add(unsafe_sub(f, 1) << 52, r << s), uint64)


@internal
@pure
def neg(a: uint64) -> uint64:
    x: uint256 = convert(a, uint256)
    if x & ABS_MASK > INF_BITS:
        return NAN
    return convert(x ^ SIGN, uint64)


@internal
@pure
def abs(a: uint64) -> uint64:
    x: uint256 = convert(a, uint256) & ABS_MASK
    if x > INF_BITS:
        return NAN
    return convert(x, uint64)


@internal
@pure
def is_nan(a: uint64) -> bool:
    return convert(a, uint256) & ABS_MASK > INF_BITS


@internal
@pure
def _key(x: uint256) -> uint256:
    # Order-preserving key of a non-NaN value: -0 and +0 both map to SIGN.
    if x & SIGN != 0:
        return unsafe_sub(SIGN, x & ABS_MASK)
    return unsafe_add(SIGN, x)


@internal
@pure
def lt(a: uint64, b: uint64) -> bool:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return False
    return self._key(x) < self._key(y)


@internal
@pure
def le(a: uint64, b: uint64) -> bool:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return False
    return self._key(x) <= self._key(y)


@internal
@pure
def eq(a: uint64, b: uint64) -> bool:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return False
    return x == y or (x | y) & ABS_MASK == 0


@internal
@pure
def min(a: uint64, b: uint64) -> uint64:
    # As RepOps `minimum`: NaN if either is NaN, else (a if a < b else b). The programs'
    # clamps (exp's [-700, 700], tanh's min(|x|, 20)) are max/min of this kind.
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return NAN
    if self._key(x) < self._key(y):
        return a
    return b


@internal
@pure
def max(a: uint64, b: uint64) -> uint64:
    # As RepOps `maximum`: NaN if either is NaN, else (a if a > b else b).
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return NAN
    if self._key(x) > self._key(y):
        return a
    return b


@internal
@pure
def widen(a: uint32) -> uint64:
    # binary32 -> binary64, exact (every binary32, subnormals included, is a normal binary64).
    x: uint256 = convert(a, uint256)
    ax: uint256 = x & ABS_MASK32
    sign: uint256 = (x & SIGN32) << 32
    if ax > INF_BITS32:
        return NAN
    if ax == INF_BITS32:
        return convert(sign | INF_BITS, uint64)
    if ax == 0:
        return convert(sign, uint64)
    if ax > FRAC_MASK32:
        # normal: rebias the exponent field by 1023 - 127, widen the fraction by 29 bits
        return convert(sign | unsafe_add(unsafe_add(ax >> 23, 896) << 52, (ax & FRAC_MASK32) << 29), uint64)
    return self._round_pack(sign, ax, EXP_OFFSET - 149, self._bitlen(ax))   # exact


@internal
@pure
def narrow(a: uint64) -> uint32:
    # binary64 -> binary32: round to nearest even, overflow to +-inf, gradual underflow.
    x: uint256 = convert(a, uint256)
    ax: uint256 = x & ABS_MASK
    sign: uint256 = (x & SIGN) >> 32
    if ax > INF_BITS:
        return NAN32
    if ax == INF_BITS:
        return convert(sign | INF_BITS32, uint32)
    if ax == 0:
        return convert(sign, uint32)
    e: uint256 = ax >> 52
    m: uint256 = ax & FRAC_MASK
    if e == 0:
        # a binary64 subnormal is far below binary32's smallest subnormal: a signed zero
        return convert(sign, uint32)
    m = m | HIDDEN_BIT
    return self._round_pack32(sign, m, unsafe_add(e, EXP_OFFSET - 1075), 53)


@internal
@pure
def pow2(n: int256) -> uint64:
    # 2**n as binary64 from its bits. RepOps defines -1022 <= n <= 1023; outside it this
    # follows the reference's ldexp: subnormal powers down to 2**-1074, then +0; +inf above.
    if n > 1023:
        return POS_INF
    if n >= -1022:
        return convert(convert(n + 1023, uint256) << 52, uint64)
    if n >= -1074:
        return convert(1 << convert(n + 1074, uint256), uint64)
    return 0


@internal
@pure
def frexp_exponent(a: uint64) -> int256:
    # frexp's exponent: the e with 2**(e-1) <= |a| < 2**e for finite nonzero a (subnormals
    # normalised); 0 for zeros, infinities and NaNs (as numpy and torch return).
    ax: uint256 = convert(a, uint256) & ABS_MASK
    f: uint256 = ax >> 52
    if ax == 0 or f == 2047:
        return 0
    if f == 0:
        return convert(self._bitlen(ax), int256) - 1074
    return convert(f, int256) - 1022


@internal
@pure
def trunc_int64(a: uint64) -> int64:
    # Cast to int64 truncating toward zero (torch's `.to(int)`, numpy's astype), as the exp
    # program turns its integral k into a table index and a scale. Where the cast is
    # undefined this defines: NaN -> 0, out of range (infinities included) saturates.
    x: uint256 = convert(a, uint256)
    ax: uint256 = x & ABS_MASK
    if ax > INF_BITS:
        return 0
    if ax >= TWO63_BITS:
        if x & SIGN != 0:
            return min_value(int64)
        return max_value(int64)
    f: uint256 = ax >> 52
    if f < 1023:
        return 0                              # |a| < 1
    m: uint256 = (ax & FRAC_MASK) | HIDDEN_BIT
    v: uint256 = 0
    if f >= 1075:
        v = m << unsafe_sub(f, 1075)
    else:
        v = m >> unsafe_sub(1075, f)
    if x & SIGN != 0:
        return convert(-convert(v, int256), int64)
    return convert(v, int64)


@internal
@pure
def from_int64(v: int64) -> uint64:
    # int64 -> binary64, round to nearest even (exact for |v| <= 2**53).
    if v == 0:
        return 0
    sign: uint256 = 0
    w: int256 = convert(v, int256)
    if w < 0:
        sign = SIGN
        w = -w
    m: uint256 = convert(w, uint256)
    return self._round_pack(sign, m, EXP_OFFSET, self._bitlen(m))


@internal
@pure
def scaled_narrow(s: int256, exp2: int256) -> uint32:
    # narrow(s * 2**exp2) with ONE rounding from the exact value: the last step of the RepOps
    # matmul, y = narrow(S * 2**(E+F-2s)) for the exact integer dot product S (the program
    # then adds +0.0 in binary32, which maps a -0 to +0). Any int256 s and exp2.
    if s == 0:
        return 0
    sign: uint256 = 0
    m: uint256 = 0
    if s < 0:
        sign = SIGN32
        m = unsafe_add(convert(-(s + 1), uint256), 1)   # |s|, also for min_value(int256)
    else:
        m = convert(s, uint256)
    if exp2 > SCALE_BOUND:
        return convert(sign | INF_BITS32, uint32)    # |s| * 2**exp2 >= 2**2001
    if exp2 < -SCALE_BOUND:
        return convert(sign, uint32)                 # below 2**-1744: rounds to zero
    e: uint256 = convert(exp2 + convert(EXP_OFFSET, int256), uint256)
    n: uint256 = self._bitlen(m)
    if n > 64:
        # keep 63 bits and a sticky bit for the rest (exact when the rest is zero)
        k: uint256 = unsafe_sub(n, 63)
        sticky: uint256 = 0
        low: uint256 = 1 << k
        if m & unsafe_sub(low, 1) != 0:
            sticky = 1
        m = ((m >> k) << 1) | sticky
        e = unsafe_sub(unsafe_add(e, k), 1)
        n = 64
    return self._round_pack32(sign, m, e, n)


@internal
@pure
def exp_table(j: uint256) -> uint64:
    # T[j mod 32] of the exp program, which indexes the table with k & 31.
    return EXP_TABLE[j & 31]
