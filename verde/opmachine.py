"""Python twin of modules/op_step.vy: the program of one output element of one op.

`plan_for` derives the same Plan the contract's `make_plan` derives from the op's shapes;
`run` executes the program instruction by instruction, giving every level-3 state and the
element's value; `operands_at` names the tensor elements instruction `pc` reads (what a
`prove_step` must open). The value `run` computes must equal RepOps' own output bit for bit:
tests/verde/test_opmachine.py checks that on real training steps.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from protocol.chain.commit import Plan, ZERO, op_context, op_final_hash, op_state_hash
from verde.errors import VerdeError

KINDS = {"add": 1, "sub": 2, "mul": 3, "div": 4, "maximum": 5, "minimum": 6, "neg": 7, "relu": 8,
         "matmul": 9, "linear": 10, "adamw": 11, "where": 12, "masked_fill": 13, "embedding": 14, "gather": 15, "linear.backward": 16,
         "matmul.backward": 17}
WHERE, MASKED_FILL, EMBEDDING, GATHER = 12, 13, 14, 15
COPIES = {WHERE, MASKED_FILL, EMBEDDING, GATHER}  # run on CopyStep.vy (modules/copy_step.vy)
LINEAR_BACKWARD, MATMUL_BACKWARD = 16, 17  # planned by CopyStep, run by OpStep's matmul program
BINARY = {1, 2, 3, 4, 5, 6}
MATMUL, LINEAR, ADAMW, NEG, RELU = 9, 10, 11, 7, 8
NAN32 = 0x7FC00000
ABS = 0x7FFFFFFF
INF = 0x7F800000


def provable(op: str) -> bool:
    return op in KINDS


def _f(bits: int) -> np.float32:
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def _b(x) -> int:
    x = np.float32(x)
    if np.isnan(x):
        return NAN32
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def _f64_bits(x: float) -> int:
    return struct.unpack(">Q", struct.pack(">d", float(x)))[0]


# --- the plan --------------------------------------------------------------------------------

def _broadcast_index(out: tuple[int, ...], a: tuple[int, ...], e: int) -> int | None:
    if len(a) > len(out):
        return None
    coords = []
    rest = e
    for d in reversed(out):
        coords.append(rest % d)
        rest //= d
    coords.reverse()
    idx = 0
    for t, da in enumerate(a):
        k = len(out) - len(a) + t
        c = coords[k]
        if da == 1:
            c = 0
        elif da != out[k]:
            return None
        idx = idx * da + c
    return idx


def plan_for(op: str, input_roots, input_shapes, output_shapes, slot: int, e: int, attrs: dict | None) -> Plan | None:
    """The contract's make_plan: None when the shapes do not fit the kind (malformed op)."""
    kind = KINDS.get(op)
    if kind is None:
        raise VerdeError("unprovable_op", f"{op} has no on-chain program")
    out = tuple(output_shapes[slot])
    z = ZERO
    if kind in COPIES:
        return _copy_plan(kind, input_roots, [tuple(x) for x in input_shapes], out, slot, e, attrs)
    if kind in (LINEAR_BACKWARD, MATMUL_BACKWARD):
        return _backward_plan(kind, input_roots, [tuple(x) for x in input_shapes], slot, e)
    if kind in BINARY:
        if len(input_roots) != 2 or slot != 0:
            return None
        ia, ib = (_broadcast_index(out, tuple(s), e) for s in input_shapes)
        if ia is None or ib is None:
            return None
        return Plan(kind, slot, 1, (input_roots[0], input_roots[1], z, z), (ia, ib, 0, 0))
    if kind in (NEG, RELU):
        if len(input_roots) != 1 or slot != 0 or int(np.prod(input_shapes[0])) != int(np.prod(out)):
            return None
        return Plan(kind, slot, 1, (input_roots[0], z, z, z), (e, 0, 0, 0))
    if kind == ADAMW:
        if len(input_roots) != 4 or slot > 2 or any(int(np.prod(s)) != int(np.prod(out)) for s in input_shapes):
            return None
        a = (_f64_bits(attrs["lr"]), _f64_bits(attrs["beta1"]), _f64_bits(attrs["beta2"]), _f64_bits(attrs["eps"]),
             _f64_bits(attrs["weight_decay"]), int(attrs["step"]))
        return Plan(kind, slot, 1, tuple(input_roots), (e, e, e, e), attrs=a)
    a, b = tuple(input_shapes[0]), tuple(input_shapes[1])
    if slot != 0 or len(a) < 1 or (len(b) != 2 and kind == LINEAR):
        return None
    kk = a[-1]
    if kind == LINEAR:
        nn = b[0]
        if len(input_roots) not in (2, 3) or b[1] != kk or nn == 0 or kk == 0:
            return None
        row, j = divmod(e, nn)
        roots = (input_roots[0], input_roots[1], input_roots[2] if len(input_roots) == 3 else z, z)
        return Plan(kind, slot, 3 * kk + 1, roots, (row * kk, j * kk, j, 0), (1, 1), kk)
    if len(input_roots) != 2 or len(a) < 2 or len(b) < 2 or len(out) != len(a):
        return None
    nn, mm = b[-1], a[-2]
    if b[-2] != kk or nn == 0 or kk == 0 or mm == 0:
        return None
    if len(b) != 2 and (len(b) != len(a) or a[:-2] != b[:-2]):
        return None
    j = e % nn
    i = (e // nn) % mm
    bt = e // (nn * mm)
    b_base = j if len(b) == 2 else bt * kk * nn + j
    return Plan(kind, slot, 3 * kk + 1, (input_roots[0], input_roots[1], z, z), ((bt * mm + i) * kk, b_base, 0, 0),
                (1, nn), kk)


def _backward_plan(kind, roots, shapes, slot, e) -> Plan | None:
    """copy_step.backward_plan: a length-0 Plan is an output with no program."""
    z = ZERO
    none = Plan(kind, slot, 0, (z, z, z, z), (0, 0, 0, 0))
    if len(roots) != 3 or slot > 2:
        return None
    g, x, w = shapes
    if len(g) < 2 or len(x) != len(g) or (kind == MATMUL_BACKWARD and len(w) != len(g)) or (kind == LINEAR_BACKWARD and len(w) != 2):
        return None
    nn, kk = g[-1], x[-1]
    if nn == 0 or kk == 0 or slot == 2:
        return none
    rows = int(np.prod(g)) // nn
    mm = rows
    if kind == MATMUL_BACKWARD:
        mm = g[-2]
        if g[:-2] != x[:-2] or g[:-2] != w[:-2]:
            return none
    if slot == 0:
        i, k, bt = (e // kk) % mm, e % kk, e // (kk * mm)
        if kind == LINEAR_BACKWARD:
            return Plan(kind, 0, 3 * nn + 1, (roots[0], roots[2], z, z), (i * nn, k, 0, 0), (1, kk), nn)
        return Plan(kind, 0, 3 * nn + 1, (roots[0], roots[2], z, z), ((bt * mm + i) * nn, (bt * kk + k) * nn, 0, 0), (1, 1), nn)
    if kind == MATMUL_BACKWARD:
        k, n, bt = (e // nn) % kk, e % nn, e // (kk * nn)
        return Plan(kind, 1, 3 * mm + 1, (roots[1], roots[0], z, z), (bt * mm * kk + k, bt * mm * nn + n, 0, 0), (kk, nn), mm)
    n, k = (e // kk) % nn, e % kk
    return Plan(kind, 1, 3 * mm + 1, (roots[0], roots[1], z, z), (n, k, 0, 0), (nn, kk), mm)


def _copy_plan(kind, roots, shapes, out, slot, e, attrs) -> Plan | None:
    z = ZERO
    if slot != 0:
        return None
    if kind in (WHERE, MASKED_FILL):
        if len(roots) != (3 if kind == WHERE else 2):
            return None
        idx = [_broadcast_index(out, s, e) for s in shapes]
        if any(i is None for i in idx):
            return None
        if kind == WHERE:
            return Plan(kind, 0, 1, (roots[0], roots[1], roots[2], z), (idx[0], idx[1], idx[2], 0))
        a = (_f64_bits(attrs["value"]), 0, 0, 0, 0, 0)
        return Plan(kind, 0, 1, (roots[0], roots[1], z, z), (idx[0], idx[1], 0, 0), attrs=a)
    if len(roots) != 2:
        return None
    if kind == EMBEDDING:
        w = shapes[1]
        if len(w) != 2 or w[1] == 0:
            return None
        return Plan(kind, 0, 1, (roots[0], roots[1], z, z), (e // w[1], e % w[1], 0, 0), (w[1], w[0]))
    x, d = shapes[0], int(attrs["dim"])
    if len(x) != len(out) or d >= len(x):
        return None
    coords = list(np.unravel_index(e, out)) if out else []
    base, step, stride0 = 0, 1, 0
    for k in reversed(range(len(x))):
        if k == d:
            stride0 = step
        elif coords[k] < x[k]:
            base += int(coords[k]) * step
        else:
            return None
        step *= x[k]
    return Plan(kind, 0, 1, (roots[0], roots[1], z, z), (base, e, 0, 0), (stride0, x[d]), attrs=(d, 0, 0, 0, 0, 0))


def copy_operands(plan: Plan, read) -> list[tuple[int, int]]:
    """(operand slot, flat index) of each element a copy reads, in CopyStep's order; `read`
    gives an operand's value (the choice of the second operand depends on the first)."""
    if plan.kind == WHERE:
        first = (0, plan.index[0])
        return [first, (1, plan.index[1]) if read(*first) else (2, plan.index[2])]
    if plan.kind == MASKED_FILL:
        first = (1, plan.index[1])
        return [first] if read(*first) else [first, (0, plan.index[0])]
    if plan.kind == EMBEDDING:
        first = (0, plan.index[0])
        return [first, (1, read(*first) * plan.stride[0] + plan.index[1])]
    first = (1, plan.index[1])
    return [first, (0, plan.index[0] + read(*first) * plan.stride[0])]


def _copy_value(plan: Plan, read) -> int:
    ops = copy_operands(plan, read)
    if plan.kind == MASKED_FILL and len(ops) == 1:
        value = struct.unpack(">d", plan.attrs[0].to_bytes(8, "big"))[0]
        with np.errstate(all="ignore"):
            return _b(np.float32(value))
    v = read(*ops[-1])
    return NAN32 if (v & ABS) > INF else v


# --- one instruction ----------------------------------------------------------------------------

def operands_at(plan: Plan, pc: int) -> list[tuple[int, int]]:
    """(operand slot in plan.roots, flat index) of each element instruction `pc` opens, in order."""
    if plan.kind in BINARY:
        return [(0, plan.index[0]), (1, plan.index[1])]
    if plan.kind in (NEG, RELU):
        return [(0, plan.index[0])]
    if plan.kind == ADAMW:
        return [(t, plan.index[0]) for t in range(4)]
    k = plan.k
    if pc < k:
        return [(0, plan.index[0] + pc * plan.stride[0])]
    if pc < 2 * k:
        return [(1, plan.index[1] + (pc - k) * plan.stride[1])]
    if pc < 3 * k:
        kk = pc - 2 * k
        return [(0, plan.index[0] + kk * plan.stride[0]), (1, plan.index[1] + kk * plan.stride[1])]
    if plan.kind == LINEAR and plan.roots[2] != ZERO:
        return [(2, plan.index[2])]
    return []


def _binary(kind: int, a: int, b: int) -> int:
    x, y = _f(a), _f(b)
    with np.errstate(all="ignore"):
        if kind == 1:
            return _b(x + y)
        if kind == 2:
            return _b(x - y)
        if kind == 3:
            return _b(x * y)
        if kind == 4:
            return _b(x / y)
    if np.isnan(x) or np.isnan(y):
        return NAN32
    if kind == 5:
        return a if x > y else b
    return a if x < y else b


def _pow_int(base: np.float32, n: int) -> np.float32:
    acc = np.float32(1.0)
    for bit in bin(n)[2:]:
        acc = np.float32(acc * acc)
        if bit == "1":
            acc = np.float32(acc * base)
    return acc


def _adamw(slot: int, attrs, p: int, g: int, m: int, v: int) -> int:
    lr, b1, b2, eps, wd = (np.float32(struct.unpack(">d", x.to_bytes(8, "big"))[0]) for x in attrs[:5])
    t = attrs[5]
    one = np.float32(1.0)
    P, G, M, V = _f(p), _f(g), _f(m), _f(v)
    with np.errstate(all="ignore"):
        m_new = np.float32(np.float32(M * b1) + np.float32(G * np.float32(one - b1)))
        if slot == 1:
            return _b(m_new)
        v_new = np.float32(np.float32(V * b2) + np.float32(np.float32(G * np.float32(one - b2)) * G))
        if slot == 2:
            return _b(v_new)
        bc1 = np.float32(one - _pow_int(b1, t))
        bc2 = np.float32(one - _pow_int(b2, t))
        decay = np.float32(one - np.float32(lr * wd))
        step_size = np.float32(lr / bc1)
        denom = np.float32(np.float32(np.sqrt(v_new) / np.sqrt(bc2)) + eps)
        return _b(np.float32(P * decay) - np.float32(np.float32(m_new / denom) * step_size))


def _exponent(absbits: int) -> int:
    if absbits == 0:
        return 0
    f = absbits >> 23
    if f == 0:
        return absbits.bit_length() - 149
    return f - 126


def _quantize(x: int, e: int, s: int) -> int:
    ax = x & ABS
    if ax == 0:
        return 0
    f, mant = ax >> 23, ax & 0x7FFFFF
    ex = -149
    if f:
        mant |= 0x800000
        ex = f - 150
    sh = ex + s - e
    if sh >= 0:
        q = mant << sh
    else:
        n = -sh
        q = 0
        if n < 40:
            q = mant >> n
            rem, half = mant & ((1 << n) - 1), 1 << (n - 1)
            if rem > half or (rem == half and q & 1):
                q += 1
    return -q if x >> 31 else q


def slice_bits(k: int) -> int:
    return min(24, (53 - (k - 1).bit_length()) // 2)


def _scaled_narrow(total: int, exp2: int) -> int:
    if total == 0:
        return 0
    # |total| < 2**53 here (RepOps' bound), so the float64 product is exact before narrowing
    import math
    with np.errstate(all="ignore"):
        return _b(np.float32(math.ldexp(float(total), exp2)))


def _to_u256(x: int) -> int:
    return x % (1 << 256)


def _from_u256(x: int) -> int:
    return x - (1 << 256) if x >> 255 else x


def step(plan: Plan, pc: int, regs: tuple[int, int, int, int], values: list[int]) -> tuple[tuple[int, int, int, int], int]:
    """Instruction `pc` with its operand values (bits, in operands_at order): (registers, value)."""
    if plan.kind in BINARY:
        return regs, _binary(plan.kind, values[0], values[1])
    if plan.kind == NEG:
        return regs, NAN32 if np.isnan(_f(values[0])) else values[0] ^ 0x80000000
    if plan.kind == RELU:
        return regs, _binary(5, values[0], 0)
    if plan.kind == ADAMW:
        return regs, _adamw(plan.slot, plan.attrs, *values)
    k = plan.k
    r = list(regs)
    if pc < k:
        r[0] = max(r[0], values[0] & ABS)
        return tuple(r), 0
    if pc < 2 * k:
        r[1] = max(r[1], values[0] & ABS)
        return tuple(r), 0
    s = slice_bits(k)
    bad = regs[0] >= INF or regs[1] >= INF
    if pc < 3 * k:
        if not bad:
            acc = _from_u256(regs[2]) + _quantize(values[0], _exponent(regs[0]), s) * _quantize(values[1], _exponent(regs[1]), s)
            r[2] = _to_u256(acc)
        return tuple(r), 0
    y = NAN32
    if not bad:
        y = _binary(1, _scaled_narrow(_from_u256(regs[2]), _exponent(regs[0]) + _exponent(regs[1]) - 2 * s), 0)
    if plan.kind == LINEAR and plan.roots[2] != ZERO:
        y = _binary(1, y, values[0])
    return tuple(r), y


@dataclass
class ElementRun:
    """Every state of one element's program: hashes[p] is level-3 position p's hash."""

    plan: Plan
    record: bytes
    element: int
    regs: list[tuple[int, int, int, int]]  # registers before each pc
    value: int
    ctx: bytes

    def state(self, p: int, claimed: int | None = None) -> bytes:
        if p == self.plan.length:
            return op_final_hash(self.ctx, self.value if claimed is None else claimed)
        return op_state_hash(self.ctx, p, self.regs[p])


def input_of(plan: Plan, input_roots, operand: int) -> int:
    """Which input of the op (by position) operand slot `operand` of the plan reads."""
    return list(input_roots).index(plan.roots[operand])


def reader(plan: Plan, input_roots, inputs):
    """read(operand slot, flat index) -> value over the op's inputs (values() of each)."""
    where = [input_of(plan, input_roots, t) if plan.roots[t] != ZERO else -1 for t in range(4)]
    return lambda slot, index: int(inputs[where[slot]][index])


def run(plan: Plan, record: bytes, element: int, read) -> ElementRun:
    """Execute the program; `read(operand_slot, flat_index) -> bits` reads the op's inputs."""
    regs = (0, 0, 0, 0)
    history = [regs]
    value = 0
    if plan.length == 0:
        raise VerdeError("unprovable_op", f"output {plan.slot} of kind {plan.kind} has no on-chain program")
    if plan.kind in COPIES:
        value = _copy_value(plan, read)
        return ElementRun(plan, record, element, [regs, regs], value, op_context(plan, record, element))
    for pc in range(plan.length):
        values = [read(slot, index) for slot, index in operands_at(plan, pc)]
        regs, value = step(plan, pc, regs, values)
        history.append(regs)
    return ElementRun(plan, record, element, history, value, op_context(plan, record, element))


__all__ = ["COPIES", "ElementRun", "input_of", "reader", "KINDS", "copy_operands", "operands_at", "plan_for", "provable", "run", "step"]
