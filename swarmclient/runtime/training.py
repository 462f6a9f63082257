"""The runtime's seam to the SAPO round component (swarmclient.sapo.rounds).

The runtime keeps its wall-clock rounds; in each it asks the RoundLoop to run one SAPO round
(generate, publish, gather for a bounded time, update, publish the claim). Received rollout
batches reach the loop through a bounded channel; when it is full a batch is dropped for
training (still counted as delivered by the ledger), so the receive loop never blocks.
torch is imported only here, only when training is on.
"""

from __future__ import annotations

import fcntl
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable

import trio

from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.rounds import RoundLoop, RoundSettings, Transport
from swarmclient.sapo.update import SapoLearner, UpdateRecord
from swarmclient.sapo.warmstart import warm_start

INBOUND_BATCHES = 64


def sapo_config(warm_steps: int | None) -> SapoConfig:
    cfg = SapoConfig()
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

    def __init__(self, peer_id: str, cache_dir: Path, warm_steps: int | None, round_seconds: float) -> None:
        self.cfg = sapo_config(warm_steps)
        self.peer_id = peer_id
        self.cache_dir = cache_dir
        self.round_seconds = round_seconds
        self.learner: SapoLearner | None = None
        self.loop: RoundLoop | None = None
        self.records: list[UpdateRecord] = []
        self._send, self._receive = trio.open_memory_channel(INBOUND_BATCHES)

    def prepare(self) -> None:
        """Warm start and learner, then one throwaway round on a copy (blocking: run it in a
        thread). The throwaway round pays the process's one-time costs (torch imports
        submodules lazily on the first RepOps matmul: measured 15 s of CPU, several times
        that on a loaded machine) before the peer reports ready, not inside round 0."""
        model = shared_warm_start(self.cfg, self.cache_dir)
        scratch = SapoLearner(self.peer_id + "/warm-up", self.cfg, model)
        scratch.update(0, [g.group for g in scratch.generate(0)], [])
        self.learner = SapoLearner(self.peer_id, self.cfg, model)

    def offer(self, sender: str, batch: Any) -> None:
        try:
            self._send.send_nowait((sender, batch))
        except trio.WouldBlock:
            pass

    def start(
        self, publish_rollouts: Callable[[Any], Awaitable[Any]], publish_claim: Callable[[Any], Awaitable[Any]]
    ) -> RoundLoop:
        assert self.learner is not None, "prepare() first"
        # Gather for at most half a round: the update and the next round's generation need the rest.
        settings = RoundSettings(gather_seconds=max(0.2, 0.5 * self.round_seconds))
        self.loop = RoundLoop(self.learner, Transport(publish_rollouts, publish_claim, self._receive), settings)
        return self.loop

    async def drain(self) -> None:
        assert self.loop is not None
        await self.loop.drain()

    async def run_round(self, r: int) -> None:
        assert self.loop is not None
        record = await self.loop.run_round(r)
        if record is not None:
            self.records = (self.records + [record])[-256:]

    def snapshot(self) -> dict[str, Any]:
        if self.loop is None:
            return {"phase": "warm-start"}
        out = self.loop.stats().as_dict()
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
