"""A scalar program, its state sequence and the game moves derived from it.

Used by the selftest, the tests and the gas benchmark to play real games; the Verde client
will produce the same shapes from RepOps traces. A `ScalarTrace` holds the two-register
machine's states S_0..S_n (modules/scalar_step.vy); `levels` fixes how the game's levels
refine it: level k's position p is state `base + p * spacing[k]`, so level 1 has n /
spacing[0] steps and each descent divides the spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from protocol.chain.commit import (
    EMPTY_OPENING, OPCODES, SRC_ACC, SRC_IMMEDIATE, SRC_TENSOR, SRC_TMP, Float32Tensor, Instruction,
    state_hash, tree_proof, tree_root,
)
from protocol.chain.position import inner_boundaries, parts


def _f(bits: int) -> np.float32:
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def _bits(value: np.float32) -> int:
    if np.isnan(value):
        return 0x7FC00000
    return int(np.array([value], dtype=np.float32).view(np.uint32)[0])


def apply(opcode: int, a: int, b: int) -> int:
    """Reference binary32 semantics of the scalar machine's opcodes (numpy is IEEE-754)."""
    x, y = _f(a), _f(b)
    with np.errstate(all="ignore"):
        if opcode == OPCODES["add"]:
            return _bits(np.float32(x + y))
        if opcode == OPCODES["sub"]:
            return _bits(np.float32(x - y))
        if opcode == OPCODES["mul"]:
            return _bits(np.float32(x * y))
        if opcode == OPCODES["div"]:
            return _bits(np.float32(x / y))
        if opcode == OPCODES["sqrt"]:
            return _bits(np.sqrt(x))
        if opcode in (OPCODES["min"], OPCODES["max"]):
            return _min_max(opcode == OPCODES["max"], a, b)
        if opcode == OPCODES["neg"]:
            return 0x7FC00000 if np.isnan(x) else a ^ 0x80000000
        if opcode == OPCODES["abs"]:
            return 0x7FC00000 if np.isnan(x) else a & 0x7FFFFFFF
    raise ValueError(f"opcode {opcode} not in the reference")


def _min_max(want_max: bool, a: int, b: int) -> int:
    # lib/float32 semantics: NaN if either is NaN; -0 < +0.
    x, y = _f(a), _f(b)
    if np.isnan(x) or np.isnan(y):
        return 0x7FC00000

    def key(bits: int) -> int:
        return -(bits & 0x7FFFFFFF) - 1 if bits & 0x80000000 else bits

    pick_b = key(b) > key(a) if want_max else key(b) < key(a)
    return b if pick_b else a


@dataclass
class ScalarTrace:
    instructions: list[Instruction]
    tensors: dict[bytes, Float32Tensor]
    spacing: list[int]  # per level, e.g. [4, 2, 1]
    states: list[tuple[int, int]] = field(default_factory=list)  # (acc, tmp) before each pc
    corrupt_at: int | None = None  # a cheat: flip the top mantissa bit of this instruction's result
    _leaves: list[bytes] | None = field(default=None, repr=False)
    _root: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        acc, tmp = 0, 0
        self.states = [(acc, tmp)]
        for pc, ins in enumerate(self.instructions):
            a = self._read(ins.src_a, ins.root_a, ins.index_a, acc, tmp)
            b = self._read(ins.src_b, ins.root_b, ins.index_b, acc, tmp)
            r = apply(ins.opcode, a, b)
            if pc == self.corrupt_at:
                r ^= 0x00400000  # large enough that later rounding cannot absorb it
            acc, tmp = (r, tmp) if ins.dst == 0 else (acc, r)
            self.states.append((acc, tmp))
        if len(self.instructions) % self.spacing[0]:
            raise ValueError("the program length must be a multiple of the level-1 spacing")

    def _read(self, src: int, root: bytes, index: int, acc: int, tmp: int) -> int:
        if src == SRC_ACC:
            return acc
        if src == SRC_TMP:
            return tmp
        if src == SRC_TENSOR:
            return self.tensors[root].bits[index]
        if src == SRC_IMMEDIATE:
            return index
        raise ValueError(f"bad source {src}")

    @property
    def leaves(self) -> list[bytes]:
        if self._leaves is None:
            self._leaves = [ins.leaf(pc) for pc, ins in enumerate(self.instructions)]
        return self._leaves

    @property
    def program_root(self) -> bytes:
        if self._root is None:
            self._root = tree_root(self.leaves)
        return self._root

    def state(self, pc: int) -> bytes:
        acc, tmp = self.states[pc]
        return state_hash(self.program_root, pc, acc, tmp)

    @property
    def steps(self) -> int:
        return len(self.instructions) // self.spacing[0]

    # --- moves -----------------------------------------------------------------------------

    def points(self, level: int, base: int, lo: int, hi: int) -> list[bytes]:
        return [self.state(base + p * self.spacing[level - 1]) for p in inner_boundaries(lo, hi)]

    def first_disputed_part(self, level: int, base: int, lo: int, hi: int, revealed: list[bytes]) -> int:
        """The challenger's pick: the first sub-range whose right end differs from our state."""
        ours = self.points(level, base, lo, hi)
        for j, (mine, theirs) in enumerate(zip(ours, revealed)):
            if mine != theirs:
                return j
        return parts(lo, hi) - 1

    def descent_length(self, level: int) -> int:
        return self.spacing[level - 1] // self.spacing[level]

    def step_proof(self, pc: int) -> tuple:
        """scalar_step.StepProof for the transition pc -> pc + 1, from this (honest) trace."""
        ins = self.instructions[pc]
        acc, tmp = self.states[pc]
        leaves = self.leaves
        op_a = self.tensors[ins.root_a].opening(ins.index_a) if ins.src_a == SRC_TENSOR else EMPTY_OPENING
        op_b = self.tensors[ins.root_b].opening(ins.index_b) if ins.src_b == SRC_TENSOR else EMPTY_OPENING
        return (self.program_root, pc, acc, tmp, ins.as_tuple(), tree_proof(leaves, pc), op_a, op_b)


def dot_product_trace(n: int = 8, *, corrupt_at: int | None = None, spacing: list[int] | None = None,
                      seed: int = 7) -> ScalarTrace:
    """acc = sum_i x[i] * w[i] as 2n instructions (mul into tmp, add into acc)."""
    rng = np.random.default_rng(seed)
    x = Float32Tensor(tuple(int(b) for b in rng.standard_normal(n).astype(np.float32).view(np.uint32)), (n,))
    w = Float32Tensor(tuple(int(b) for b in rng.standard_normal(n).astype(np.float32).view(np.uint32)), (n,))
    rx, rw = x.root(), w.root()
    program: list[Instruction] = []
    for i in range(n):
        program.append(Instruction(OPCODES["mul"], 1, SRC_TENSOR, SRC_TENSOR, rx, i, rw, i))
        program.append(Instruction(OPCODES["add"], 0, SRC_ACC, SRC_TMP))
    return ScalarTrace(program, {rx: x, rw: w}, spacing or [4, 2, 1], corrupt_at=corrupt_at)


__all__ = ["ScalarTrace", "apply", "dot_product_trace"]
