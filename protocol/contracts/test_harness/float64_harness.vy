# pragma version ~=0.4.3
"""
@title float64 test harness
@notice Thin external wrapper over lib/float64.vy for tests and benchmarks only: runs one
        operation over a batch of operands in a single call, and measures gas per op.
        Every operand and result travels in a uint64 lane: binary32 values in the low 32
        bits, booleans as 0/1, integers (pow2's n, frexp_exponent, trunc_int64,
        from_int64) as 64-bit two's complement.
"""
from lib import float32
from lib import float64

MAX_BATCH: constant(uint256) = 2048

# Operation codes (tests and bench/contract_math.py use the same numbering).
OP_ADD: constant(uint8) = 0
OP_SUB: constant(uint8) = 1
OP_MUL: constant(uint8) = 2
OP_DIV: constant(uint8) = 3
OP_ROUND_EVEN: constant(uint8) = 4
OP_LT: constant(uint8) = 5
OP_LE: constant(uint8) = 6
OP_EQ: constant(uint8) = 7
OP_MIN: constant(uint8) = 8
OP_MAX: constant(uint8) = 9
OP_NEG: constant(uint8) = 10
OP_ABS: constant(uint8) = 11
OP_IS_NAN: constant(uint8) = 12
OP_WIDEN: constant(uint8) = 13
OP_NARROW: constant(uint8) = 14
OP_POW2: constant(uint8) = 15
OP_FREXP_EXPONENT: constant(uint8) = 16
OP_TRUNC_INT64: constant(uint8) = 17
OP_FROM_INT64: constant(uint8) = 18
OP_EXP_TABLE: constant(uint8) = 19


@internal
@pure
def _i64_bits(v: int256) -> uint64:
    if v < 0:
        return convert(v + 2**64, uint64)
    return convert(v, uint64)


@internal
@pure
def _bits_i64(a: uint64) -> int256:
    w: int256 = convert(a, int256)
    if w >= 2**63:
        return w - 2**64
    return w


@internal
@pure
def _one(op: uint8, a: uint64, b: uint64) -> uint64:
    if op == OP_ADD:
        return float64.add(a, b)
    if op == OP_SUB:
        return float64.sub(a, b)
    if op == OP_MUL:
        return float64.mul(a, b)
    if op == OP_DIV:
        return float64.div(a, b)
    if op == OP_ROUND_EVEN:
        return float64.round_even(a)
    if op == OP_LT:
        return convert(float64.lt(a, b), uint64)
    if op == OP_LE:
        return convert(float64.le(a, b), uint64)
    if op == OP_EQ:
        return convert(float64.eq(a, b), uint64)
    if op == OP_MIN:
        return float64.min(a, b)
    if op == OP_MAX:
        return float64.max(a, b)
    if op == OP_NEG:
        return float64.neg(a)
    if op == OP_ABS:
        return float64.abs(a)
    if op == OP_IS_NAN:
        return convert(float64.is_nan(a), uint64)
    if op == OP_WIDEN:
        return float64.widen(convert(a & 4294967295, uint32))
    if op == OP_NARROW:
        return convert(float64.narrow(a), uint64)
    if op == OP_POW2:
        return float64.pow2(self._bits_i64(a))
    if op == OP_FREXP_EXPONENT:
        return self._i64_bits(float64.frexp_exponent(a))
    if op == OP_TRUNC_INT64:
        return self._i64_bits(convert(float64.trunc_int64(a), int256))
    if op == OP_FROM_INT64:
        return float64.from_int64(convert(self._bits_i64(a), int64))
    if op == OP_EXP_TABLE:
        return float64.exp_table(convert(a, uint256))
    raise "unknown op"


@external
@pure
def batch(op: uint8, a: DynArray[uint64, MAX_BATCH], b: DynArray[uint64, MAX_BATCH]) -> DynArray[uint64, MAX_BATCH]:
    assert len(a) == len(b), "length mismatch"
    out: DynArray[uint64, MAX_BATCH] = []
    for i: uint256 in range(len(a), bound=MAX_BATCH):
        out.append(self._one(op, a[i], b[i]))
    return out


