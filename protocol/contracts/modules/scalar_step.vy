# pragma version ~=0.4.3
"""
@title scalar_step: the one-step check of the bottom level (one binary32 operation)
@notice The bottom level of a game is the scalar program of one output element, run by a
        two-register machine. Its state hash is
            S = sha256(0x07 || program_root || pc (8 B) || acc (4 B) || tmp (4 B))
        (numbers big-endian; acc and tmp are binary32 bit patterns). Instruction `pc` is leaf
        `pc` of the sha_tree whose root is program_root:
            sha256(0x08 || pc (8 B) || opcode || dst || src_a || src_b || root_a || index_a (8 B)
                   || root_b || index_b (8 B))
        Sources: 0 acc, 1 tmp, 2 element `index` of the float32 tensor whose commitments.md
        root is `root` (opened with its chunk and chunk proof), 3 immediate (index's low
        32 bits). The result goes to acc (dst 0) or tmp (dst 1); pc advances by one.
"""

from lib import float32
from lib import merkle
from modules import sha_tree

OP_ADD: constant(uint8) = 0
OP_SUB: constant(uint8) = 1
OP_MUL: constant(uint8) = 2
OP_DIV: constant(uint8) = 3
OP_SQRT: constant(uint8) = 4
OP_MIN: constant(uint8) = 5
OP_MAX: constant(uint8) = 6
OP_NEG: constant(uint8) = 7
OP_ABS: constant(uint8) = 8

SRC_ACC: constant(uint8) = 0
SRC_TMP: constant(uint8) = 1
SRC_TENSOR: constant(uint8) = 2
SRC_IMMEDIATE: constant(uint8) = 3

struct Instruction:
    opcode: uint8
    dst: uint8
    src_a: uint8
    src_b: uint8
    root_a: bytes32
    index_a: uint64
    root_b: bytes32
    index_b: uint64

struct Opening:
    header: Bytes[66]               # commitments.md tensor header (dtype, ndim, dims)
    chunk: Bytes[1024]              # the chunk holding the element
    siblings: DynArray[bytes32, 40] # the chunk's proof

struct StepProof:
    program_root: bytes32
    pc: uint64
    acc: uint32
    tmp: uint32
    instruction: Instruction
    instruction_proof: DynArray[bytes32, 40]
    a: Opening
    b: Opening


@internal
@pure
def _u64(x: uint64) -> Bytes[8]:
    return slice(convert(convert(x, uint256), bytes32), 24, 8)


@internal
@pure
def _u32(x: uint32) -> Bytes[4]:
    return slice(convert(convert(x, uint256), bytes32), 28, 4)


@internal
@pure
def state_hash(program_root: bytes32, pc: uint64, acc: uint32, tmp: uint32) -> bytes32:
    return sha256(concat(b"\x07", program_root, self._u64(pc), self._u32(acc), self._u32(tmp)))


@internal
@pure
def instruction_leaf(pc: uint64, ins: Instruction) -> bytes32:
    return sha256(concat(
        b"\x08", self._u64(pc),
        convert(ins.opcode, bytes1), convert(ins.dst, bytes1), convert(ins.src_a, bytes1), convert(ins.src_b, bytes1),
        ins.root_a, self._u64(ins.index_a), ins.root_b, self._u64(ins.index_b)))


@internal
@pure
def _tensor_element(root: bytes32, index: uint64, o: Opening) -> uint32:
    ok: bool = False
    bits: uint32 = 0
    # INVARIANT: the operand is opened against the agreed tensor root (lib/merkle checks the
    # float32 dtype, the index bound, the chunk length and the exact proof depth too).
    ok, bits = merkle.open_float32(root, o.header, o.chunk, o.siblings, convert(index, uint256))
    # INVARIANT: an operand comes only from the agreed tensor root.
    assert ok, "Game: bad operand proof"
    return bits


@internal
@pure
def _operand(src: uint8, root: bytes32, index: uint64, acc: uint32, tmp: uint32, o: Opening) -> uint32:
    if src == SRC_ACC:
        return acc
    if src == SRC_TMP:
        return tmp
    if src == SRC_TENSOR:
        return self._tensor_element(root, index, o)
    # INVARIANT: sources are acc, tmp, tensor or immediate.
    assert src == SRC_IMMEDIATE, "Game: bad source"
    # INVARIANT: an immediate is a 32-bit pattern.
    assert convert(index, uint256) < 2**32, "Game: bad immediate"
    return convert(index, uint32)


@internal
@pure
def apply(opcode: uint8, a: uint32, b: uint32) -> uint32:
    if opcode == OP_ADD:
        return float32.add(a, b)
    if opcode == OP_SUB:
        return float32.sub(a, b)
    if opcode == OP_MUL:
        return float32.mul(a, b)
    if opcode == OP_DIV:
        return float32.div(a, b)
    if opcode == OP_SQRT:
        return float32.sqrt(a)
    if opcode == OP_MIN:
        return float32.min(a, b)
    if opcode == OP_MAX:
        return float32.max(a, b)
    if opcode == OP_NEG:
        return float32.neg(a)
    # INVARIANT: only the nine binary32 operations exist.
    assert opcode == OP_ABS, "Game: bad opcode"
    return float32.abs(a)


@internal
@pure
def post_state(pre: bytes32, p: StepProof) -> bytes32:
    """@notice The true successor of the agreed state `pre`; reverts if a proof fails."""
    # INVARIANT: the opened registers are exactly the agreed pre-state.
    assert self.state_hash(p.program_root, p.pc, p.acc, p.tmp) == pre, "Game: pre-state mismatch"
    # INVARIANT: the instruction is the program's instruction at pc.
    assert sha_tree.root_from_path(self.instruction_leaf(p.pc, p.instruction), convert(p.pc, uint256), p.instruction_proof) == p.program_root, "Game: bad instruction proof"
    ins: Instruction = p.instruction
    # INVARIANT: results go to acc or tmp.
    assert ins.dst <= 1, "Game: bad destination"
    a: uint32 = self._operand(ins.src_a, ins.root_a, ins.index_a, p.acc, p.tmp, p.a)
    b: uint32 = 0
    if ins.opcode != OP_SQRT and ins.opcode != OP_NEG and ins.opcode != OP_ABS:
        b = self._operand(ins.src_b, ins.root_b, ins.index_b, p.acc, p.tmp, p.b)
    r: uint32 = self.apply(ins.opcode, a, b)
    if ins.dst == 0:
        return self.state_hash(p.program_root, p.pc + 1, r, p.tmp)
    return self.state_hash(p.program_root, p.pc + 1, p.acc, r)
