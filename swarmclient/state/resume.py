"""Where a restarted peer picks up, whatever instant it was killed at.

The round loop's write order makes this a pure read:
  1. `db.begin_round(r, ckpt_before)`                  round r: started
  2. the update runs; `store.save(tensors, round=r, ckpt_before=..., claim=...)`
  3. `db.complete_round(r, result, claim)`              round r: done + claim prepared, one transaction
  4. gossip / chain: `mark_published`, `set_claim_status(...)`
A kill before 3 leaves round r `started` (and perhaps an unreferenced checkpoint file): it is
redone from its checkpoint before, never half-applied. A kill after 3 loses nothing: the claim
is `prepared` and is reconciled with the chain and re-gossiped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.state.checkpoints import CheckpointStore
from swarmclient.state.db import StateDB
from swarmclient.state.records import ClaimRow, ClaimStatus, GameRow, RoundPhase, RoundRow


@dataclass(frozen=True)
class ResumePoint:
    next_round: int  # the round to run next
    checkpoint: bytes | None  # the verified checkpoint it starts from; None: nothing stored yet
    last_completed: RoundRow | None
    redo_round: int | None  # a round that was in progress when the peer died (== next_round)
    unsettled_claims: tuple[ClaimRow, ...]  # reconcile with the chain (records.ClaimStatus)
    unpublished_claims: tuple[ClaimRow, ...]  # prepared, never gossiped: publish again
    open_games: tuple[GameRow, ...]  # resume playing (verde's driver)
    tensors: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "next_round": self.next_round,
            "checkpoint": self.checkpoint.hex() if self.checkpoint else None,
            "last_completed_round": self.last_completed.round if self.last_completed else None,
            "redo_round": self.redo_round,
            "unsettled_claims": [c.digest.hex() for c in self.unsettled_claims],
            "unpublished_claims": [c.digest.hex() for c in self.unpublished_claims],
            "open_games": [g.game_id for g in self.open_games],
        }


def _round_of(store: CheckpointStore, ckpt_hash: bytes) -> int | None:
    try:
        manifest = store.manifest(ckpt_hash)
    except SwarmError:
        return -1  # an unreadable manifest: assume it had a round (report, do not guess)
    return manifest.round if manifest is not None else None


def resume_point(db: StateDB, store: CheckpointStore, *, load: bool = True) -> ResumePoint:
    """The consistent point to resume from. The checkpoint is always verified (re-hashed);
    with `load` its tensors come back in `.tensors`. SwarmError when the checkpoint the
    database names is missing or corrupt (the message names `swarm state recover`)."""
    finished = db.last_finished_round()
    next_round = finished + 1 if finished is not None else 0
    started = [r for r in db.rounds(limit=1, phase=RoundPhase.STARTED) if r.round >= next_round]
    redo = started[-1].round if started else None
    if redo is not None:
        next_round = redo
    last = db.last_completed_round()
    checkpoint = last.ckpt_after if last is not None else db.initial_checkpoint()
    tensors = None
    if checkpoint is None and not db.rounds(limit=1):
        # A database with no history next to checkpoints that rounds produced was lost and
        # recreated: starting over from round 0 would silently drop that history. (A lone
        # warm-start checkpoint is not history: a kill right after saving it leaves one.)
        history = [h for h in store.hashes() if _round_of(store, h) is not None]
        if history:
            raise SwarmError(
                "state-missing",
                f"{db.path} has no rounds but {store.directory} holds checkpoints of {len(history)} rounds; "
                "`swarm state recover` rebuilds the rounds and claims from them",
            )
    if checkpoint is not None:
        try:
            tensors = store.load(checkpoint)
        except SwarmError as exc:
            which = f"round {last.round}'s checkpoint" if last is not None else "the initial checkpoint"
            raise SwarmError(
                exc.reason,
                f"{which} {checkpoint.hex()[:16]} cannot be used ({exc.detail.split(';')[0]}); "
                "`swarm state recover` rewinds to the newest round whose checkpoint verifies",
            ) from None
    unsettled = tuple(db.unsettled_claims())
    return ResumePoint(
        next_round=next_round,
        checkpoint=checkpoint,
        last_completed=last,
        redo_round=redo,
        unsettled_claims=unsettled,
        unpublished_claims=tuple(c for c in unsettled if c.status is ClaimStatus.PREPARED and c.published_at is None),
        open_games=tuple(db.open_games()),
        tensors=tensors if load else None,
    )


__all__ = ["ResumePoint", "resume_point"]
