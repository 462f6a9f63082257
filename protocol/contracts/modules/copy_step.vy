# pragma version ~=0.4.3
"""
@title copy_step: level-3 programs of RepOps' selects and copies (one instruction each), and
       the plans of the backward matmuls (run by op_step's matmul program)
@notice where(cond, a, b), masked_fill(x, mask; value), embedding(idx, weight) and
        gather(x, idx; dim) compute nothing: the element is a copy of one input element,
        chosen by a bool or an int64 element. Operands of any dtype are opened by `read`
        (bool/uint8 one byte, int32/float32 four, int64 eight per element; 256 per chunk).
        Same Plan, state and final hashes as modules/op_step.vy.
        Python twin: verde/opmachine.py.
"""

from lib import float64
from lib import merkle
from modules import op_step

KIND_WHERE: constant(uint8) = 12
KIND_MASKED_FILL: constant(uint8) = 13
KIND_EMBEDDING: constant(uint8) = 14
KIND_GATHER: constant(uint8) = 15

struct WideOpening:
    header: Bytes[66]
    chunk: Bytes[2048]              # 256 elements of up to 8 bytes
    siblings: DynArray[bytes32, 40]

struct CopyProof:
    plan: op_step.Plan
    record: bytes32
    element: uint64
    pc: uint64
    regs: uint256[4]
    operands: DynArray[WideOpening, 3]


@internal
@pure
def _width(dtype: uint256) -> uint256:
    if dtype == 1 or dtype == 2:
        return 4
    if dtype == 3:
        return 8
    if dtype == 4 or dtype == 5:
        return 1
    return 0


@internal
@pure
def read(root: bytes32, index: uint256, o: WideOpening) -> uint256:
    """@notice Element `index` of the tensor `root` as its little-endian integer bits."""
    ok: bool = False
    numel: uint256 = 0
    ok, numel = merkle.header_numel(o.header)
    w: uint256 = 0
    if ok:
        w = self._width(convert(slice(o.header, 0, 1), uint256))
    c: uint256 = index // 256
    n_chunks: uint256 = (numel + 255) // 256
    valid: bool = ok and w != 0 and index < numel and len(o.siblings) == merkle.tree_depth(n_chunks)
    valid = valid and len(o.chunk) == w * min(256, numel - c * 256)
    # INVARIANT: every operand is an element of an agreed input tensor, at the index the plan computes.
    assert valid, "Game: bad operand proof"
    tree: bytes32 = merkle.root_from_proof(sha256(concat(b"\x00", o.chunk)), c, o.siblings)
    assert merkle.tensor_root(o.header, tree) == root, "Game: bad operand proof"
    off: uint256 = (index % 256) * w
    out: uint256 = 0
    for t: uint256 in range(8):
        if t >= w:
            break
        out = out | (convert(slice(o.chunk, off + t, 1), uint256) << (8 * t))  # little-endian
    return out


