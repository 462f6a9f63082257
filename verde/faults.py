"""Cheats, named, for fault-injection tests: `lie(execution, fault, ...)` returns a lying copy.

A lying Execution is what a cheating claimant would hold: the honest one with one thing
changed, plus the tensors it would serve for its changed outputs.
"""

from __future__ import annotations

import enum
from dataclasses import replace

import torch

from protocol.chain.commit import sha256
from repops import merkle
from verde.execution import Execution, OpData, StepTrace


class Fault(enum.Enum):
    WRONG_CKPT_AFTER = "wrong-ckpt-after"      # every op right, the claimed checkpoint wrong
    CORRUPT_ELEMENT = "corrupt-element"        # one element of one op's output flipped
    WRONG_OP = "wrong-op"                      # one op's whole output replaced (+1 everywhere)
    LYING_REVEAL = "lying-reveal"              # an honest claim, a made-up hash revealed


def _with_output(op: OpData, slot: int, tensor: torch.Tensor) -> OpData:
    roots = list(op.record.output_roots)
    roots[slot] = merkle.tensor_root(tensor)
    outputs = list(op.outputs)
    outputs[slot] = tensor
    return OpData(replace(op.record, output_roots=tuple(roots)), op.inputs, tuple(outputs), op.attrs)


def lie(execution: Execution, fault: Fault, *, step: int = 0, op: int = 0, slot: int = 0, element: int = 0,
        position: int = 1) -> Execution:
    steps = [StepTrace(s.ckpt_before, s.ckpt_after, list(s.ops), s.entries, s.param_order, s.step_before)
             for s in execution.steps]
    lying = Execution(steps, dict(execution.tensors))
    target = steps[step]
    if fault is Fault.WRONG_CKPT_AFTER:
        steps[-1].ckpt_after = sha256(b"a wrong checkpoint", steps[-1].ckpt_after)
    elif fault in (Fault.CORRUPT_ELEMENT, Fault.WRONG_OP):
        out = target.ops[op].outputs[slot].detach().clone(memory_format=torch.contiguous_format)
        if fault is Fault.CORRUPT_ELEMENT:
            flat = out.reshape(-1).view(torch.int32)
            flat[element] ^= 1 << 22  # a large change: no later rounding can hide it
        else:
            out = out + 1.0
        target.ops[op] = _with_output(target.ops[op], slot, out)
        lying.tensors[target.ops[op].record.output_roots[slot]] = out
    elif fault is Fault.LYING_REVEAL:
        lying.reveal_overrides[(2, step, position)] = sha256(b"a made-up level-2 hash", bytes([position % 256]))
    return lying


__all__ = ["Fault", "lie"]
