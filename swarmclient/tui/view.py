"""What a dashboard frame is drawn from: one peer's latest snapshot plus what the data source
knows beyond it (is the peer reachable, rates between polls, reward history, recent events).

Renderers take a PeerView and nothing else, so a frame is a pure function of it: tests build
views from fixed snapshots, `swarm top` builds them from a live PeerSource.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class Connection(enum.Enum):
    CONNECTING = "connecting"  # no answer yet since the dashboard started
    CONNECTED = "connected"
    GONE = "gone"  # answered before, does not now; the source keeps retrying


@dataclass(frozen=True)
class PeerView:
    snapshot: Mapping[str, Any] | None
    connection: Connection = Connection.CONNECTED
    since_s: float | None = None  # wall time of the last change of `connection`
    error: str | None = None  # why the last poll failed
    target: str = ""  # the socket the source polls, for "no peer at ..."
    # Counter rates between the last two polls, by name ("rollouts_out", "rollouts_in", ...).
    rates: Mapping[str, float] = field(default_factory=dict)
    # (round, mean reward) pairs, oldest first; merged from snapshots over time.
    rewards: Sequence[tuple[int, float]] = ()
    events: Sequence[Mapping[str, Any]] = ()  # newest last
    now_s: float = field(default_factory=time.time)

    @classmethod
    def of(cls, snapshot: Mapping[str, Any] | None, **kwargs: Any) -> "PeerView":
        """A view of a bare snapshot (no rates or events): `swarm status`, tests, devnet rows."""
        return cls(snapshot=snapshot, **kwargs)
