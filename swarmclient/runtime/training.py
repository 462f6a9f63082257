"""The runtime's seam to the SAPO round component (swarmclient.sapo.rounds) and to durable state.

The runtime keeps its wall-clock rounds; in each it asks the RoundLoop to run one SAPO round
(generate, publish, gather for a bounded time, update, publish the claim). Received rollout
batches reach the loop through a bounded channel; when it is full a batch is dropped for
training (still counted as delivered by the ledger), so the receive loop never blocks.

Durable state (swarmclient.state, docs/architecture.md "Durable state"), when a
DurableState is given, in the crash-safe order:
  - start: resume from `resume_point` (policy AND optimizer state, verified by hash), or save
    the warm start as the initial checkpoint;
  - each round: `journal.begin(r, ckpt_before)` before generating; after the update and
    BEFORE the claim is gossiped, `journal.commit` (checkpoint saved, round done, claim
    `prepared`, one transaction); then `journal.published`; a failed update is
    `journal.failed`. The commit sits in the claim-publishing callable the RoundLoop calls
    right after the update: the loop has no hooks of its own.
  - a failed state write stops the peer (SwarmError): training on without durability would
    lose rounds silently.
torch is imported only here, only when training is on.
"""

from __future__ import annotations

import fcntl
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable

import trio

from repops.model import Policy
from repops.step import load_state, state_tensors
from repops.errors import RepOpsError
from swarmclient.errors import SwarmError
from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.rounds import RoundLoop, RoundSettings, Transport
from swarmclient.sapo.update import SapoLearner, UpdateRecord
from swarmclient.sapo.warmstart import warm_start

INBOUND_BATCHES = 64


def sapo_config(warm_steps: int | None, profile: str = "tiny") -> SapoConfig:
    from swarmclient.runtime.device import profile_config

    cfg = profile_config(profile)
    return cfg if warm_steps is None else replace(cfg, warm_steps=warm_steps)


