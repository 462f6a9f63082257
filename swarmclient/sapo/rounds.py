"""The SAPO round loop as a trio component.

    async with trio.open_nursery() as nursery:
        loop = await nursery.start(rounds.serve, learner, transport, RoundSettings(...))
        loop.stats()  # frozen snapshot for the dashboard / control endpoint

Round r: sample tasks (seed from peer id and r) -> generate G completions each (torch in
trio.to_thread.run_sync, so the event loop keeps gossiping) -> publish a RolloutBatch ->
gather external rollouts for at most `gather_seconds` -> update on I local + J external ->
publish the Claim. Rounds are asynchronous: inbound batches are drained continuously into a
bounded pool whatever round their sender is in, and a round only waits for its own bounded
window, so a slow or dead peer never blocks anyone. A failed update is counted and the loop
goes on with the next round.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from protocol.wire import Claim, Rollout, RolloutBatch
from protocol.wire import RolloutGroup as WireGroup
from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import RolloutGroup
from swarmclient.sapo.update import SapoLearner, UpdateRecord, mean_reward

HISTORY = 256  # rounds of reward history kept for the dashboard


@dataclass(frozen=True)
class Transport:
    """How the loop talks to the swarm: publish callables and the inbound channel of
    (sender peer id, RolloutBatch) pairs (the node's rollouts topic, already validated)."""

    publish_rollouts: Callable[[RolloutBatch], Awaitable[Any]]
    publish_claim: Callable[[Claim], Awaitable[Any]]
    inbound: trio.MemoryReceiveChannel


@dataclass(frozen=True)
class RoundSettings:
    rounds: int | None = None  # None: run until cancelled
    gather_seconds: float = 2.0  # how long a round waits for external rollouts at most
    min_external_groups: int | None = None  # stop gathering early once this many are pooled (default J)
    pool_groups: int = 512  # external groups kept at most (oldest dropped first)
    pool_max_age_s: float = 120.0  # older received groups are not trained on


@dataclass(frozen=True)
class TrainingStats:
    round: int = -1
    rounds_done: int = 0
    local_samples: int = 0
    external_samples: int = 0
    external_peers: int = 0
    reward_mean: float = 0.0
    reward_history: tuple[tuple[int, float], ...] = ()
    loss: float = 0.0
    claims_published: int = 0
    failed_rounds: int = 0
    rejected: int = 0
    checkpoint: str = ""
    pooled: int = 0
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "rounds_done": self.rounds_done,
            "local_samples": self.local_samples,
            "external_samples": self.external_samples,
            "external_peers": self.external_peers,
            "reward_mean": self.reward_mean,
            "reward_history": [[r, w] for r, w in self.reward_history],
            "loss": self.loss,
            "claims": self.claims_published,
            "failed_rounds": self.failed_rounds,
            "rejected": self.rejected,
            "checkpoint": self.checkpoint,
            "pooled": self.pooled,
            "last_error": self.last_error,
        }


def to_wire(groups: list[RolloutGroup]) -> tuple[WireGroup, ...]:
    return tuple(
        WireGroup(
            task=g.task,
            params=dict(g.params),
            seed=g.seed,
            completions=tuple(Rollout(text=c, tokens=len(c)) for c in g.completions),
        )
        for g in groups
    )


def from_wire(sender: str, batch: RolloutBatch) -> list[RolloutGroup]:
    return [
        RolloutGroup(sender, g.task, dict(g.params), g.seed, tuple(r.text for r in g.completions)) for g in batch.groups
    ]


class ExternalPool:
    """Received external groups, bounded, each trained on at most once, oldest dropped first."""

    def __init__(self, capacity: int, max_age_s: float) -> None:
        self.capacity, self.max_age_s = capacity, max_age_s
        self._groups: OrderedDict[tuple, tuple[float, RolloutGroup]] = OrderedDict()
        self._used: deque[tuple] = deque(maxlen=4 * capacity)
        self._used_set: set[tuple] = set()

    @staticmethod
    def _key(g: RolloutGroup) -> tuple:
        return (g.peer, g.task, tuple(sorted(g.params.items(), key=str)), g.seed, g.completions)

    def add(self, groups: list[RolloutGroup], now: float) -> None:
        for g in groups:
            key = self._key(g)
            if key in self._used_set or key in self._groups:
                continue
            self._groups[key] = (now, g)
            while len(self._groups) > self.capacity:
                self._groups.popitem(last=False)

    def take(self, now: float) -> list[RolloutGroup]:
        """Every fresh pooled group (they leave the pool: no group is trained on twice)."""
        out = [g for t, g in self._groups.values() if now - t <= self.max_age_s]
        for key in self._groups:
            if len(self._used) == self._used.maxlen:
                self._used_set.discard(self._used[0])
            self._used.append(key)
            self._used_set.add(key)
        self._groups.clear()
        return out

    def __len__(self) -> int:
        return len(self._groups)


