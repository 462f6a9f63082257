"""What the state database stores, as frozen records, and the claim lifecycle.

A claim's life (docs/architecture.md, "Durable state"):

    prepared --> submitted(tx hash) --> posted(tx hash, block) --> final
        |              |                   |   ^
        |              v                   v   |  (a game the claimant won)
        |          prepared (tx dropped)  challenged --> rejected (a game it lost)
        +--> posted (the receipt came back before `submitted` was written)

`prepared` is written in the same transaction that completes the round, BEFORE the claim is
gossiped or sent to the chain, so a crash can never lose a claim that others may have seen;
`submitted` is written with the transaction hash before waiting for its receipt, so a restart
looks the transaction up instead of sending it twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ClaimStatus(enum.Enum):
    PREPARED = "prepared"
    SUBMITTED = "submitted"
    POSTED = "posted"
    CHALLENGED = "challenged"
    FINAL = "final"
    REJECTED = "rejected"

    @property
    def settled(self) -> bool:
        """True once nothing can change it: the chain has decided."""
        return self in (ClaimStatus.FINAL, ClaimStatus.REJECTED)


CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.PREPARED: frozenset({ClaimStatus.SUBMITTED, ClaimStatus.POSTED}),
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.POSTED, ClaimStatus.PREPARED}),
    ClaimStatus.POSTED: frozenset({ClaimStatus.CHALLENGED, ClaimStatus.FINAL, ClaimStatus.REJECTED}),
    ClaimStatus.CHALLENGED: frozenset({ClaimStatus.POSTED, ClaimStatus.FINAL, ClaimStatus.REJECTED}),
    ClaimStatus.FINAL: frozenset(),
    ClaimStatus.REJECTED: frozenset(),
}


class RoundPhase(enum.Enum):
    STARTED = "started"  # in progress: redone from ckpt_before after a crash
    DONE = "done"  # ckpt_after saved and its claim prepared, atomically
    FAILED = "failed"  # the update raised; the checkpoint did not change


class GameStatus(enum.Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class RoundResult:
    """What a completed round reports (sapo.update.UpdateRecord maps onto it)."""

    ckpt_after: bytes
    local_samples: int = 0
    external_samples: int = 0
    external_peers: int = 0
    reward_mean: float | None = None
    loss: float | None = None


@dataclass(frozen=True)
class RoundRow:
    round: int
    phase: RoundPhase
    started_at: float
    finished_at: float | None
    ckpt_before: bytes
    ckpt_after: bytes | None
    local_samples: int
    external_samples: int
    external_peers: int
    reward_mean: float | None
    loss: float | None
    error: str

    def as_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "phase": self.phase.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "ckpt_before": self.ckpt_before.hex(),
            "ckpt_after": self.ckpt_after.hex() if self.ckpt_after else None,
            "local_samples": self.local_samples,
            "external_samples": self.external_samples,
            "external_peers": self.external_peers,
            "reward_mean": self.reward_mean,
            "loss": self.loss,
            "error": self.error,
        }


@dataclass(frozen=True)
class ClaimRow:
    digest: bytes  # protocol.wire.Claim.digest()
    round: int
    body: bytes  # the claim's canonical encoding: Claim.load(unpack(body)) gives it back
    ckpt_before: bytes
    ckpt_after: bytes
    status: ClaimStatus
    tx_hash: str
    block: int | None
    detail: str
    created_at: float
    updated_at: float
    published_at: float | None
    chain_key: bytes | None
    epoch: int | None

    def claim(self):
        """The protocol.wire.Claim this row stores (decoded strictly)."""
        from protocol.wire import Claim, MAX_MESSAGE_BYTES, Kind
        from protocol.wire.codec import unpack

        return Claim.load(unpack(self.body, MAX_MESSAGE_BYTES[Kind.CLAIM]))

    def as_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest.hex(),
            "round": self.round,
            "status": self.status.value,
            "ckpt_before": self.ckpt_before.hex(),
            "ckpt_after": self.ckpt_after.hex(),
            "tx_hash": self.tx_hash,
            "block": self.block,
            "detail": self.detail,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "published_at": self.published_at,
            "chain_key": self.chain_key.hex() if self.chain_key else None,
            "epoch": self.epoch,
        }


@dataclass(frozen=True)
class PeerRow:
    peer_id: str
    addrs: tuple[str, ...] = ()
    capabilities: dict[str, Any] = field(default_factory=dict)
    first_seen: float = 0.0
    last_seen: float = 0.0
    score: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "peer_id": self.peer_id,
            "addrs": list(self.addrs),
            "capabilities": self.capabilities,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "score": self.score,
        }


@dataclass(frozen=True)
class GameRow:
    game_id: int
    role: str  # claimant | challenger
    claim_digest: bytes
    level: int = 1
    lo: int = 0
    hi: int = 0
    claimant_clock: float | None = None
    challenger_clock: float | None = None
    turn: str = ""
    status: GameStatus = GameStatus.OPEN
    last_move: str = ""
    last_move_at: float | None = None
    updated_at: float = 0.0
    ckpt_before: bytes | None = None  # the disputed claim's checkpoints: kept by gc while open
    ckpt_after: bytes | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "game_id": self.game_id,
            "role": self.role,
            "claim_digest": self.claim_digest.hex(),
            "level": self.level,
            "position": [self.lo, self.hi],
            "clocks": {"claimant": self.claimant_clock, "challenger": self.challenger_clock},
            "turn": self.turn,
            "status": self.status.value,
            "last_move": self.last_move,
            "last_move_at": self.last_move_at,
            "updated_at": self.updated_at,
            "ckpt_before": self.ckpt_before.hex() if self.ckpt_before else None,
            "ckpt_after": self.ckpt_after.hex() if self.ckpt_after else None,
        }


__all__ = [
    "CLAIM_TRANSITIONS",
    "ClaimRow",
    "ClaimStatus",
    "GameRow",
    "GameStatus",
    "PeerRow",
    "RoundPhase",
    "RoundResult",
    "RoundRow",
]
