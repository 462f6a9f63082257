# pragma version ~=0.4.3
"""
@title op_step: the bottom level of a Verde game, one output element of one RepOps op
@notice The program of an element is not chosen by either side: `make_plan` derives it from
        the op's kind (its trace name), its tensor shapes (opened headers), its attributes,
        the output slot and the element index, and `step` computes instruction `pc` of it.
        State hash  S = sha256(0x30 || ctx || pc (8 B) || r0 || r1 || r2 || r3)
        final hash  F = sha256(0x33 || ctx || value (4 B))
        context     ctx = sha256(0x31 || abi_encode(plan, record, element))
        Python twin: verde/opmachine.py (and protocol/chain/commit.py for the hashes).
@dev    Programs (docs/verde.md, "What is provable"):
        binary (add sub mul div maximum minimum, numpy broadcast), unary (neg relu), adamw:
            one instruction computes the element.
        matmul / linear, inner size K: pc < K row max |a|, K <= pc < 2K column max |b|,
            2K <= pc < 3K exact integer multiply-accumulate, pc = 3K the scaled narrowing
            (+ bias for linear). Registers: r0 row max, r1 column max, r2 the sum (int256).
"""

from lib import float32
from lib import float64
from lib import merkle

KIND_UNKNOWN: constant(uint8) = 0
KIND_ADD: constant(uint8) = 1
KIND_SUB: constant(uint8) = 2
KIND_MUL: constant(uint8) = 3
KIND_DIV: constant(uint8) = 4
KIND_MAXIMUM: constant(uint8) = 5
KIND_MINIMUM: constant(uint8) = 6
KIND_NEG: constant(uint8) = 7
KIND_RELU: constant(uint8) = 8
KIND_MATMUL: constant(uint8) = 9
KIND_LINEAR: constant(uint8) = 10
KIND_ADAMW: constant(uint8) = 11
KIND_LINEAR_BACKWARD: constant(uint8) = 16   # outputs gx, gW (matmuls); gb (a tree sum) is not provable
KIND_MATMUL_BACKWARD: constant(uint8) = 17   # outputs ga, gb (matmuls, equal batch dims)

MAX_TENSORS: constant(uint256) = 16
MAX_HEADS: constant(uint256) = 8
MAX_OPERANDS: constant(uint256) = 4
ABS_MASK: constant(uint256) = 2147483647
INF_BITS: constant(uint256) = 2139095040
NAN32: constant(uint32) = 2143289344
ONE32: constant(uint32) = 1065353216       # 1.0

struct OpRecord:
    index: uint64
    name: Bytes[64]
    inputs: DynArray[bytes32, MAX_TENSORS]
    outputs: DynArray[bytes32, MAX_TENSORS]
    attrs_digest: bytes32

struct Head:
    header: Bytes[66]      # commitments.md tensor header
    tree: bytes32          # the chunk tree root (tensor root = sha256(0x02 || header || tree))

struct Opening:
    header: Bytes[66]
    chunk: Bytes[1024]
    siblings: DynArray[bytes32, 40]

struct Plan:
    kind: uint8
    slot: uint8            # which output of the op the element belongs to
    length: uint64         # instructions in the element's program
    roots: bytes32[4]      # operand tensors
    index: uint64[4]       # operand element indices (matmul: bases of the row and column)
    stride: uint64[2]      # matmul: steps of the row and column indices
    k: uint64              # matmul: inner size
    attrs: uint256[6]      # adamw: lr, beta1, beta2, eps, weight_decay (binary64 bits), step

struct StepProof:
    plan: Plan
    record: bytes32        # the opened op's record hash
    element: uint64
    pc: uint64
    regs: uint256[4]
    operands: DynArray[Opening, MAX_OPERANDS]