@external
@pure
def batch_scaled_narrow(s: DynArray[int256, MAX_BATCH], exp2: DynArray[int256, MAX_BATCH]) -> DynArray[uint32, MAX_BATCH]:
    assert len(s) == len(exp2), "length mismatch"
    out: DynArray[uint32, MAX_BATCH] = []
    for i: uint256 in range(len(s), bound=MAX_BATCH):
        out.append(float64.scaled_narrow(s[i], exp2[i]))
    return out


@external
@pure
def matmul_element(s: int256, exp2: int256) -> uint32:
    # The last two steps of the RepOps matmul program: narrow(S * 2**(E+F-2s)) + 0.0.
    return float32.add(float64.scaled_narrow(s, exp2), 0)


@external
@view
def gas_of(op: uint8, a: uint64, b: uint64) -> uint256:
    # Execution gas of one library call, measured around the call itself inside the EVM.
    g: uint256 = 0
    if op == OP_ADD:
        g = msg.gas
        r0: uint64 = float64.add(a, b)
        return g - msg.gas
    if op == OP_SUB:
        g = msg.gas
        r1: uint64 = float64.sub(a, b)
        return g - msg.gas
    if op == OP_MUL:
        g = msg.gas
        r2: uint64 = float64.mul(a, b)
        return g - msg.gas
    if op == OP_DIV:
        g = msg.gas
        r3: uint64 = float64.div(a, b)
        return g - msg.gas
    if op == OP_ROUND_EVEN:
        g = msg.gas
        r4: uint64 = float64.round_even(a)
        return g - msg.gas
    if op == OP_LT:
        g = msg.gas
        r5: bool = float64.lt(a, b)
        return g - msg.gas
    if op == OP_LE:
        g = msg.gas
        r6: bool = float64.le(a, b)
        return g - msg.gas
    if op == OP_EQ:
        g = msg.gas
        r7: bool = float64.eq(a, b)
        return g - msg.gas
    if op == OP_MIN:
        g = msg.gas
        r8: uint64 = float64.min(a, b)
        return g - msg.gas
    if op == OP_MAX:
        g = msg.gas
        r9: uint64 = float64.max(a, b)
        return g - msg.gas
    if op == OP_NEG:
        g = msg.gas
        r10: uint64 = float64.neg(a)
        return g - msg.gas
    if op == OP_ABS:
        g = msg.gas
        r11: uint64 = float64.abs(a)
        return g - msg.gas
    if op == OP_IS_NAN:
        g = msg.gas
        r12: bool = float64.is_nan(a)
        return g - msg.gas
    if op == OP_WIDEN:
        w: uint32 = convert(a & 4294967295, uint32)
        g = msg.gas
        r13: uint64 = float64.widen(w)
        return g - msg.gas
    if op == OP_NARROW:
        g = msg.gas
        r14: uint32 = float64.narrow(a)
        return g - msg.gas
    if op == OP_POW2:
        n: int256 = self._bits_i64(a)
        g = msg.gas
        r15: uint64 = float64.pow2(n)
        return g - msg.gas
    if op == OP_FREXP_EXPONENT:
        g = msg.gas
        r16: int256 = float64.frexp_exponent(a)
        return g - msg.gas
    if op == OP_TRUNC_INT64:
        g = msg.gas
        r17: int64 = float64.trunc_int64(a)
        return g - msg.gas
    if op == OP_FROM_INT64:
        v: int64 = convert(self._bits_i64(a), int64)
        g = msg.gas
        r18: uint64 = float64.from_int64(v)
        return g - msg.gas
    if op == OP_EXP_TABLE:
        j: uint256 = convert(a, uint256)
        g = msg.gas
        r19: uint64 = float64.exp_table(j)
        return g - msg.gas
    raise "unknown op"


@external
@view
def gas_of_scaled_narrow(s: int256, exp2: int256) -> uint256:
    g: uint256 = msg.gas
    r: uint32 = float64.scaled_narrow(s, exp2)
    return g - msg.gas