def shared_warm_start(cfg: SapoConfig, cache_dir: Path) -> Any:
    """The warm start from the cache shared by a machine's peers; the first peer builds it
    under an exclusive file lock while the others wait, then load it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "warmstart.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return warm_start(cfg, cache_dir, "cpu")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Training:
    """One peer's SAPO training inside the runtime."""

    def __init__(
        self,
        peer_id: str,
        cache_dir: Path,
        warm_steps: int | None,
        round_seconds: float,
        *,
        profile: str = "tiny",
        durable: Any = None,
    ) -> None:
        self.cfg = sapo_config(warm_steps, profile)
        self.profile = profile
        self.peer_id = peer_id
        self.cache_dir = cache_dir
        self.round_seconds = round_seconds
        self.durable = durable  # runtime.durable.DurableState, or None (no state kept)
        self.learner: SapoLearner | None = None
        self.loop: RoundLoop | None = None
        self.records: list[UpdateRecord] = []  # the last 256 updates (dashboard)
        self.rounds_done = 0  # updates completed by this process (gc cadence)
        self.resumed_from: dict[str, Any] | None = None  # what `prepare` resumed (for the snapshot)
        self.state_error: SwarmError | None = None
        self._publish_claim: Callable[[Any], Awaitable[Any]] | None = None
        self._send, self._receive = trio.open_memory_channel(INBOUND_BATCHES)

    # -- start -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Learner from the stored state (resume) or the warm start, then one throwaway round on
        a copy (blocking: run it in a thread). The throwaway round pays the process's one-time
        costs (torch imports submodules lazily on the first RepOps matmul: measured 15 s of
        CPU, several times that on a loaded machine) before the peer reports ready, not inside
        round 0."""
        point = self.durable.point if self.durable is not None else None
        if point is not None and point.tensors is not None:
            # The stored state replaces every parameter and moment: no warm start needed.
            model = Policy(self.cfg.model)
        else:
            model = shared_warm_start(self.cfg, self.cache_dir)
        scratch = SapoLearner(self.peer_id + "/warm-up", self.cfg, model)
        scratch.update(0, [g.group for g in scratch.generate(0)], [])
        learner = SapoLearner(self.peer_id, self.cfg, model)
        if point is not None and point.tensors is not None:
            self._load(learner, point)
        elif self.durable is not None:
            digest = self.durable.journal.start_fresh(state_tensors(learner.model, learner.optimizer))
            self.resumed_from = {"fresh": True, "checkpoint": digest.hex()}
        self.learner = learner

    def _load(self, learner: SapoLearner, point: Any) -> None:
        tensors = {k: v.to(learner.device) for k, v in point.tensors.items()}
        try:
            load_state(learner.model, learner.optimizer, tensors)
        except RepOpsError as exc:
            raise SwarmError(
                "state-model-mismatch",
                f"checkpoint {point.checkpoint.hex()[:16]} does not fit the {self.profile} model ({exc.detail}); "
                "run with the profile it was trained with, or start a new $SWARM_HOME",
            ) from None
        if learner.checkpoint_hash() != point.checkpoint:
            raise SwarmError("state-mismatch", f"the loaded state does not hash to {point.checkpoint.hex()[:16]}")
        last = point.last_completed
        self.resumed_from = {
            "fresh": False,
            "checkpoint": point.checkpoint.hex(),
            "last_completed_round": last.round if last is not None else None,
            "next_round": point.next_round,
            "redo_round": point.redo_round,
            "optimizer_step": learner.optimizer.step_count,
        }

    def offer(self, sender: str, batch: Any) -> None:
        try:
            self._send.send_nowait((sender, batch))
        except trio.WouldBlock:
            pass

    def start(
        self, publish_rollouts: Callable[[Any], Awaitable[Any]], publish_claim: Callable[[Any], Awaitable[Any]]
    ) -> RoundLoop:
        assert self.learner is not None, "prepare() first"
        self._publish_claim = publish_claim
        # Gather for at most half a round: the update and the next round's generation need the rest.
        settings = RoundSettings(gather_seconds=max(0.2, 0.5 * self.round_seconds))
        self.loop = RoundLoop(self.learner, Transport(publish_rollouts, self._commit_then_publish, self._receive), settings)
        return self.loop

    async def drain(self) -> None:
        assert self.loop is not None
        await self.loop.drain()

    async def republish_unpublished(self, publish_claim: Callable[[Any], Awaitable[Any]]) -> int:
        """Claims prepared before a crash but never gossiped: send them now with
        `publish_claim` (a claim others never saw is as good as lost for verification)."""
        if self.durable is None:
            return 0
        sent = 0
        for row in self.durable.point.unpublished_claims:
            try:
                await publish_claim(row.claim())
            except SwarmError:
                continue  # stays unpublished; retried on the next start
            await self.durable.journal.published(row.digest)
            sent += 1
        return sent

    # -- rounds ----------------------------------------------------------------------------

    async def supersede(self, r: int) -> None:
        """Round r was in progress when the peer died but the swarm has moved past it: it is
        closed as failed (its checkpoint before stays the state), never left `started`."""
        if self.durable is not None:
            await self.durable.journal.failed(r, "superseded: the peer restarted after the swarm moved on")

    async def run_round(self, r: int) -> None:
        assert self.loop is not None and self.learner is not None
        journal = self.durable.journal if self.durable is not None else None
        if journal is not None:
            before = await trio.to_thread.run_sync(self.learner.checkpoint_hash)
            await journal.begin(r, before)
        record = await self.loop.run_round(r)
        if self.state_error is not None:
            raise self.state_error
        if record is not None:
            self.records = (self.records + [record])[-256:]
            self.rounds_done += 1
        elif journal is not None:
            await journal.failed(r, self.loop.stats().last_error or "update failed")
        if self.durable is not None and record is not None and self.durable.gc_due(self.rounds_done):
            await trio.to_thread.run_sync(self.durable.gc)

    async def _commit_then_publish(self, claim: Any) -> None:
        """The RoundLoop's claim publisher: durable first (checkpoint, round done, claim
        prepared), then gossip, then mark it published."""
        assert self._publish_claim is not None and self.loop is not None and self.learner is not None
        if self.durable is not None:
            record = self.loop.records[-1] if self.loop.records else None
            if record is None or record.round != claim.round or record.ckpt_after != claim.ckpt_after:
                self.state_error = SwarmError("state-mismatch", f"round {claim.round}: no update record for this claim")
                raise self.state_error
            tensors = state_tensors(self.learner.model, self.learner.optimizer)
            try:
                await self.durable.journal.commit(claim.round, tensors, record, claim)
            except SwarmError as exc:
                self.state_error = SwarmError(exc.reason, f"round {claim.round} not saved: {exc.detail}")
                raise self.state_error from None
            except OSError as exc:
                self.state_error = SwarmError("state-write", f"round {claim.round} not saved: {exc}")
                raise self.state_error from None
        await self._publish_claim(claim)
        if self.durable is not None:
            await self.durable.journal.published(claim.digest())

    def snapshot(self) -> dict[str, Any]:
        if self.loop is None:
            return {"phase": "warm-start", "profile": self.profile}
        out = self.loop.stats().as_dict()
        out["profile"] = self.profile
        out["resumed_from"] = self.resumed_from
        out["updates"] = [
            {
                "round": rec.round,
                "local_samples": rec.local_samples,
                "external_samples": rec.external_samples,
                "external_peers": len(rec.external_peers),
                "loss": rec.loss,
                "ckpt_after": rec.ckpt_after.hex()[:16],
            }
            for rec in self.records
        ]
        return out
