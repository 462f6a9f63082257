"""The claimant side of the ledger: post each round's claim, finalize it after its challenge
window, collect the reward, and follow what games do to it.

One `post_claim` per round (a packed storage slot, about 58k gas). A claim is `pending` from
the moment it is queued until its window ends, `challenged` while a game is open against it,
then `finalized` (reward paid) or `rejected` (a lost game). Claims queued before the peer is
staked wait for it; a claim whose post fails is kept as `failed` with the reason, never lost
silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import trio

from protocol.chain import Claim as ChainClaim
from protocol.errors import ProtocolError
from protocol.wire import Claim as WireClaim
from swarmclient.verify.chainlink import ChainLink

QUEUE = 64
ZERO32 = b"\0" * 32


@dataclass
class PostedClaim:
    round: int
    digest: bytes
    chain_claim: ChainClaim
    status: str = "queued"  # queued | pending | challenged | finalized | rejected | failed
    key: bytes = b""
    window_end: int = 0
    posted_at: float = 0.0
    reward: int = 0
    detail: str = ""
    gas: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "digest": self.digest.hex(), "key": self.key.hex(), "status": self.status,
                "window_end": self.window_end, "reward": str(self.reward), "gas": dict(self.gas), "detail": self.detail}


def chain_claim_of(claimant: str, claim: WireClaim) -> ChainClaim:
    return ChainClaim(claimant, claim.round, claim.digest(), claim.trace_root, claim.ckpt_before, claim.ckpt_after,
                      claim.steps)


class ClaimPoster:
    def __init__(self, link: ChainLink, log: Any) -> None:
        self.link = link
        self.log = log
        self.claims: dict[bytes, PostedClaim] = {}  # by wire digest
        self.by_key: dict[bytes, PostedClaim] = {}
        self._send, self._receive = trio.open_memory_channel[WireClaim](QUEUE)

    def offer(self, claim: WireClaim) -> None:
        """Queue a round's claim (never blocks the round loop; a full queue is reported)."""
        entry = PostedClaim(claim.round, claim.digest(), chain_claim_of(self.link.address, claim))
        self.claims[entry.digest] = entry
        try:
            self._send.send_nowait(claim)
        except trio.WouldBlock:
            entry.status, entry.detail = "failed", "post queue full"

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._finalizer)
            task_status.started()
            await self.link.staked.wait()
            async for claim in self._receive:
                await self._post(self.claims[claim.digest()])

    async def _post(self, entry: PostedClaim) -> None:
        try:
            result = self.link.gas.add(await self.link.client.ledger.post_claim(entry.chain_claim))
        except ProtocolError as exc:
            entry.status, entry.detail = "failed", f"{exc.reason.value}: {exc.detail}"
            self.log(f"claim of round {entry.round} not posted: {entry.detail}")
            return
        event = result.event("ClaimPosted")
        entry.key, entry.window_end, entry.posted_at = bytes(event["key"]), int(event["window_end"]), time.time()
        entry.gas["post_claim"] = result.gas_used
        entry.status = "pending"
        self.by_key[entry.key] = entry

    async def _finalizer(self) -> None:
        while True:
            await trio.sleep(1.0)
            due = [e for e in self.by_key.values() if e.status == "pending"]
            if not due:
                continue
            try:
                now = await self.link.now()
            except ProtocolError:
                continue  # the node is busy or away: next tick
            for entry in due:
                if now > entry.window_end:
                    await self._finalize(entry)

    async def _finalize(self, entry: PostedClaim) -> None:
        ledger = self.link.client.ledger
        try:
            result = self.link.gas.add(await ledger.finalize(entry.key))
        except ProtocolError as exc:
            # A game opened meanwhile, or extended the window: read the record to know which.
            try:
                record = await ledger.record(entry.key)
            except ProtocolError:
                return
            if record.status == "rejected":
                entry.status = "rejected"
            elif record.open_games:
                entry.status = "challenged"
            elif record.status == "final":
                entry.status = "finalized"
            else:
                entry.window_end = record.window_end
                entry.detail = f"{exc.reason.value}"
            return
        event = result.event("ClaimFinalized")
        entry.reward = int(event["reward"])
        entry.gas["finalize"] = result.gas_used
        entry.status = "finalized"

    def on_game(self, key: bytes, outcome: str | None) -> None:
        """A game against our record opened (`outcome` None) or ended ("claimant_won" / "challenger_won")."""
        entry = self.by_key.get(key)
        if entry is None:
            return
        if outcome is None:
            entry.status = "challenged"
        elif outcome == "challenger_won":
            entry.status = "rejected"
        else:
            entry.status = "pending"  # defended: its window was extended; finalize later

    def counts(self) -> dict[str, Any]:
        by = {s: 0 for s in ("queued", "pending", "challenged", "finalized", "rejected", "failed")}
        for e in self.claims.values():
            by[e.status] += 1
        last = max(self.claims.values(), key=lambda e: e.round, default=None)
        return {
            "pending": by["queued"] + by["pending"],
            "finalized": by["finalized"],
            "challenged": by["challenged"],
            "slashed": by["rejected"],
            "failed": by["failed"],
            "posted": sum(1 for e in self.claims.values() if e.key),
            "rewards": str(sum(e.reward for e in self.claims.values())),
            "last": {"round": last.round, "status": last.status} if last else None,
            "history": [e.to_json() for e in sorted(self.claims.values(), key=lambda e: e.round)[-64:]],
        }

    def settled(self) -> bool:
        """Nothing left to do on our claims (the devnet waits for this before stopping)."""
        return all(e.status in ("finalized", "rejected", "failed") for e in self.claims.values())


__all__ = ["ClaimPoster", "PostedClaim", "chain_claim_of"]
