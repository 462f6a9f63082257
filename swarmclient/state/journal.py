"""The round loop's side of durable state, in the one order that survives a kill anywhere.

    journal = RoundJournal(db, store)
    point = journal.resume()                                   # at start (resume.resume_point)
    await journal.begin(r, ckpt_before)                        # before generating
    row = await journal.commit(r, tensors, update_record)      # after learner.update, BEFORE publishing
    await publish_claim(row.claim()); await journal.published(row.digest)
    await journal.failed(r, "update: ...")                     # when the update raised

`commit` saves the checkpoint (and its manifest) durably first, then marks the round done and
records the claim as `prepared` in one transaction; see resume.py for why this order makes a
restart consistent. Every method runs its blocking work in trio.to_thread.run_sync.
"""

from __future__ import annotations

from typing import Any, Mapping

import trio

from swarmclient.errors import SwarmError
from swarmclient.state.checkpoints import CheckpointStore
from swarmclient.state.db import StateDB
from swarmclient.state.records import ClaimRow, RoundResult
from swarmclient.state.resume import ResumePoint, resume_point


def result_of(record: Any) -> RoundResult:
    """A RoundResult from a sapo.update.UpdateRecord (read by attribute, so this package does not
    import the training stack)."""
    return RoundResult(
        ckpt_after=record.ckpt_after,
        local_samples=record.local_samples,
        external_samples=record.external_samples,
        external_peers=len(record.external_peers),
        reward_mean=record.batch_reward,
        loss=record.loss,
    )


class RoundJournal:
    def __init__(self, db: StateDB, store: CheckpointStore) -> None:
        self.db, self.store = db, store

    def resume(self) -> ResumePoint:
        return resume_point(self.db, self.store)

    def start_fresh(self, tensors: Mapping[str, Any]) -> bytes:
        """A new peer's warm-start checkpoint: saved and recorded as round 0's starting point."""
        digest = self.store.save(tensors)
        self.db.set_initial_checkpoint(digest)
        return digest

    def commit_sync(self, r: int, tensors: Mapping[str, Any], record: Any, claim: Any | None = None) -> ClaimRow | None:
        if isinstance(record, RoundResult):
            result = record
        else:
            result = result_of(record)
            claim = claim if claim is not None else record.to_claim()
        if claim is not None and claim.ckpt_after != result.ckpt_after:
            raise SwarmError("state-mismatch", f"round {r}: the claim and the update name different checkpoints")
        before = self.db.round(r)
        digest = self.store.save(tensors, round=r, ckpt_before=before.ckpt_before if before else None, claim=claim)
        if digest != result.ckpt_after:
            raise SwarmError(
                "state-mismatch",
                f"round {r}: the tensors hash to {digest.hex()[:16]}, the update reported {result.ckpt_after.hex()[:16]}",
            )
        return self.db.complete_round(r, result, claim)

    async def begin(self, r: int, ckpt_before: bytes, *, rebase: bool = False) -> None:
        await trio.to_thread.run_sync(lambda: self.db.begin_round(r, ckpt_before, rebase=rebase))

    async def commit(self, r: int, tensors: Mapping[str, Any], record: Any, claim: Any | None = None) -> ClaimRow | None:
        """Checkpoint saved, round done, claim prepared: durable when this returns."""
        return await trio.to_thread.run_sync(lambda: self.commit_sync(r, tensors, record, claim))

    async def failed(self, r: int, error: str) -> None:
        await trio.to_thread.run_sync(lambda: self.db.fail_round(r, error))

    async def published(self, digest: bytes) -> None:
        await trio.to_thread.run_sync(lambda: self.db.mark_published(digest))


__all__ = ["RoundJournal", "result_of"]
