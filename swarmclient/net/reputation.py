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

import time
from collections import defaultdict
from dataclasses import dataclass, field

BAN_THRESHOLD = 5  # invalid messages within the window
BAN_WINDOW_S = 60.0
BAN_DURATION_S = 600.0


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
