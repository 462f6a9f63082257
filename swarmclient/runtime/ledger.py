"""Which rollout batches a peer published and which it received, by sender and round.

The node's own counters say how many messages arrived; this ledger says *which*, so a devnet
report can name the peer and round of every batch that went missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class BatchLedger:
    published: dict[int, int] = field(default_factory=dict)  # round -> publish time (ms, epoch)
    published_bytes: int = 0
    received: dict[str, dict[int, float]] = field(default_factory=dict)  # sender -> round -> latency ms
    received_bytes: int = 0
    duplicates: int = 0
    publish_failures: dict[str, int] = field(default_factory=dict)  # reason -> count

    def on_published(self, round_index: int, at_ms: int, size: int) -> None:
        self.published[round_index] = at_ms
        self.published_bytes += size

    def on_publish_failed(self, reason: str) -> None:
        self.publish_failures[reason] = self.publish_failures.get(reason, 0) + 1

    def on_received(self, sender: str, round_index: int, latency_ms: float, size: int) -> bool:
        """Record a batch; False when (sender, round) was already seen (a duplicate)."""
        rounds = self.received.setdefault(sender, {})
        if round_index in rounds:
            self.duplicates += 1
            return False
        rounds[round_index] = latency_ms
        self.received_bytes += size
        return True

    def batches_received(self) -> int:
        return sum(len(r) for r in self.received.values())

    def latency_summary(self) -> dict:
        samples = sorted(lat for rounds in self.received.values() for lat in rounds.values())
        if not samples:
            return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}

        def nearest_rank(q: float) -> float:
            return samples[max(0, math.ceil(q * len(samples)) - 1)]

        return {"count": len(samples), "p50_ms": nearest_rank(0.5), "p95_ms": nearest_rank(0.95), "max_ms": samples[-1]}

    def to_json(self, *, detail: bool = False) -> dict:
        """`detail` adds every received batch's latency (sender -> round -> ms): the final
        stats file carries it, the frequent control-endpoint snapshots do not."""
        extra = {}
        if detail:
            extra["received_latency_ms"] = {
                s: {str(r): lat for r, lat in sorted(rounds.items())} for s, rounds in sorted(self.received.items())
            }
        return {
            "published_rounds": sorted(self.published),
            "published_at_ms": {str(r): t for r, t in sorted(self.published.items())},
            "published_bytes": self.published_bytes,
            "received_rounds": {s: sorted(r) for s, r in sorted(self.received.items())},
            "received_bytes": self.received_bytes,
            "received_batches": self.batches_received(),
            "duplicates": self.duplicates,
            "publish_failures": dict(self.publish_failures),
            "batch_latency": self.latency_summary(),
            **extra,
        }
