"""Local reputation: peers that keep sending invalid gossip are banned for a while.

GossipSub's own scoring (libp2p/pubsub/score.py) is configured too (see gossip.py), but
in py-libp2p 0.8.1 it is incomplete for our purpose: `PeerScorer.remove_peer` wipes a
peer's score when it disconnects, so a hostile peer that reconnects starts clean, and
graylisted peers are only pruned from a mesh that is over its upper degree
(`_score_based_pruning_selection`). This ban list survives reconnects and is enforced by
the node: banned peers are blacklisted in pubsub, disconnected, and refused by the
request/response protocols.
"""

from __future__ import annotations

import enum
import time
from collections import defaultdict
from dataclasses import dataclass, field

from protocol.wire import WireReason

BAN_THRESHOLD = 5  # invalid messages within the window
BAN_WINDOW_S = 60.0
BAN_DURATION_S = 600.0


class Blame(enum.Enum):
    """Whom a rejected gossip message counts against (see `blame_for`)."""

    ORIGIN = "origin"  # the peer that signed the pubsub message
    FORWARDER = "forwarder"  # the peer that handed it to us
    NOBODY = "nobody"  # counted only: an honest origin and an honest relay can both cause it


# Reasons about *when* a message arrives rather than what it says. The content may be
# exactly what an honest origin signed: a relay that is slow, a replay of a captured
# message, or two paths delivering the same envelope all produce them. Striking the
# origin for these would let anyone who captured one of its messages get it banned by
# replaying it; they are never the origin's fault. (FUTURE is the origin's clock, not
# malice: counted, not punished.)
TIMING_REASONS = frozenset({WireReason.STALE, WireReason.FUTURE, WireReason.REPLAY, WireReason.SEQ_TOO_OLD})


def blame_for(reason: WireReason, *, grossly_stale: bool = False) -> Blame:
    """Whose fault a rejection for `reason` is.

    Content faults (bad signature, malformed, wrong kind or sender, ...) are the
    origin's: with strict signing, py-libp2p checks the pubsub signature by the origin's
    key over the whole message, data included, before any validator runs, so no relay
    can have changed a byte; the origin signed that content.

    Timing faults are nobody's, except a message stale by more than any honest relay
    could have let it become (`grossly_stale`: older than the freshness window plus the
    tolerated clock skew plus a relay grace period). An honest relay validates before
    forwarding and only ever sends messages from its last few heartbeats (mcache), so
    such a message was dug up and replayed by the forwarder: its fault, not the origin's.
    """
    if reason in TIMING_REASONS:
        if reason is WireReason.STALE and grossly_stale:
            return Blame.FORWARDER
        return Blame.NOBODY
    return Blame.ORIGIN


@dataclass
class Reputation:
    threshold: int = BAN_THRESHOLD
    window_s: float = BAN_WINDOW_S
    ban_s: float = BAN_DURATION_S
    _strikes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _banned_until: dict[str, float] = field(default_factory=dict)

    def strike(self, peer: str, now: float | None = None) -> bool:
        """Record one invalid message from `peer`; True when this strike bans it."""
        now = time.monotonic() if now is None else now
        if self.is_banned(peer, now):
            return False
        strikes = self._strikes[peer]
        strikes.append(now)
        cutoff = now - self.window_s
        while strikes and strikes[0] < cutoff:
            strikes.pop(0)
        if len(strikes) >= self.threshold:
            self.ban(peer, now)
            return True
        return False

    def ban(self, peer: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._banned_until[peer] = now + self.ban_s
        self._strikes.pop(peer, None)

    def is_banned(self, peer: str, now: float | None = None) -> bool:
        until = self._banned_until.get(peer)
        if until is None:
            return False
        if (time.monotonic() if now is None else now) >= until:
            del self._banned_until[peer]
            return False
        return True

    def expired(self, now: float | None = None) -> list[str]:
        """Peers whose ban has run out (and are forgotten by this call)."""
        now = time.monotonic() if now is None else now
        done = [p for p, until in self._banned_until.items() if until <= now]
        for peer in done:
            del self._banned_until[peer]
        return done

    def banned(self) -> list[str]:
        now = time.monotonic()
        return sorted(p for p, until in self._banned_until.items() if until > now)

    def strikes(self, peer: str) -> int:
        return len(self._strikes.get(peer, ()))
