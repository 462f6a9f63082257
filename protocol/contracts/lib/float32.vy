# pragma version ~=0.4.3
"""
@title float32: bit-exact IEEE-754 binary32 arithmetic
@notice Operands and results are uint32 bit patterns. Rounding is round-to-nearest-even;
        subnormals, infinities and signed zeros follow IEEE-754; every NaN result is the
        canonical quiet NaN 0x7fc00000, whatever the payload of a NaN operand.
@dev    Stateless Vyper module: `from lib import float32` then `float32.add(a, b)`.
        Every operation reduces its exact result to (sign, m, e) with value = m * 2**e and
        shares one rounding routine, `_round_pack`; a lost remainder below m is folded into
        a sticky bit so halfway cases are decided on exact information.
"""

SIGN: constant(uint256) = 2147483648        # 0x80000000
ABS_MASK: constant(uint256) = 2147483647    # 0x7fffffff
INF_BITS: constant(uint256) = 2139095040    # 0x7f800000
FRAC_MASK: constant(uint256) = 8388607      # 0x007fffff
HIDDEN_BIT: constant(uint256) = 8388608     # 0x00800000

# Canonical NaN and infinities, exported for callers.
NAN: constant(uint32) = 2143289344
POS_INF: constant(uint32) = 2139095040
NEG_INF: constant(uint32) = 4286578688

# Exponents travel as uint256 offset by EXP_OFFSET (value = m * 2**(E - EXP_OFFSET)) so
# no signed arithmetic or checked conversion is needed on the hot path.
EXP_OFFSET: constant(uint256) = 1024
# E of the subnormal scale 2**-149 (also of the smallest normal's unit).
E_MIN: constant(uint256) = 875             # EXP_OFFSET - 149
# Beyond this exponent gap the smaller addend only matters as a sticky bit (see _add).
ADD_GAP: constant(uint256) = 40
# Extra quotient bits for div: a subnormal dividend (1 significant bit) still yields >= 26.
DIV_EXTRA: constant(uint256) = 64
# The sqrt radicand is shifted by 2 * SQRT_EXTRA bits so the root keeps >= 26 bits.
SQRT_EXTRA: constant(uint256) = 30


@internal
@pure
def _bitlen(v: uint256) -> uint256:
    # Number of significant bits of v (v < 2**128).
    x: uint256 = v
    n: uint256 = 0
    if x >> 64 != 0:
        x = x >> 64
        n = 64
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
def _round_pack(sign: uint256, m: uint256, e: uint256, n: uint256) -> uint32:
    # Round m * 2**(e - EXP_OFFSET) to binary32 with RNE; 2**(n-1) <= m < 2**n.
    # An inexact value is passed as (2m + 1, e - 1, n + 1): that sticky 1 then sits strictly
    # below the rounding bit, because inexact callers always keep >= 26 significant bits.
    eo: uint256 = unsafe_sub(unsafe_add(e, n), 24)     # exponent of the 24-bit result
    if eo < E_MIN:
        eo = E_MIN                                     # subnormal result: fixed scale
    r: uint256 = m
    if eo > e:
        s: uint256 = unsafe_sub(eo, e)
        if s > 250:
            s = 250                                    # everything is below half an ulp
        # Round half to even: add half - 1 plus the kept lsb, then truncate.
        half: uint256 = 1 << unsafe_sub(s, 1)
        r = unsafe_add(unsafe_add(m, unsafe_sub(half, 1)), (m >> s) & 1) >> s
    else:
        r = m << unsafe_sub(e, eo)
    # Normal: r in [2**23, 2**24] and bits = (biased - 1) << 23 + r; subnormal: eo = E_MIN
    # and bits = r. A rounding carry lands in the exponent field by itself.
    bits: uint256 = unsafe_add(unsafe_sub(eo, E_MIN) << 23, r)
    if bits >= INF_BITS:
        return convert(sign | INF_BITS, uint32)
    return convert(sign | bits, uint32)


