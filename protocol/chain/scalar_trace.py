"""A synthetic step for playing real Verde games without RepOps, and OpStep's installation.

protocol/ cannot import repops or verde, yet the selftest, the chain tests and the gas
benchmark need whole games. `SyntheticStep` is a step of `n` elementwise binary32 `add` ops
over small float32 tensors, with its trace records, level-2 hashes (the accumulator of
docs/verde.md) and level-3 programs (one instruction each), built only from
protocol.chain.commit. `corrupt=(op, element)` makes the lying version: that op's output
element gets its top mantissa bit flipped. The Verde client (verde/) produces the same shapes
from real RepOps traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import trio

from protocol.chain.commit import (
    ZERO, Float32Tensor, Plan, acc_hash, acc_path, op_context, op_final_hash, op_state_hash, root_from_path, sha256,
    trace_record_hash, tree_root,
)
from protocol.chain.position import inner_boundaries, parts

KIND_ADD = 1


def _f32(bits: int) -> np.float32:
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def add_bits(a: int, b: int) -> int:
    """binary32 a + b (numpy is IEEE-754), NaN canonical."""
    r = np.float32(_f32(a) + _f32(b))
    return 0x7FC00000 if np.isnan(r) else int(np.array([r], dtype=np.float32).view(np.uint32)[0])


def head_of(t: Float32Tensor) -> tuple[bytes, bytes]:
    """op_step.Head: (header, chunk tree root)."""
    return (t.header, tree_root([sha256(b"\x00", c) for c in t.chunks()]))


@dataclass
class SyntheticStep:
    n: int = 12
    size: int = 4
    corrupt: tuple[int, int] | None = None
    seed: int = 3
    ckpt_before: bytes = sha256(b"synthetic checkpoint before")
    ckpt_after: bytes = sha256(b"synthetic checkpoint after")
    tensors: dict[bytes, Float32Tensor] = field(default_factory=dict)
    records: list[tuple] = field(default_factory=list)  # (index, name, inputs, outputs, attrs digest)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        for i in range(self.n):
            x, y = (Float32Tensor(tuple(int(b) for b in rng.standard_normal(self.size).astype(np.float32).view(np.uint32)),
                                  (self.size,)) for _ in range(2))
            out = [add_bits(a, b) for a, b in zip(x.bits, y.bits)]
            if self.corrupt and self.corrupt[0] == i:
                out[self.corrupt[1]] ^= 0x00400000
            z = Float32Tensor(tuple(out), (self.size,))
            for t in (x, y, z):
                self.tensors[t.root()] = t
            self.records.append((i, "add", [x.root(), y.root()], [z.root()], ZERO))
        self.hashes = [trace_record_hash(r[0], r[1], r[2], r[3], r[4]) for r in self.records]

    @property
    def length(self) -> int:
        """Level-2 transitions: one per op, then the checkpoint assembly."""
        return self.n + 1

    def level2(self, p: int) -> bytes:
        if p == 0:
            return self.ckpt_before
        if p == self.length:
            return self.ckpt_after
        return acc_hash(self.ckpt_before, p, root_from_path(ZERO, p, acc_path(self.hashes, p)))

    def open_op_args(self, i: int) -> tuple:
        """(record, base, acc, path) for Game.open_op at the transition i -> i + 1."""
        path = acc_path(self.hashes, i)
        return (self.record_tuple(i), self.ckpt_before, root_from_path(ZERO, i, path), path)

    def record_tuple(self, i: int) -> tuple:
        index, name, ins, outs, digest = self.records[i]
        return (index, name.encode(), ins, outs, digest)

    def plan(self, i: int, element: int) -> Plan:
        _, _, ins, _, _ = self.records[i]
        return Plan(KIND_ADD, 0, 1, (ins[0], ins[1], ZERO, ZERO), (element, element, 0, 0))

    def value(self, i: int, element: int) -> int:
        return self.tensors[self.records[i][3][0]].bits[element]

    def true_value(self, i: int, element: int) -> int:
        _, _, ins, _, _ = self.records[i]
        return add_bits(self.tensors[ins[0]].bits[element], self.tensors[ins[1]].bits[element])

    def pick_args(self, i: int, element: int) -> tuple:
        """(record, heads, slot, element, attrs, claimed opening) for Game.pick."""
        _, _, ins, outs, _ = self.records[i]
        heads = [head_of(self.tensors[r]) for r in (*ins, *outs)]
        return (self.record_tuple(i), heads, 0, element, [0] * 6, self.tensors[outs[0]].opening(element))

    def level3(self, i: int, element: int) -> tuple[bytes, bytes]:
        """(start state, final state with this step's claimed value) of op i's element."""
        ctx = op_context(self.plan(i, element), self.hashes[i], element)
        return op_state_hash(ctx, 0, (0, 0, 0, 0)), op_final_hash(ctx, self.value(i, element))

    def step_proof(self, i: int, element: int, record: bytes | None = None) -> tuple:
        """op_step.StepProof of the element's one instruction (from agreed inputs)."""
        _, _, ins, _, _ = self.records[i]
        openings = [self.tensors[r].opening(element) for r in ins]
        return (self.plan(i, element).as_tuple(), record or self.hashes[i], element, 0, [0, 0, 0, 0], openings)

    # the honest challenger's picks
    def disputed_part(self, lo: int, hi: int, revealed: list[bytes]) -> int:
        for j, (p, theirs) in enumerate(zip(inner_boundaries(lo, hi), revealed)):
            if self.level2(p) != theirs:
                return j
        return parts(lo, hi) - 1


@lru_cache(maxsize=2)
def _artifact(name: str):
    from protocol.chain.artifacts import compile_source

    return compile_source(f"{name}.vy")


async def install_op_step(client) -> str:
    """Deploy OpStep.vy and CopyStep.vy and install them in the Game unless installed (anyone
    may: Game pins their code hashes). Returns OpStep's address."""
    from web3 import Web3

    from protocol.errors import ProtocolError

    game = client.game.contract
    current = await trio.to_thread.run_sync(game.functions.stepper().call)
    if int(current, 16):
        return current
    addresses = []
    for name in ("OpStep", "CopyStep"):
        art = await trio.to_thread.run_sync(_artifact, name)
        ctor = client.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor()
        result = await client.worker.transact(f"deploy {name}", ctor)
        addresses.append(Web3.to_checksum_address(result.contract_address))
    address = addresses[0]
    try:
        await client.worker.transact("Game.set_stepper", game.functions.set_stepper(*addresses))
    except ProtocolError:
        current = await trio.to_thread.run_sync(game.functions.stepper().call)
        if not int(current, 16):
            raise
        return current
    return address


__all__ = ["SyntheticStep", "add_bits", "head_of", "install_op_step"]
