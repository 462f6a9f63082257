"""The devnet report: every peer's final stats and an account of every batch.

Schema (`format: swarm-devnet-report/1`):
- `peers[]`: index, peer_id, outcome (ok | stopped | crashed | killed | ...), exit code,
  stop_reason, messages `published` / `received` per kind, `received_by_sender`
  (sender -> kind -> count), `rejected` (reason -> count), `dropped` (where -> count),
  `events` (peer events -> count: dial-ok, peer-banned, conn-refused-per-ip-pending, ...),
  `latency` {count, p50_ms, p95_ms, max_ms} over all kinds plus `latency_by_kind`,
  `batches` (rounds published, rounds received per sender, bytes), and `log_tail` for a
  peer that did not end cleanly.
- `summary`: `expected_batches` (every batch a live peer published, once per other live
  peer that was running when it was sent), `received_batches`, `lost`, `zero_lost`,
  `missing[]` {receiver, sender, rounds}, `dead_peers[]` (index, peer_id, outcome), and
  `received_from_dead` (what the others got from each dead peer before it died).

A receiver that finished its rounds is expected to hold every batch published before it
stopped (it lingered for them). For one stopped by a signal (Ctrl-C), batches published in
the last `grace_ms` before it stopped were in flight, not lost, and are not expected.
"""

from __future__ import annotations

import json
from typing import Any

from swarmclient.devnet.process import PeerProcess

REPORT_FORMAT = "swarm-devnet-report/1"
CLEAN_OUTCOMES = {"ok", "stopped"}


def load_final_stats(proc: PeerProcess) -> dict[str, Any] | None:
    try:
        data = json.loads(proc.stats_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _peer_entry(proc: PeerProcess, stats: dict[str, Any] | None) -> dict[str, Any]:
    node = (stats or {}).get("node") or {}
    entry: dict[str, Any] = {
        "index": proc.spec.index,
        "peer_id": proc.spec.peer_id,
        "pid": proc.pid,
        "multiaddr": proc.spec.multiaddr,
        "outcome": proc.outcome(),
        "exit_code": proc.returncode,
        "stop_reason": (stats or {}).get("stop_reason"),
        "final_stats": stats is not None,
        "rounds_done": (stats or {}).get("round", -1) + 1 if stats else None,
        "connected_peers": len(node.get("connected_peers", [])),
        "published": node.get("published", {}),
        "received": node.get("received", {}),
        "received_by_sender": node.get("received_by_sender", {}),
        "rejected": node.get("rejected", {}),
        "rejected_by_sender": node.get("rejected_by_sender", {}),
        "dropped": node.get("dropped", {}),
        # peer events: dials, bans, stalls, lost pubsub streams, inbound connections
        # refused by the per-address admission limits (conn-refused-per-ip-*)
        "events": node.get("events", {}),
        "latency": node.get("latency", {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}),
        "latency_by_kind": node.get("latency_by_kind", {}),
        "batches": (stats or {}).get("batches", {}),
        "errors": (stats or {}).get("errors", []),
        # SAPO: reward per round, local/external samples of each update (None when synthetic)
        "training": (stats or {}).get("training"),
    }
    if entry["outcome"] not in CLEAN_OUTCOMES or stats is None:
        entry["log_tail"] = proc.log_tail()
    return entry


def build_report(
    procs: list[PeerProcess], *, rounds: int | None, round_seconds: float, grace_ms: int, started_at: float,
    finished_at: float, interrupted: bool,
) -> dict[str, Any]:
    stats = {p.spec.index: load_final_stats(p) for p in procs}
    peers = [_peer_entry(p, stats[p.spec.index]) for p in procs]
    live = [p for p in procs if p.outcome() in CLEAN_OUTCOMES and stats[p.spec.index] is not None]
    dead = [p for p in procs if p not in live]

    expected = received = 0
    missing = []
    for receiver in live:
        rstats = stats[receiver.spec.index]
        got = rstats["batches"].get("received_rounds", {})
        stopped_ms = rstats.get("stopped_ms") or 0
        # A peer that finished its rounds lingered until all was delivered (or gave up):
        # everything sent before it stopped was due. One stopped by a signal may have
        # been cut off while the last batches were in flight: those get `grace_ms`.
        grace = 0 if rstats.get("stop_reason") == "rounds-done" else grace_ms
        for sender in live:
            if sender is receiver:
                continue
            sent = stats[sender.spec.index]["batches"].get("published_at_ms", {})
            due = sorted(int(r) for r, at in sent.items() if at <= stopped_ms - grace)
            have = set(got.get(sender.spec.peer_id, []))
            expected += len(due)
            received += sum(1 for r in due if r in have)
            lost_rounds = [r for r in due if r not in have]
            if lost_rounds:
                missing.append({
                    "receiver": receiver.spec.index, "receiver_id": receiver.spec.peer_id,
                    "sender": sender.spec.index, "sender_id": sender.spec.peer_id, "rounds": lost_rounds,
                })

    received_from_dead = {}
    for d in dead:
        per_receiver = {}
        for receiver in live:
            got = stats[receiver.spec.index]["batches"].get("received_rounds", {})
            per_receiver[str(receiver.spec.index)] = got.get(d.spec.peer_id, [])
        received_from_dead[str(d.spec.index)] = per_receiver

    rejected_total = sum(sum(p["rejected"].values()) for p in peers)
    return {
        "format": REPORT_FORMAT,
        "peers_requested": len(procs),
        "rounds": rounds,
        "round_seconds": round_seconds,
        "interrupted": interrupted,
        "started_at": started_at,
        "duration_s": round(finished_at - started_at, 3),
        "peers": peers,
        "summary": {
            "live_peers": len(live),
            "expected_batches": expected,
            "received_batches": received,
            "lost": expected - received,
            "zero_lost": expected == received,
            "missing": missing,
            "dead_peers": [
                {"index": d.spec.index, "peer_id": d.spec.peer_id, "outcome": d.outcome(), "exit_code": d.returncode}
                for d in dead
            ],
            "received_from_dead": received_from_dead,
            "rejected_total": rejected_total,
            "grace_ms": grace_ms,
        },
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    s = report["summary"]
    lines = [
        f"devnet: {report['peers_requested']} peers, {s['live_peers']} finished cleanly, "
        f"{report['duration_s']:.1f} s",
        f"batches: expected {s['expected_batches']}, received {s['received_batches']}, lost {s['lost']}"
        + (" (zero lost)" if s["zero_lost"] else ""),
    ]
    for m in s["missing"]:
        lines.append(f"  peer-{m['receiver']} missed peer-{m['sender']}'s rounds {m['rounds']}")
    for d in s["dead_peers"]:
        lines.append(f"  peer-{d['index']} ({d['peer_id'][:16]}...) {d['outcome']} (exit {d['exit_code']})")
    if s["rejected_total"]:
        lines.append(f"rejected messages: {s['rejected_total']}")
    return lines