class RoundLoop:
    def __init__(self, learner: SapoLearner, transport: Transport, settings: RoundSettings) -> None:
        self.learner, self.transport, self.settings = learner, transport, settings
        self.pool = ExternalPool(settings.pool_groups, settings.pool_max_age_s)
        self.records: list[UpdateRecord] = []  # the last HISTORY updates (claim records)
        self._stats = TrainingStats()
        self._arrived = trio.Event()

    def stats(self) -> TrainingStats:
        return self._stats

    async def drain(self) -> None:
        async for item in self.transport.inbound:
            try:
                sender, batch = item
                groups = from_wire(str(sender), batch)
            except (TypeError, ValueError, AttributeError):
                continue  # not a (peer, RolloutBatch) pair: nothing to learn from
            if str(sender) == self.learner.peer_id:
                continue
            self.pool.add(groups, time.monotonic())
            self._arrived.set()

    async def _gather(self) -> list[RolloutGroup]:
        wanted = self.settings.min_external_groups
        wanted = self.learner.cfg.external_groups if wanted is None else wanted
        with trio.move_on_after(self.settings.gather_seconds):
            while len(self.pool) < wanted:
                self._arrived = trio.Event()
                await self._arrived.wait()
        return self.pool.take(time.monotonic())

    async def run_round(self, r: int) -> UpdateRecord | None:
        learner = self.learner
        generated = await trio.to_thread.run_sync(learner.generate, r)
        local = [g.group for g in generated]
        reward = mean_reward(local)
        ckpt = learner.checkpoint_hash()
        try:
            await self.transport.publish_rollouts(RolloutBatch(round=r, checkpoint=ckpt, groups=to_wire(local)))
        except SwarmError as exc:
            self._note(r, reward, error=f"publish: {exc}")  # training goes on without sharing
        external = await self._gather()
        try:
            record = await trio.to_thread.run_sync(learner.update, r, local, external)
        except SwarmError as exc:
            self._note(r, reward, error=f"update: {exc}", failed=True)
            return None
        self.records = (self.records + [record])[-HISTORY:]
        published = 0
        try:
            await self.transport.publish_claim(record.to_claim())
            published = 1
        except SwarmError as exc:
            self._note(r, reward, error=f"claim: {exc}")
        self._note(r, reward, record=record, claims=published)
        return record

    def _note(self, r: int, reward: float, *, record: UpdateRecord | None = None, claims: int = 0,
              error: str = "", failed: bool = False) -> None:
        s = self._stats
        history = s.reward_history if record is None else (s.reward_history + ((r, reward),))[-HISTORY:]
        self._stats = TrainingStats(
            round=r,
            rounds_done=s.rounds_done + (record is not None),
            local_samples=record.local_samples if record else s.local_samples,
            external_samples=record.external_samples if record else s.external_samples,
            external_peers=len(record.external_peers) if record else s.external_peers,
            reward_mean=reward if math.isfinite(reward) else 0.0,
            reward_history=history,
            loss=record.loss if record else s.loss,
            claims_published=s.claims_published + claims,
            failed_rounds=s.failed_rounds + failed,
            rejected=s.rejected + (record.rejected if record else 0),
            checkpoint=(record.ckpt_after.hex() if record else s.checkpoint),
            pooled=len(self.pool),
            last_error=error or s.last_error,
        )


async def serve(
    learner: SapoLearner,
    transport: Transport,
    settings: RoundSettings = RoundSettings(),
    *,
    on_round: Callable[[UpdateRecord], Any] | None = None,
    task_status=trio.TASK_STATUS_IGNORED,
) -> None:
    """Run rounds until `settings.rounds` are done (or forever); `task_status.started` gets
    the RoundLoop (its .stats() is the dashboard's snapshot)."""
    loop = RoundLoop(learner, transport, settings)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.drain)
        task_status.started(loop)
        r = 0
        while settings.rounds is None or r < settings.rounds:
            record = await loop.run_round(r)
            if record is not None and on_round is not None:
                on_round(record)
            r += 1
        nursery.cancel_scope.cancel()


__all__ = ["ExternalPool", "RoundLoop", "RoundSettings", "Transport", "TrainingStats", "from_wire", "serve", "to_wire"]