@internal
@pure
def backward_plan(kind: uint8, r: op_step.OpRecord, heads: DynArray[op_step.Head, op_step.MAX_HEADS], s: uint256,
                  e: uint256, p: op_step.Plan) -> (bool, op_step.Plan):
    # inputs (g, x, w) / (g, a, b); each output a matmul of two of them, one transposed:
    #   linear:  gx[r, k] = sum_n g[r, n] w[n, k]      gW[n, k] = sum_r g[r, n] x[r, k]
    #   matmul:  ga[i, k] = sum_n g[i, n] b[k, n]      gb[k, n] = sum_i a[i, k] g[i, n]
    out: op_step.Plan = p
    if len(r.inputs) != 3 or s > 2:
        return False, out
    g: DynArray[uint256, 8] = op_step._dims(heads[0].header)
    x: DynArray[uint256, 8] = op_step._dims(heads[1].header)
    w: DynArray[uint256, 8] = op_step._dims(heads[2].header)
    if len(g) < 2 or len(x) != len(g) or (kind == op_step.KIND_MATMUL_BACKWARD and len(w) != len(g)) or (kind == op_step.KIND_LINEAR_BACKWARD and len(w) != 2):
        return False, out
    nn: uint256 = g[len(g) - 1]
    kk: uint256 = x[len(x) - 1]
    if nn == 0 or kk == 0 or s == 2:
        return True, out          # linear's bias gradient: a tree sum, no program (length 0)
    rows: uint256 = op_step._numel(g) // nn   # linear: all leading dims; matmul: M of one batch below
    mm: uint256 = rows
    bt: uint256 = 0
    if kind == op_step.KIND_MATMUL_BACKWARD:
        mm = g[len(g) - 2]
        for t: uint256 in range(6):
            if t + 2 >= len(g):
                break
            if g[t] != x[t] or g[t] != w[t]:
                return True, out  # broadcast batch dims: reduced by tree sums, no program
    inner: uint256 = 0
    if s == 0:
        # (rows, N) @ (N, K): row of g, column k of w (linear: w[n, k]; matmul: b^T = b[k, n])
        i: uint256 = (e // kk) % mm
        k: uint256 = e % kk
        bt = e // (kk * mm)
        inner = nn
        out.roots = [r.inputs[0], r.inputs[2], empty(bytes32), empty(bytes32)]
        if kind == op_step.KIND_LINEAR_BACKWARD:
            out.index = [convert(i * nn, uint64), convert(k, uint64), 0, 0]
            out.stride = [1, convert(kk, uint64)]
        else:
            out.index = [convert((bt * mm + i) * nn, uint64), convert((bt * kk + k) * nn, uint64), 0, 0]
            out.stride = [1, 1]
    else:
        # (N, rows) @ (rows, K): row n of g^T, column k of x
        n: uint256 = (e // kk) % nn
        k: uint256 = e % kk
        if kind == op_step.KIND_MATMUL_BACKWARD:
            # gb[k, n] = sum_i a[i, k] g[i, n]: rows of a^T, columns of g
            k = (e // nn) % kk
            n = e % nn
            bt = e // (kk * nn)
            out.roots = [r.inputs[1], r.inputs[0], empty(bytes32), empty(bytes32)]
            out.index = [convert(bt * mm * kk + k, uint64), convert(bt * mm * nn + n, uint64), 0, 0]
            out.stride = [convert(kk, uint64), convert(nn, uint64)]
        else:
            out.roots = [r.inputs[0], r.inputs[1], empty(bytes32), empty(bytes32)]
            out.index = [convert(n, uint64), convert(k, uint64), 0, 0]
            out.stride = [convert(nn, uint64), convert(kk, uint64)]
        inner = mm
    out.k = convert(inner, uint64)
    out.length = convert(3 * inner + 1, uint64)
    return True, out


@internal
@pure
def make_plan(kind: uint8, r: op_step.OpRecord, heads: DynArray[op_step.Head, op_step.MAX_HEADS], slot: uint8,
              e: uint256, attrs: uint256[6]) -> (bool, op_step.Plan):
    p: op_step.Plan = empty(op_step.Plan)
    p.kind = kind
    p.slot = slot
    p.length = 1
    n_in: uint256 = len(r.inputs)
    if kind >= op_step.KIND_LINEAR_BACKWARD:
        p.length = 0
        return self.backward_plan(kind, r, heads, convert(slot, uint256), e, p)
    if slot != 0:
        return False, p
    out: DynArray[uint256, 8] = op_step._dims(heads[n_in].header)
    ok: bool = True
    ia: uint256 = 0
    ib: uint256 = 0
    ic: uint256 = 0
    if kind == KIND_WHERE or kind == KIND_MASKED_FILL:
        if (kind == KIND_WHERE and n_in != 3) or (kind == KIND_MASKED_FILL and n_in != 2):
            return False, p
        ok, ia = op_step._broadcast_index(out, op_step._dims(heads[0].header), e)
        if not ok:
            return False, p
        ok, ib = op_step._broadcast_index(out, op_step._dims(heads[1].header), e)
        if not ok:
            return False, p
        if kind == KIND_WHERE:
            ok, ic = op_step._broadcast_index(out, op_step._dims(heads[2].header), e)
            if not ok:
                return False, p
            p.roots = [r.inputs[0], r.inputs[1], r.inputs[2], empty(bytes32)]
        else:
            p.roots = [r.inputs[0], r.inputs[1], empty(bytes32), empty(bytes32)]
            p.attrs[0] = attrs[0]
        p.index = [convert(ia, uint64), convert(ib, uint64), convert(ic, uint64), 0]
        return True, p
    if n_in != 2:
        return False, p
    if kind == KIND_EMBEDDING:
        # idx (...), weight (V, D), y (..., D)
        w: DynArray[uint256, 8] = op_step._dims(heads[1].header)
        if len(w) != 2 or w[1] == 0:
            return False, p
        p.roots = [r.inputs[0], r.inputs[1], empty(bytes32), empty(bytes32)]
        p.index = [convert(e // w[1], uint64), convert(e % w[1], uint64), 0, 0]
        p.stride = [convert(w[1], uint64), convert(w[0], uint64)]
        return True, p
    # gather(x, idx; dim): idx has y's shape, y[c] = x[c with c[dim] = idx[c]]
    x: DynArray[uint256, 8] = op_step._dims(heads[0].header)
    d: uint256 = attrs[0]
    if len(x) != len(out) or d >= len(x):
        return False, p
    base: uint256 = 0
    rest: uint256 = e
    coords: uint256[8] = empty(uint256[8])
    for t: uint256 in range(8):
        if t >= len(out):
            break
        k: uint256 = len(out) - 1 - t
        coords[k] = rest % out[k]
        rest = rest // out[k]
    step: uint256 = 1
    for t: uint256 in range(8):
        if t >= len(x):
            break
        k: uint256 = len(x) - 1 - t
        if k == d:
            p.stride[0] = convert(step, uint64)
        elif coords[k] < x[k]:
            base += coords[k] * step
        else:
            return False, p
        step *= x[k]
    p.roots = [r.inputs[0], r.inputs[1], empty(bytes32), empty(bytes32)]
    p.index = [convert(base, uint64), convert(e, uint64), 0, 0]
    p.stride[1] = convert(x[d], uint64)
    p.attrs[0] = d
    return True, p


@internal
@pure
def attrs_digest(kind: uint8, attrs: uint256[6]) -> bytes32:
    if kind == KIND_MASKED_FILL:
        return sha256(concat(b"\x81\xa5value\xcb", slice(convert(attrs[0], bytes32), 24, 8)))
    if kind == KIND_GATHER:
        assert attrs[0] < 128, "Game: bad attrs"
        return sha256(concat(b"\x81\xa3dim", slice(convert(attrs[0], bytes32), 31, 1)))
    return empty(bytes32)


@internal
@pure
def step(p: op_step.Plan, ops: DynArray[WideOpening, 3]) -> uint32:
    """@notice The copied element (binary32 bits, NaN canonical)."""
    v: uint256 = 0
    if p.kind == KIND_WHERE:
        if self.read(p.roots[0], convert(p.index[0], uint256), ops[0]) != 0:
            v = self.read(p.roots[1], convert(p.index[1], uint256), ops[1])
        else:
            v = self.read(p.roots[2], convert(p.index[2], uint256), ops[1])
    elif p.kind == KIND_MASKED_FILL:
        if self.read(p.roots[1], convert(p.index[1], uint256), ops[0]) != 0:
            v = convert(float64.narrow(convert(p.attrs[0], uint64)), uint256)
        else:
            v = self.read(p.roots[0], convert(p.index[0], uint256), ops[1])
    elif p.kind == KIND_EMBEDDING:
        row: uint256 = self.read(p.roots[0], convert(p.index[0], uint256), ops[0])
        # INVARIANT: a token id indexes a row of the table (int64 read as unsigned: negatives are out).
        assert row < convert(p.stride[1], uint256), "Game: bad operand proof"
        v = self.read(p.roots[1], row * convert(p.stride[0], uint256) + convert(p.index[1], uint256), ops[1])
    else:
        j: uint256 = self.read(p.roots[1], convert(p.index[1], uint256), ops[0])
        assert j < convert(p.stride[1], uint256), "Game: bad operand proof"
        v = self.read(p.roots[0], convert(p.index[0], uint256) + j * convert(p.stride[0], uint256), ops[1])
    if v & 2147483647 > 2139095040:
        return 2143289344
    return convert(v & 4294967295, uint32)
