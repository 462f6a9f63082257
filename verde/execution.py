"""Re-execution of a claim and the hashes of every level (docs/verde.md, "Levels").

`execute` runs the claimed steps on RepOps keeping every op's tensors; an `Execution` then
answers what either side of a game needs: the hash at any position of any level, an op's
record and tensors, the Merkle path that proves an append, element openings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from protocol.chain.commit import (
    ZERO, acc_hash, acc_inclusion_path, acc_path, checkpoint_hash, int64_scalar_root, root_from_path,
)
from repops import merkle
from repops.model import Policy
from repops.step import Batch, Objective, StepConfig, load_state, make_optimizer, sampling_logps, state_tensors, train_step
from repops.trace import OpRecord
from verde.errors import VerdeError


@dataclass
class OpData:
    """One op of a step as this side holds it: its record and its tensors."""

    record: OpRecord
    inputs: tuple[torch.Tensor, ...]
    outputs: tuple[torch.Tensor, ...]
    attrs: Mapping[str, Any] | None

    @property
    def hash(self) -> bytes:
        return self.record.hash


@dataclass
class StepTrace:
    """The ops of one step and the checkpoints around it; level 2's hashes."""

    ckpt_before: bytes
    ckpt_after: bytes
    ops: list[OpData]
    entries: list[tuple[str, bytes]] = field(default_factory=list)  # checkpoint before: sorted (name, root)
    param_order: list[str] = field(default_factory=list)  # the model's parameters, in adamw record order
    step_before: int = 0  # the checkpoint's `step`
    _levels: list[list[bytes]] | None = field(default=None, repr=False)  # cached record hashes

    @property
    def length(self) -> int:
        """Transitions of level 2: one per op, then the checkpoint assembly."""
        return len(self.ops) + 1

    def acc_path(self, i: int) -> list[bytes]:
        """Siblings of leaf i in the accumulator of the first i records (all later leaves ZERO)."""
        if self._levels is None:
            self._levels = [[op.hash for op in self.ops]]
        return acc_path(self._levels[0], i)

    def assembly_args(self) -> tuple:
        """(base, acc, before entries, updates, step entry, step before) for Game.prove_assembly."""
        hashes = [op.hash for op in self.ops]
        index = {name: i for i, (name, _) in enumerate(self.entries)}
        adamw = [op for op in self.ops if op.record.op == "adamw"]
        if len(adamw) != len(self.param_order):
            raise VerdeError("not_assemblable", f"{len(adamw)} adamw records for {len(self.param_order)} parameters")
        updates = []
        for name, op in zip(self.param_order, adamw):
            r = op.record
            record = (r.index, r.op.encode("ascii"), list(r.input_roots), list(r.output_roots), r.attrs_digest)
            updates.append((index[name], index[name + ".exp_avg"], index[name + ".exp_avg_sq"], record,
                            acc_inclusion_path(hashes, r.index)))
        before = [(name.encode(), root) for name, root in self.entries]
        return (self.ckpt_before, self.acc_root(len(self.ops)), before, updates, index["step"], self.step_before)

    def assembled(self) -> bytes:
        """The checkpoint after as the contract rebuilds it from this step's records."""
        roots = dict(self.entries)
        for name, op in zip(self.param_order, [op for op in self.ops if op.record.op == "adamw"]):
            outs = op.record.output_roots
            roots[name], roots[name + ".exp_avg"], roots[name + ".exp_avg_sq"] = outs[0], outs[1], outs[2]
        roots["step"] = int64_scalar_root(self.step_before + 1)
        return checkpoint_hash([(name.encode(), roots[name]) for name, _ in self.entries])

    def acc_root(self, i: int) -> bytes:
        return root_from_path(ZERO, i, self.acc_path(i))

    def hash_at(self, p: int) -> bytes:
        """Level-2 position p: C_k, then A_1 .. A_m, then C_{k+1}."""
        if p == 0:
            return self.ckpt_before
        if p == self.length:
            return self.ckpt_after
        if not 0 < p < self.length:
            raise VerdeError("bad_position", f"level 2 has positions 0..{self.length}, not {p}")
        return acc_hash(self.ckpt_before, p, self.acc_root(p))