@internal
@pure
def _add(x: uint256, y: uint256) -> uint32:
    ax: uint256 = x & ABS_MASK
    ay: uint256 = y & ABS_MASK
    if ax > INF_BITS or ay > INF_BITS:
        return NAN
    if ax == INF_BITS:
        if ay == INF_BITS and (x ^ y) & SIGN != 0:
            return NAN
        return convert(x, uint32)
    if ay == INF_BITS:
        return convert(y, uint32)
    if ax == 0:
        if ay == 0:
            return convert(x & y, uint32)   # -0 + -0 = -0, otherwise +0
        return convert(y, uint32)
    if ay == 0:
        return convert(x, uint32)
    sign: uint256 = x & SIGN
    if ay > ax:
        sign = y & SIGN
        t: uint256 = ax
        ax = ay
        ay = t
    ea: uint256 = ax >> 23
    ma: uint256 = ax & FRAC_MASK
    if ea == 0:
        ea = 1                                # subnormal: same scale as the smallest normal
    else:
        ma = ma | HIDDEN_BIT
    ea = unsafe_add(ea, EXP_OFFSET - 150)
    eb: uint256 = ay >> 23
    mb: uint256 = ay & FRAC_MASK
    if eb == 0:
        eb = 1                                # subnormal: same scale as the smallest normal
    else:
        mb = mb | HIDDEN_BIT
    eb = unsafe_add(eb, EXP_OFFSET - 150)
    d: uint256 = unsafe_sub(ea, eb)
    if d > ADD_GAP:
        # The smaller addend is below 2**(ea - 16); any value strictly between 0 and one
        # unit at scale ea - ADD_GAP rounds the same way, so stand it in with 1.
        mb = 1
        d = ADD_GAP
    s: uint256 = ma << d
    if (x ^ y) & SIGN == 0:
        s = unsafe_add(s, mb)
    else:
        s = unsafe_sub(s, mb)
        if s == 0:
            return 0                          # exact cancellation is +0 under RNE
    # ma normal has 24 bits, so s has 24 + d (+1 carry, -1 borrow) bits unless it cancels.
    g: uint256 = unsafe_add(d, 24)
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
def add(a: uint32, b: uint32) -> uint32:
    return self._add(convert(a, uint256), convert(b, uint256))


@internal
@pure
def sub(a: uint32, b: uint32) -> uint32:
    return self._add(convert(a, uint256), convert(b, uint256) ^ SIGN)


@internal
@pure
def mul(a: uint32, b: uint32) -> uint32:
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
        return convert(sign | INF_BITS, uint32)
    if ax == 0 or ay == 0:
        return convert(sign, uint32)
    ea: uint256 = ax >> 23
    ma: uint256 = ax & FRAC_MASK
    if ea == 0:
        ea = 1                                # subnormal: same scale as the smallest normal
    else:
        ma = ma | HIDDEN_BIT
    ea = unsafe_add(ea, EXP_OFFSET - 150)
    eb: uint256 = ay >> 23
    mb: uint256 = ay & FRAC_MASK
    if eb == 0:
        eb = 1                                # subnormal: same scale as the smallest normal
    else:
        mb = mb | HIDDEN_BIT
    eb = unsafe_add(eb, EXP_OFFSET - 150)
    m: uint256 = unsafe_mul(ma, mb)
    n: uint256 = 0
    if m >> 47 != 0:
        n = 48
    elif m >> 46 != 0:
        n = 47
    else:
        n = self._bitlen(m)                   # a subnormal operand
    return self._round_pack(sign, m, unsafe_sub(unsafe_add(ea, eb), EXP_OFFSET), n)


@internal
@pure
def div(a: uint32, b: uint32) -> uint32:
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
        return convert(sign | INF_BITS, uint32)
    if ay == INF_BITS:
        return convert(sign, uint32)
    if ay == 0:
        if ax == 0:
            return NAN                        # 0 / 0
        return convert(sign | INF_BITS, uint32)
    if ax == 0:
        return convert(sign, uint32)
    ea: uint256 = ax >> 23
    ma: uint256 = ax & FRAC_MASK
    if ea == 0:
        ea = 1                                # subnormal: same scale as the smallest normal
    else:
        ma = ma | HIDDEN_BIT
    ea = unsafe_add(ea, EXP_OFFSET - 150)
    eb: uint256 = ay >> 23
    mb: uint256 = ay & FRAC_MASK
    if eb == 0:
        eb = 1                                # subnormal: same scale as the smallest normal
    else:
        mb = mb | HIDDEN_BIT
    eb = unsafe_add(eb, EXP_OFFSET - 150)
    num: uint256 = ma << DIV_EXTRA
    q: uint256 = unsafe_div(num, mb)
    n: uint256 = 0
    if q >> 65 != 0 or q >> 63 == 0:
        n = self._bitlen(q)                   # a subnormal operand
    elif q >> 64 != 0:
        n = 65
    else:
        n = 64
    e: uint256 = unsafe_sub(unsafe_add(ea, EXP_OFFSET), unsafe_add(eb, DIV_EXTRA))
    if unsafe_mul(q, mb) != num:
        return self._round_pack(sign, unsafe_add(q << 1, 1), unsafe_sub(e, 1), unsafe_add(n, 1))
    return self._round_pack(sign, q, e, n)


