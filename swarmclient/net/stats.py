"""Counters a node keeps about its gossip, and the frozen snapshot it hands out.

Every message the node publishes, accepts, rejects or drops lands in exactly one counter
here, so a report can show that nothing went missing silently.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# Enough samples for stable percentiles over a few minutes of gossip at 100 msg/s,
# small enough that a long-running peer's memory does not grow.
LATENCY_SAMPLES = 20_000


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, samples: list[float]) -> "LatencySummary":
        if not samples:
            return cls(0, None, None, None)
        ordered = sorted(samples)

        def pick(q: float) -> float:
            # Nearest-rank percentile: always one of the observed values.
            rank = max(1, -(-len(ordered) * q // 1))
            return ordered[int(rank) - 1]

        return cls(len(ordered), pick(0.50), pick(0.95), ordered[-1])


@dataclass(frozen=True)
class PeerCapability:
    """A peer's latest capability advert, as decoded from the wire."""

    peer_id: str
    capabilities: object
    last_seen_ms: int


@dataclass(frozen=True)
class NodeStats:
    """A snapshot of one node's gossip: safe to hand to a dashboard or a JSON report."""

    peer_id: str
    listen_addrs: tuple[str, ...]
    connected_peers: tuple[str, ...]
    mesh_peers: Mapping[str, int]
    published: Mapping[str, int]  # kind -> messages we published
    received: Mapping[str, int]  # kind -> valid messages delivered to us
    received_by_sender: Mapping[str, Mapping[str, int]]  # sender peer id -> kind -> count
    rejected: Mapping[str, int]  # reason -> count
    rejected_by_sender: Mapping[str, Mapping[str, int]]  # forwarding peer id -> reason -> count
    dropped: Mapping[str, int]  # where -> count (queue-full, app-overflow, ...)
    latency: LatencySummary  # delivery latency: receive time - envelope ts
    latency_by_kind: Mapping[str, LatencySummary]
    banned_peers: tuple[str, ...]
    peer_scores: Mapping[str, float]
    capabilities: Mapping[str, PeerCapability]
    rpc: Mapping[str, int]  # served/fetched/errors counters of the request/response protocols
    events: Mapping[str, int]  # peer events: dial-ok, dial-failed, peer-banned, peer-stalled, conn-refused-per-ip-*, gossip-iwant-sent/received, ...

    def to_json(self) -> dict:
        def summary(s: LatencySummary) -> dict:
            return {"count": s.count, "p50_ms": s.p50_ms, "p95_ms": s.p95_ms, "max_ms": s.max_ms}

        return {
            "peer_id": self.peer_id,
            "listen_addrs": list(self.listen_addrs),
            "connected_peers": list(self.connected_peers),
            "mesh_peers": dict(self.mesh_peers),
            "published": dict(self.published),
            "received": dict(self.received),
            "received_by_sender": {k: dict(v) for k, v in self.received_by_sender.items()},
            "rejected": dict(self.rejected),
            "rejected_by_sender": {k: dict(v) for k, v in self.rejected_by_sender.items()},
            "dropped": dict(self.dropped),
            "latency": summary(self.latency),
            "latency_by_kind": {k: summary(v) for k, v in self.latency_by_kind.items()},
            "banned_peers": list(self.banned_peers),
            "peer_scores": dict(self.peer_scores),
            "capabilities": {
                k: {"last_seen_ms": v.last_seen_ms, "capabilities": _plain(v.capabilities)}
                for k, v in self.capabilities.items()
            },
            "rpc": dict(self.rpc),
            "events": dict(self.events),
        }


def _plain(obj: object) -> object:
    """A JSON-friendly view of a decoded body (dataclass, dict or scalar)."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.hex()
    if hasattr(obj, "value") and hasattr(obj, "name"):  # an Enum
        return obj.name
    return obj


@dataclass
class GossipCounters:
    """The mutable side: only the node's own tasks touch it (one trio thread)."""

    published: Counter = field(default_factory=Counter)
    received: Counter = field(default_factory=Counter)
    received_by_sender: dict[str, Counter] = field(default_factory=dict)
    rejected: Counter = field(default_factory=Counter)
    rejected_by_sender: dict[str, Counter] = field(default_factory=dict)
    dropped: Counter = field(default_factory=Counter)
    rpc: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    latencies_by_kind: dict[str, deque] = field(default_factory=dict)

    def on_published(self, kind: str) -> None:
        self.published[kind] += 1

    def on_received(self, kind: str, sender: str, latency_ms: float) -> None:
        self.received[kind] += 1
        self.received_by_sender.setdefault(sender, Counter())[kind] += 1
        self.latencies.append(latency_ms)
        self.latencies_by_kind.setdefault(kind, deque(maxlen=LATENCY_SAMPLES)).append(latency_ms)

    def on_rejected(self, reason: str, forwarder: str) -> None:
        self.rejected[reason] += 1
        self.rejected_by_sender.setdefault(forwarder, Counter())[reason] += 1

    def on_dropped(self, where: str, n: int = 1) -> None:
        self.dropped[where] += n

    def frozen_parts(self) -> dict:
        freeze = MappingProxyType
        return {
            "published": freeze(dict(self.published)),
            "received": freeze(dict(self.received)),
            "received_by_sender": freeze({k: freeze(dict(v)) for k, v in self.received_by_sender.items()}),
            "rejected": freeze(dict(self.rejected)),
            "rejected_by_sender": freeze({k: freeze(dict(v)) for k, v in self.rejected_by_sender.items()}),
            "dropped": freeze(dict(self.dropped)),
            "latency": LatencySummary.of(list(self.latencies)),
            "latency_by_kind": freeze({k: LatencySummary.of(list(v)) for k, v in self.latencies_by_kind.items()}),
            "rpc": freeze(dict(self.rpc)),
            "events": freeze(dict(self.events)),
        }