@dataclass
class Execution:
    """A claim as one side computed it: one StepTrace per step. Lying executions (tests'
    fault injection, verde.faults) are Executions whose contents were altered."""

    steps: list[StepTrace]
    tensors: dict[bytes, torch.Tensor] = field(default_factory=dict)  # root -> tensor (openings)
    # (level, step, position) -> hash revealed instead of the computed one (fault injection)
    reveal_overrides: dict[tuple, bytes] = field(default_factory=dict)

    @property
    def ckpt_before(self) -> bytes:
        return self.steps[0].ckpt_before

    @property
    def ckpt_after(self) -> bytes:
        return self.steps[-1].ckpt_after

    def level1_hash(self, p: int) -> bytes:
        if p == 0:
            return self.ckpt_before
        return self.steps[p - 1].ckpt_after

    def tensor(self, root: bytes) -> torch.Tensor | None:
        return self.tensors.get(root)

    def index_tensors(self) -> None:
        for step in self.steps:
            for op in step.ops:
                for roots, ts in ((op.record.input_roots, op.inputs), (op.record.output_roots, op.outputs)):
                    for root, t in zip(roots, ts):
                        self.tensors.setdefault(root, t)


def execute(ckpt: Mapping[str, torch.Tensor], batch: Batch, hparams: StepConfig, steps: int = 1) -> Execution:
    """Run `steps` RepOps steps from checkpoint tensors `ckpt` on `batch` (the SAPO update's
    PPO epochs are its steps), keeping every op's tensors. Synchronous torch work."""
    if steps < 1:
        raise VerdeError("bad_claim", f"a claim has at least one step, not {steps}")
    model = Policy(hparams.model)
    optimizer = make_optimizer(model, hparams)
    load_state(model, optimizer, dict(ckpt))
    if hparams.objective == "sapo" and batch.old_logp is None:
        batch = batch.with_logps(sampling_logps(model, batch), batch.ref_logp)
    traces = []
    param_order = [name for name, _ in model.named_parameters()]
    for _ in range(steps):
        state = state_tensors(model, optimizer)
        entries = sorted(((name, merkle.tensor_root(t)) for name, t in state.items()), key=lambda e: e[0].encode())
        step_before = optimizer.step_count
        result = train_step(model, optimizer, batch, objective=Objective.of(hparams),
                            micro_batches=hparams.micro_batches, keep_tensors=True)
        tracer = result.tracer
        ops = []
        for i, rec in enumerate(tracer.records):
            opening = tracer.open(i)
            ops.append(OpData(rec, opening.inputs, opening.outputs, opening.attrs))
        traces.append(StepTrace(result.ckpt_before, result.ckpt_after, ops, entries, param_order, step_before))
    execution = Execution(traces)
    execution.index_tensors()
    return execution


def element_opening(tensor: torch.Tensor, flat_index: int) -> tuple:
    """op_step.Opening (header, chunk, siblings) of one element."""
    proof = merkle.prove_element(tensor, flat_index)
    return (proof.header, proof.chunk_bytes, list(proof.siblings))


def head(tensor: torch.Tensor) -> tuple:
    """op_step.Head (header, chunk tree root) of a tensor."""
    arr = merkle.canonical_array(tensor)
    return (merkle.header(tensor), merkle.tree_root_concat(merkle.chunk_leaves(arr)))


def values(tensor: torch.Tensor) -> torch.Tensor:
    """Flat int64 values as the contract reads them: binary32 bit patterns for float32
    (canonical NaN), the integers themselves for int32/int64/bool."""
    if tensor.dtype == torch.float32:
        return bits(tensor)
    return tensor.detach().contiguous().reshape(-1).to(torch.int64)


def bits(tensor: torch.Tensor) -> torch.Tensor:
    """The canonical binary32 bit patterns of a float32 tensor (NaN as 0x7fc00000), flat."""
    flat = tensor.detach().contiguous().reshape(-1).to(torch.float32)
    out = flat.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    return torch.where(torch.isnan(flat), torch.full_like(out, 0x7FC00000), out)


__all__ = ["Execution", "OpData", "StepTrace", "bits", "element_opening", "execute", "head", "values"]