@internal
@pure
def kind_of(name: Bytes[64]) -> uint8:
    if name == b"add":
        return KIND_ADD
    if name == b"sub":
        return KIND_SUB
    if name == b"mul":
        return KIND_MUL
    if name == b"div":
        return KIND_DIV
    if name == b"maximum":
        return KIND_MAXIMUM
    if name == b"minimum":
        return KIND_MINIMUM
    if name == b"neg":
        return KIND_NEG
    if name == b"relu":
        return KIND_RELU
    if name == b"matmul":
        return KIND_MATMUL
    if name == b"linear":
        return KIND_LINEAR
    if name == b"adamw":
        return KIND_ADAMW
    if name == b"where":
        return 12
    if name == b"masked_fill":
        return 13
    if name == b"embedding":
        return 14
    if name == b"gather":
        return 15
    if name == b"linear.backward":
        return KIND_LINEAR_BACKWARD
    if name == b"matmul.backward":
        return KIND_MATMUL_BACKWARD
    return KIND_UNKNOWN


# --- hashes -----------------------------------------------------------------------------------

@internal
@pure
def _u64(x: uint256) -> Bytes[8]:
    return slice(convert(x, bytes32), 24, 8)


@internal
@pure
def context(plan: Plan, record: bytes32, element: uint64) -> bytes32:
    return sha256(concat(b"\x31", abi_encode(plan, record, element)))


@internal
@pure
def state_hash(ctx: bytes32, pc: uint64, regs: uint256[4]) -> bytes32:
    return sha256(concat(b"\x30", ctx, self._u64(convert(pc, uint256)), convert(regs[0], bytes32),
                         convert(regs[1], bytes32), convert(regs[2], bytes32), convert(regs[3], bytes32)))


@internal
@pure
def final_hash(ctx: bytes32, v: uint32) -> bytes32:
    return sha256(concat(b"\x33", ctx, slice(convert(convert(v, uint256), bytes32), 28, 4)))


# --- shapes -----------------------------------------------------------------------------------

@internal
@pure
def _dims(header: Bytes[66]) -> DynArray[uint256, 8]:
    out: DynArray[uint256, 8] = []
    n: uint256 = convert(slice(header, 1, 1), uint256)
    for t: uint256 in range(n, bound=8):
        le: uint256 = convert(slice(header, 2 + 8 * t, 8), uint256)
        out.append(convert(convert(slice(merkle.le64(le), 0, 8), bytes8), uint256))
    return out


@internal
@pure
def _numel(d: DynArray[uint256, 8]) -> uint256:
    n: uint256 = 1
    for x: uint256 in d:
        n *= x
    return n


@internal
@pure
def _broadcast_index(out: DynArray[uint256, 8], a: DynArray[uint256, 8], e: uint256) -> (bool, uint256):
    """Flat index in `a` of output element `e` under numpy broadcasting (right-aligned dims)."""
    n: uint256 = len(out)
    na: uint256 = len(a)
    if na > n:
        return False, 0
    coords: uint256[8] = empty(uint256[8])
    rest: uint256 = e
    for t: uint256 in range(n, bound=8):
        k: uint256 = n - 1 - t
        coords[k] = rest % out[k]
        rest = rest // out[k]
    idx: uint256 = 0
    for t: uint256 in range(na, bound=8):
        k: uint256 = n - na + t
        c: uint256 = coords[k]
        if a[t] == 1:
            c = 0
        elif a[t] != out[k]:
            return False, 0
        idx = idx * a[t] + c
    return True, idx


@internal
@pure
def adamw_attrs_digest(attrs: uint256[6]) -> bytes32:
    """sha256 of the canonical msgpack of adamw's attrs (repops.trace.canonical_attrs)."""
    t: uint256 = attrs[5]
    step: Bytes[9] = b""
    if t < 128:
        step = slice(convert(t, bytes32), 31, 1)
    elif t < 2**8:
        step = concat(b"\xcc", slice(convert(t, bytes32), 31, 1))
    elif t < 2**16:
        step = concat(b"\xcd", slice(convert(t, bytes32), 30, 2))
    elif t < 2**32:
        step = concat(b"\xce", slice(convert(t, bytes32), 28, 4))
    else:
        step = concat(b"\xcf", slice(convert(t, bytes32), 24, 8))
    return sha256(concat(
        b"\x86", b"\xa5beta1\xcb", self._u64(attrs[1]), b"\xa5beta2\xcb", self._u64(attrs[2]),
        b"\xa3eps\xcb", self._u64(attrs[3]), b"\xa2lr\xcb", self._u64(attrs[0]), b"\xa4step", step,
        b"\xacweight_decay\xcb", self._u64(attrs[4])))


