# pragma version ~=0.4.3
"""
@title float32 test harness
@notice Thin external wrapper over lib/float32.vy for tests and benchmarks only: runs one
        operation over a batch of operand pairs in a single call, and measures gas per op.
"""
from lib import float32

MAX_BATCH: constant(uint256) = 2048

# Operation codes (tests and bench/contract_math.py use the same numbering).
OP_ADD: constant(uint8) = 0
OP_SUB: constant(uint8) = 1
OP_MUL: constant(uint8) = 2
OP_DIV: constant(uint8) = 3
OP_SQRT: constant(uint8) = 4
OP_LT: constant(uint8) = 5
OP_LE: constant(uint8) = 6
OP_EQ: constant(uint8) = 7
OP_MIN: constant(uint8) = 8
OP_MAX: constant(uint8) = 9
OP_TO_INT32: constant(uint8) = 10
OP_FROM_INT32: constant(uint8) = 11
OP_NEG: constant(uint8) = 12
OP_ABS: constant(uint8) = 13
OP_IS_NAN: constant(uint8) = 14


@internal
@pure
def _one(op: uint8, a: uint32, b: uint32) -> uint32:
    # Boolean results come back as 0/1; int32 results as their two's-complement bits.
    if op == OP_ADD:
        return float32.add(a, b)
    if op == OP_SUB:
        return float32.sub(a, b)
    if op == OP_MUL:
        return float32.mul(a, b)
    if op == OP_DIV:
        return float32.div(a, b)
    if op == OP_SQRT:
        return float32.sqrt(a)
    if op == OP_LT:
        return convert(float32.lt(a, b), uint32)
    if op == OP_LE:
        return convert(float32.le(a, b), uint32)
    if op == OP_EQ:
        return convert(float32.eq(a, b), uint32)
    if op == OP_MIN:
        return float32.min(a, b)
    if op == OP_MAX:
        return float32.max(a, b)
    if op == OP_TO_INT32:
        return self._i32_bits(float32.to_int32(a))
    if op == OP_FROM_INT32:
        return float32.from_int32(self._bits_i32(a))
    if op == OP_NEG:
        return float32.neg(a)
    if op == OP_ABS:
        return float32.abs(a)
    if op == OP_IS_NAN:
        return convert(float32.is_nan(a), uint32)
    raise "unknown op"


@internal
@pure
def _i32_bits(v: int32) -> uint32:
    w: int256 = convert(v, int256)
    if w < 0:
        return convert(w + 4294967296, uint32)
    return convert(w, uint32)


@internal
@pure
def _bits_i32(a: uint32) -> int32:
    w: int256 = convert(a, int256)
    if w >= 2147483648:
        return convert(w - 4294967296, int32)
    return convert(w, int32)


@external
@pure
def batch(op: uint8, a: DynArray[uint32, MAX_BATCH], b: DynArray[uint32, MAX_BATCH]) -> DynArray[uint32, MAX_BATCH]:
    assert len(a) == len(b), "length mismatch"
    out: DynArray[uint32, MAX_BATCH] = []
    for i: uint256 in range(len(a), bound=MAX_BATCH):
        out.append(self._one(op, a[i], b[i]))
    return out


@external
@view
def gas_of(op: uint8, a: uint32, b: uint32) -> uint256:
    # Execution gas of one library call, measured around the call itself inside the EVM.
    g: uint256 = 0
    if op == OP_ADD:
        g = msg.gas
        rOP_ADD: uint32 = float32.add(a, b)
        return g - msg.gas
    if op == OP_SUB:
        g = msg.gas
        rOP_SUB: uint32 = float32.sub(a, b)
        return g - msg.gas
    if op == OP_MUL:
        g = msg.gas
        rOP_MUL: uint32 = float32.mul(a, b)
        return g - msg.gas
    if op == OP_DIV:
        g = msg.gas
        rOP_DIV: uint32 = float32.div(a, b)
        return g - msg.gas
    if op == OP_SQRT:
        g = msg.gas
        rOP_SQRT: uint32 = float32.sqrt(a)
        return g - msg.gas
    if op == OP_LT:
        g = msg.gas
        rOP_LT: bool = float32.lt(a, b)
        return g - msg.gas
    if op == OP_LE:
        g = msg.gas
        rOP_LE: bool = float32.le(a, b)
        return g - msg.gas
    if op == OP_EQ:
        g = msg.gas
        rOP_EQ: bool = float32.eq(a, b)
        return g - msg.gas
    if op == OP_MIN:
        g = msg.gas
        rOP_MIN: uint32 = float32.min(a, b)
        return g - msg.gas
    if op == OP_MAX:
        g = msg.gas
        rOP_MAX: uint32 = float32.max(a, b)
        return g - msg.gas
    if op == OP_TO_INT32:
        g = msg.gas
        rOP_TO_INT32: int32 = float32.to_int32(a)
        return g - msg.gas
    if op == OP_FROM_INT32:
        v: int32 = self._bits_i32(a)
        g = msg.gas
        rOP_FROM_INT32: uint32 = float32.from_int32(v)
        return g - msg.gas
    if op == OP_NEG:
        g = msg.gas
        rOP_NEG: uint32 = float32.neg(a)
        return g - msg.gas
    if op == OP_ABS:
        g = msg.gas
        rOP_ABS: uint32 = float32.abs(a)
        return g - msg.gas
    if op == OP_IS_NAN:
        g = msg.gas
        rOP_IS_NAN: bool = float32.is_nan(a)
        return g - msg.gas
    raise "unknown op"
