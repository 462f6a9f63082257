"""Compare a claim with a re-execution and say where the two first disagree."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.chain.commit import Claim
from verde import opmachine, strategy
from verde.execution import Execution, bits


@dataclass(frozen=True)
class Dispute:
    """Where two executions first disagree: step (level 1), op (level 2), output slot and
    element (level 3). `provable`: an honest challenger can win it on-chain."""

    step: int
    op: int | None = None
    slot: int | None = None
    element: int | None = None
    kind: str | None = None
    provable: bool = False
    why: str = ""


@dataclass(frozen=True)
class Verdict:
    matches: bool
    dispute: Dispute | None = None
    why: str = ""


def check_claim(claim: Claim, ours: Execution, theirs: Execution | None = None) -> Verdict:
    """Does `claim` match our re-execution? With the claimant's own execution or trace
    (`theirs`, e.g. fetched over /swarm/trace/1) also locate the first disagreement."""
    if claim.ckpt_before != ours.ckpt_before:
        return Verdict(False, None, "the claim starts from another checkpoint than the one re-executed")
    if claim.steps != len(ours.steps):
        return Verdict(False, None, f"the claim has {claim.steps} steps, the re-execution {len(ours.steps)}")
    if claim.ckpt_after == ours.ckpt_after:
        return Verdict(True)
    if theirs is None:
        return Verdict(False, Dispute(step=0, provable=False, why="claimant's trace not available"), "ckpt_after differs")
    return Verdict(False, locate(ours, theirs), "ckpt_after differs")


def locate(ours: Execution, theirs: Execution) -> Dispute:
    """The first differing step, op, output and element of two executions of one claim."""
    k = next((i for i, (a, b) in enumerate(zip(ours.steps, theirs.steps)) if a.ckpt_after != b.ckpt_after),
             len(ours.steps) - 1)
    a, b = ours.steps[k], theirs.steps[k]
    for i, (x, y) in enumerate(zip(a.ops, b.ops)):
        if x.hash == y.hash:
            continue
        rx, ry = x.record, y.record
        if (rx.op, rx.input_roots, rx.attrs_digest) != (ry.op, ry.input_roots, ry.attrs_digest):
            return Dispute(k, i, kind=ry.op, provable=False, why="kind, inputs or attrs differ (wiring): not provable")
        for slot, (ox, oy) in enumerate(zip(x.outputs, y.outputs)):
            if rx.output_roots[slot] == ry.output_roots[slot]:
                continue
            e = strategy.first_difference(bits(ox).tolist(), bits(oy).tolist()) if ox.shape == oy.shape else 0
            ok = opmachine.provable(rx.op)
            if ok:
                plan = opmachine.plan_for(rx.op, rx.input_roots, [t.shape for t in x.inputs], [t.shape for t in x.outputs],
                                          slot, e, x.attrs)
                ok = plan is not None and plan.length > 0
            if not ok and slot + 1 < len(x.outputs):
                continue  # another output of the op may differ and be provable
            return Dispute(k, i, slot, e, rx.op, ok, "" if ok else f"{rx.op} output {slot} has no on-chain program yet")
    if len(a.ops) != len(b.ops):
        return Dispute(k, min(len(a.ops), len(b.ops)), provable=False, why="op counts differ: not provable")
    return Dispute(k, None, provable=False, why="every op agrees: the dispute is the checkpoint assembly (Game.prove_assembly)")


__all__ = ["Dispute", "Verdict", "check_claim", "locate"]