@internal
@pure
def make_plan(kind: uint8, r: OpRecord, heads: DynArray[Head, MAX_HEADS], slot: uint8, e: uint256,
              attrs: uint256[6]) -> (bool, Plan):
    """
    @notice The program of output `slot`, element `e` of op `r` (heads: inputs then outputs,
            already checked against the record's roots). (False, _) when the record's shapes
            do not fit its kind: a malformed op, which its claimant cannot defend. A plan of
            length 0: an output with no program (the game resolves for the claimant).
    """
    p: Plan = empty(Plan)
    p.kind = kind
    p.slot = slot
    p.length = 1
    n_in: uint256 = len(r.inputs)
    s: uint256 = convert(slot, uint256)
    out: DynArray[uint256, 8] = self._dims(heads[n_in + s].header)
    ok: bool = True
    if kind <= KIND_MINIMUM:
        if n_in != 2 or s != 0:
            return False, p
        ia: uint256 = 0
        ib: uint256 = 0
        ok, ia = self._broadcast_index(out, self._dims(heads[0].header), e)
        if not ok:
            return False, p
        ok, ib = self._broadcast_index(out, self._dims(heads[1].header), e)
        if not ok:
            return False, p
        p.roots = [r.inputs[0], r.inputs[1], empty(bytes32), empty(bytes32)]
        p.index = [convert(ia, uint64), convert(ib, uint64), 0, 0]
        return True, p
    if kind == KIND_NEG or kind == KIND_RELU:
        if n_in != 1 or s != 0 or self._numel(self._dims(heads[0].header)) != self._numel(out):
            return False, p
        p.roots[0] = r.inputs[0]
        p.index[0] = convert(e, uint64)
        return True, p
    if kind == KIND_ADAMW:
        if n_in != 4 or s > 2:
            return False, p
        for t: uint256 in range(4):
            if self._numel(self._dims(heads[t].header)) != self._numel(out):
                return False, p
        p.roots = [r.inputs[0], r.inputs[1], r.inputs[2], r.inputs[3]]
        p.index = [convert(e, uint64), convert(e, uint64), convert(e, uint64), convert(e, uint64)]
        p.attrs = attrs
        return True, p
    # matmul and linear
    a: DynArray[uint256, 8] = self._dims(heads[0].header)
    b: DynArray[uint256, 8] = self._dims(heads[1].header)
    if s != 0 or len(a) < 1 or len(b) != 2 and kind == KIND_LINEAR:
        return False, p
    kk: uint256 = a[len(a) - 1]
    nn: uint256 = 0
    if kind == KIND_LINEAR:
        # x (..., K), w (N, K), optional bias (N,); y (..., N)
        nn = b[0]
        if (n_in != 2 and n_in != 3) or b[1] != kk or nn == 0 or kk == 0:
            return False, p
        row: uint256 = e // nn
        j: uint256 = e % nn
        p.roots = [r.inputs[0], r.inputs[1], empty(bytes32), empty(bytes32)]
        p.index = [convert(row * kk, uint64), convert(j * kk, uint64), convert(j, uint64), 0]
        p.stride = [1, 1]
        if n_in == 3:
            p.roots[2] = r.inputs[2]
    else:
        # a (..., M, K), b (..., K, N) with equal batch dims, or b two-dimensional
        if n_in != 2 or len(a) < 2 or len(b) < 2 or len(out) != len(a):
            return False, p
        nn = b[len(b) - 1]
        mm: uint256 = a[len(a) - 2]
        if b[len(b) - 2] != kk or nn == 0 or kk == 0 or mm == 0:
            return False, p
        if len(b) != 2:
            if len(b) != len(a):
                return False, p
            for t: uint256 in range(6):
                if t + 2 >= len(a):
                    break
                if a[t] != b[t]:
                    return False, p
        j: uint256 = e % nn
        i: uint256 = (e // nn) % mm
        bt: uint256 = e // (nn * mm)
        p.roots = [r.inputs[0], r.inputs[1], empty(bytes32), empty(bytes32)]
        b_base: uint256 = j
        if len(b) != 2:
            b_base = bt * kk * nn + j
        p.index = [convert((bt * mm + i) * kk, uint64), convert(b_base, uint64), 0, 0]
        p.stride = [1, convert(nn, uint64)]
    p.k = convert(kk, uint64)
    p.length = convert(3 * kk + 1, uint64)
    return True, p


# --- one instruction --------------------------------------------------------------------------

@internal
@pure
def _read(root: bytes32, index: uint256, o: Opening) -> uint32:
    ok: bool = False
    bits: uint32 = 0
    # INVARIANT: every operand is an element of an agreed input tensor, at the index the
    # plan computes (lib/merkle checks dtype, bounds, chunk length and proof depth).
    ok, bits = merkle.open_float32(root, o.header, o.chunk, o.siblings, index)
    assert ok, "Game: bad operand proof"
    return bits


@internal
@pure
def _canonical(x: uint32) -> uint32:
    if convert(x, uint256) & ABS_MASK > INF_BITS:
        return NAN32
    return x


@internal
@pure
def _binary(kind: uint8, a: uint32, b: uint32) -> uint32:
    if kind == KIND_ADD:
        return float32.add(a, b)
    if kind == KIND_SUB:
        return float32.sub(a, b)
    if kind == KIND_MUL:
        return float32.mul(a, b)
    if kind == KIND_DIV:
        return float32.div(a, b)
    if kind == KIND_MAXIMUM:
        return float32.max(a, b)
    return float32.min(a, b)


@internal
@pure
def _pow_int(base: uint32, n: uint256) -> uint32:
    # base**n in binary32 by square-and-multiply over the bits of n, high to low (repops.optim).
    acc: uint32 = ONE32
    started: bool = False
    for t: uint256 in range(64):
        bit: uint256 = (n >> (63 - t)) & 1
        if bit == 1:
            started = True
        if started:
            acc = float32.mul(acc, acc)
            if bit == 1:
                acc = float32.mul(acc, base)
    return acc


@internal
@pure
def _adamw(slot: uint8, attrs: uint256[6], p: uint32, g: uint32, m: uint32, v: uint32) -> uint32:
    lr: uint32 = float64.narrow(convert(attrs[0], uint64))
    b1: uint32 = float64.narrow(convert(attrs[1], uint64))
    b2: uint32 = float64.narrow(convert(attrs[2], uint64))
    if slot == 1:
        return float32.add(float32.mul(m, b1), float32.mul(g, float32.sub(ONE32, b1)))
    v_new: uint32 = float32.add(float32.mul(v, b2), float32.mul(float32.mul(g, float32.sub(ONE32, b2)), g))
    if slot == 2:
        return v_new
    eps: uint32 = float64.narrow(convert(attrs[3], uint64))
    wd: uint32 = float64.narrow(convert(attrs[4], uint64))
    t: uint256 = attrs[5]
    bc1: uint32 = float32.sub(ONE32, self._pow_int(b1, t))
    bc2: uint32 = float32.sub(ONE32, self._pow_int(b2, t))
    decay: uint32 = float32.sub(ONE32, float32.mul(lr, wd))
    step_size: uint32 = float32.div(lr, bc1)
    m_new: uint32 = float32.add(float32.mul(m, b1), float32.mul(g, float32.sub(ONE32, b1)))
    denom: uint32 = float32.add(float32.div(float32.sqrt(v_new), float32.sqrt(bc2)), eps)
    return float32.sub(float32.mul(p, decay), float32.mul(float32.div(m_new, denom), step_size))


@internal
@pure
def _exponent(absbits: uint256) -> int256:
    # frexp exponent E of a binary32 magnitude (2**(E-1) <= x < 2**E); 0 for zero.
    if absbits == 0:
        return 0
    f: uint256 = absbits >> 23
    if f == 0:
        n: uint256 = 0
        for t: uint256 in range(24):
            if absbits >> t != 0:
                n = t + 1
        return convert(n, int256) - 149
    return convert(f, int256) - 126


@internal
@pure
def _quantize(x: uint32, e: int256, s: int256) -> int256:
    # round_half_even(x * 2**(s - e)) for a finite binary32 x, exactly, as an integer.
    bits: uint256 = convert(x, uint256)
    ax: uint256 = bits & ABS_MASK
    if ax == 0:
        return 0
    f: uint256 = ax >> 23
    mant: uint256 = ax & 8388607
    ex: int256 = -149
    if f != 0:
        mant = mant | 8388608
        ex = convert(f, int256) - 150
    sh: int256 = ex + s - e
    q: uint256 = 0
    if sh >= 0:
        q = mant << convert(sh, uint256)
    else:
        n: uint256 = convert(-sh, uint256)
        if n < 40:
            q = mant >> n
            rem: uint256 = mant & ((1 << n) - 1)
            half: uint256 = 1 << (n - 1)
            if rem > half or (rem == half and q & 1 == 1):
                q += 1
    if bits >> 31 == 1:
        return -convert(q, int256)
    return convert(q, int256)


@internal
@pure
def slice_bits(k: uint256) -> int256:
    # repops.ops.kernels.matmul_slice_bits: min(24, (53 - bitlen(k - 1)) // 2)
    n: uint256 = 0
    for t: uint256 in range(64):
        if (k - 1) >> t != 0:
            n = t + 1
    return convert(min(24, (53 - n) // 2), int256)


@internal
@pure
def step(p: Plan, pc: uint256, regs: uint256[4], ops: DynArray[Opening, MAX_OPERANDS]) -> (uint256[4], uint32):
    """@notice Instruction `pc` of plan `p`: the registers after it, and the element's value
               when it is the last instruction."""
    out: uint256[4] = regs
    if p.kind <= KIND_MINIMUM:
        a: uint32 = self._read(p.roots[0], convert(p.index[0], uint256), ops[0])
        b: uint32 = self._read(p.roots[1], convert(p.index[1], uint256), ops[1])
        return out, self._canonical(self._binary(p.kind, a, b))
    if p.kind == KIND_NEG:
        return out, self._canonical(float32.neg(self._read(p.roots[0], convert(p.index[0], uint256), ops[0])))
    if p.kind == KIND_RELU:
        return out, self._canonical(float32.max(self._read(p.roots[0], convert(p.index[0], uint256), ops[0]), 0))
    if p.kind == KIND_ADAMW:
        e: uint256 = convert(p.index[0], uint256)
        return out, self._canonical(self._adamw(p.slot, p.attrs, self._read(p.roots[0], e, ops[0]),
                                                self._read(p.roots[1], e, ops[1]), self._read(p.roots[2], e, ops[2]),
                                                self._read(p.roots[3], e, ops[3])))
    # matmul / linear
    kk: uint256 = convert(p.k, uint256)
    if pc < kk:
        x: uint256 = convert(self._read(p.roots[0], convert(p.index[0], uint256) + pc * convert(p.stride[0], uint256), ops[0]), uint256) & ABS_MASK
        out[0] = max(out[0], x)
        return out, 0
    if pc < 2 * kk:
        x: uint256 = convert(self._read(p.roots[1], convert(p.index[1], uint256) + (pc - kk) * convert(p.stride[1], uint256), ops[0]), uint256) & ABS_MASK
        out[1] = max(out[1], x)
        return out, 0
    s: int256 = self.slice_bits(kk)
    bad: bool = regs[0] >= INF_BITS or regs[1] >= INF_BITS
    if pc < 3 * kk:
        k: uint256 = pc - 2 * kk
        a: uint32 = self._read(p.roots[0], convert(p.index[0], uint256) + k * convert(p.stride[0], uint256), ops[0])
        b: uint32 = self._read(p.roots[1], convert(p.index[1], uint256) + k * convert(p.stride[1], uint256), ops[1])
        if not bad:
            acc: int256 = convert(convert(regs[2], bytes32), int256)
            acc += self._quantize(a, self._exponent(regs[0]), s) * self._quantize(b, self._exponent(regs[1]), s)
            out[2] = convert(convert(acc, bytes32), uint256)
        return out, 0
    # INVARIANT: the last instruction is pc = 3K (the plan's length is 3K + 1).
    y: uint32 = NAN32
    if not bad:
        total: int256 = convert(convert(regs[2], bytes32), int256)
        y = float32.add(float64.scaled_narrow(total, self._exponent(regs[0]) + self._exponent(regs[1]) - 2 * s), 0)
    if p.kind == KIND_LINEAR and p.roots[2] != empty(bytes32):
        y = float32.add(y, self._read(p.roots[2], convert(p.index[2], uint256), ops[0]))
    return out, self._canonical(y)