@internal
@pure
def sqrt(a: uint32) -> uint32:
    x: uint256 = convert(a, uint256)
    ax: uint256 = x & ABS_MASK
    if ax > INF_BITS:
        return NAN
    if ax == 0:
        return a                              # sqrt(+-0) = +-0
    if x & SIGN != 0:
        return NAN
    if ax == INF_BITS:
        return a
    e: uint256 = ax >> 23
    m: uint256 = ax & FRAC_MASK
    if e == 0:
        e = 1                                 # subnormal: same scale as the smallest normal
    else:
        m = m | HIDDEN_BIT
    e = unsafe_add(e, EXP_OFFSET - 150)
    if e & 1 != 0:                            # EXP_OFFSET is even: make the exponent even
        m = m << 1
        e = unsafe_sub(e, 1)
    radicand: uint256 = m << (2 * SQRT_EXTRA)
    r: uint256 = isqrt(radicand)
    # sqrt(m * 2**(e - OFF)) = r * 2**((e - OFF)/2 - SQRT_EXTRA); rebase to offset OFF.
    er: uint256 = unsafe_sub(unsafe_add(e >> 1, EXP_OFFSET // 2), SQRT_EXTRA)
    n: uint256 = 0
    if r >> 42 != 0:
        n = 43
    elif r >> 41 != 0:
        n = 42
    else:
        n = self._bitlen(r)                   # a subnormal operand
    if unsafe_mul(r, r) != radicand:
        return self._round_pack(0, unsafe_add(r << 1, 1), unsafe_sub(er, 1), unsafe_add(n, 1))
    return self._round_pack(0, r, er, n)


@internal
@pure
def neg(a: uint32) -> uint32:
    x: uint256 = convert(a, uint256)
    if x & ABS_MASK > INF_BITS:
        return NAN
    return convert(x ^ SIGN, uint32)


@internal
@pure
def abs(a: uint32) -> uint32:
    x: uint256 = convert(a, uint256) & ABS_MASK
    if x > INF_BITS:
        return NAN
    return convert(x, uint32)


@internal
@pure
def is_nan(a: uint32) -> bool:
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
def lt(a: uint32, b: uint32) -> bool:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return False
    return self._key(x) < self._key(y)


@internal
@pure
def le(a: uint32, b: uint32) -> bool:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return False
    return self._key(x) <= self._key(y)


@internal
@pure
def eq(a: uint32, b: uint32) -> bool:
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return False
    return x == y or (x | y) & ABS_MASK == 0


@internal
@pure
def min(a: uint32, b: uint32) -> uint32:
    # As RepOps `minimum`: NaN if either is NaN, else (a if a < b else b), so the operand
    # order decides between zeros: min(-0, +0) = +0 and min(+0, -0) = -0.
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return NAN
    if self._key(x) < self._key(y):
        return a
    return b


@internal
@pure
def max(a: uint32, b: uint32) -> uint32:
    # As RepOps `maximum`: NaN if either is NaN, else (a if a > b else b): max(+0, -0) = -0.
    x: uint256 = convert(a, uint256)
    y: uint256 = convert(b, uint256)
    if x & ABS_MASK > INF_BITS or y & ABS_MASK > INF_BITS:
        return NAN
    if self._key(x) > self._key(y):
        return a
    return b


@internal
@pure
def to_int32(a: uint32) -> int32:
    # Round half to even, as RepOps `f32_to_i32` on its domain (|a| < 2**31, not NaN).
    # Outside it, where RepOps leaves the result undefined, this defines: NaN -> 0, and
    # out-of-range values (infinities included) saturate to the int32 limits.
    x: uint256 = convert(a, uint256)
    ax: uint256 = x & ABS_MASK
    if ax > INF_BITS:
        return 0
    if ax >= 1325400064:                      # 0x4f000000 = 2**31: saturate
        if x & SIGN != 0:
            return min_value(int32)
        return max_value(int32)
    if ax < 1056964608:                       # 0x3f000000 = 0.5: rounds to 0 (0.5 is a tie to 0)
        return 0
    e: uint256 = ax >> 23
    m: uint256 = ax & FRAC_MASK
    if e == 0:
        e = 1                                 # subnormal: same scale as the smallest normal
    else:
        m = m | HIDDEN_BIT
    e = unsafe_add(e, EXP_OFFSET - 150)
    v: uint256 = 0
    if e >= EXP_OFFSET:
        v = m << unsafe_sub(e, EXP_OFFSET)
    else:
        s: uint256 = unsafe_sub(EXP_OFFSET, e)  # 1 <= s <= 24 here
        half: uint256 = 1 << unsafe_sub(s, 1)
        v = unsafe_add(unsafe_add(m, unsafe_sub(half, 1)), (m >> s) & 1) >> s
    if x & SIGN != 0:
        return convert(-convert(v, int256), int32)
    return convert(v, int32)


@internal
@pure
def from_int32(v: int32) -> uint32:
    if v == 0:
        return 0
    sign: uint256 = 0
    w: int256 = convert(v, int256)
    if w < 0:
        sign = SIGN
        w = -w
    m: uint256 = convert(w, uint256)
    return self._round_pack(sign, m, EXP_OFFSET, self._bitlen(m))
