"""Fixed snapshots for rendering tests: the shape the runtime serves today (node, batches),
plus the sections training, claims, chain and games will add."""

from __future__ import annotations

import copy

NOW_S = 1_790_000_000.0
PEER = "12D3KooWQmLxz8Hn4u9Vb1rT7cYpXs2eKwJdAaF3gN6hRtUvM5qA"
OTHERS = [
    "12D3KooWBx3sT1qR8yPz4vN7cM2kJ6hG5fD9aS1wE3rQ0tYuI7oP",
    "12D3KooWCk9mV2nB4xZ7lK1jH3gF5dS8aQ0wE2rT6yU4iO9pL1zX",
    "12D3KooWDr5tY7uI9oP1aS3dF5gH7jK9lZ2xC4vB6nM8qW0eR2tY",
]
ACCOUNT = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"


def realistic() -> dict:
    """A peer 3 minutes into a run: training, claims, a chain and one dispute game."""
    node = {
        "peer_id": PEER,
        "listen_addrs": [f"/ip4/127.0.0.1/tcp/40001/p2p/{PEER}"],
        "connected_peers": OTHERS[:2],
        "mesh_peers": {"/swarm/dev/rollouts/1": 2},
        "published": {"caps": 4, "rollouts": 90},
        "received": {"caps": 9, "rollouts": 178},
        "received_by_sender": {},
        "rejected": {"bad-signature": 3, "stale": 1},
        "rejected_by_sender": {},
        "dropped": {},
        "latency": {"count": 178, "p50_ms": 21.0, "p95_ms": 88.5, "max_ms": 140.0},
        "latency_by_kind": {},
        "banned_peers": [],
        "peer_scores": {OTHERS[0]: 12.5, OTHERS[1]: -3.25},
        "capabilities": {
            OTHERS[0]: {"last_seen_ms": int(NOW_S * 1000) - 4000,
                        "capabilities": {"device_kind": "cpu", "device_name": "x86", "model": "tiny-char-1"}},
            OTHERS[1]: {"last_seen_ms": int(NOW_S * 1000) - 65000,
                        "capabilities": {"device_kind": "cuda", "device_name": "RTX 4090", "model": "tiny-char-2"}},
            OTHERS[2]: {"last_seen_ms": int(NOW_S * 1000) - 700000,
                        "capabilities": {"device_kind": "mps", "model": "tiny-char-1"}},
        },
        "rpc": {},
        "dials": {"ok": 2},
    }
    return {
        "format": "swarm-peer-stats/1",
        "peer_id": PEER,
        "address": ACCOUNT,
        "pid": 4242,
        "phase": "running",
        "ready": True,
        "round": 89,
        "rounds_total": 500,
        "round_seconds": 2.0,
        "t0": NOW_S - 179.0,
        "started_ms": int((NOW_S - 185) * 1000),
        "stopped_ms": None,
        "stop_reason": None,
        "batches": {"published_rounds": list(range(90)), "published_bytes": 4_321_000,
                    "received_batches": 178, "received_bytes": 8_100_000, "duplicates": 0},
        "node": node,
        "errors": [],
        "training": {
            "round": 89, "local_samples": 8, "external_samples": 4, "loss": 0.73125,
            "reward_mean": 0.4375,
            "reward_history": [[r, 0.05 + 0.004 * r] for r in range(89)],
        },
        "claims": {"pending": 2, "finalized": 85, "challenged": 1, "slashed": 0},
        "chain": {"account": ACCOUNT, "balance": str(1234_560 * 10**15), "stake": str(1000 * 10**18),
                  "decimals": 18, "symbol": "AI", "block": 10_433},
        "games": [{"id": "0x7f3a9c", "role": "challenger", "opponent": OTHERS[1], "level": 2,
                   "position": "op 1,204 of 3,310", "clock_self_s": 271.0, "clock_other_s": 95.5, "turn": "other"}],
        "some_future_section": {"whatever": [1, 2, 3]},
    }


def synthetic_today() -> dict:
    """What the synthetic runtime serves today: no training, claims, chain or games."""
    snap = realistic()
    for key in ("training", "claims", "chain", "games", "some_future_section"):
        del snap[key]
    return snap


def garbage() -> dict:
    """Every field the dashboard reads, of the wrong type or out of range."""
    snap = realistic()
    snap.update({
        "peer_id": 12345, "address": ["not", "a", "string"], "pid": "x", "phase": {"nested": 1},
        "round": "eleven", "rounds_total": -4, "round_seconds": float("nan"), "t0": "soon",
        "started_ms": True, "batches": "lots", "errors": 7,
        "training": {"round": None, "local_samples": "many", "reward_mean": "NaN",
                     "reward_history": [None, "x", [1], [2, "y"], {"a": 1}, 0.5, float("inf")]},
        "claims": {"pending": "two", "finalized": None, "challenged": [1]},
        "chain": {"balance": "lots", "stake": 1.5e400 if False else -1, "decimals": "eighteen", "block": {}},
        "games": [None, "game", {"id": 5, "level": "deep", "clock_self_s": "1m", "turn": 3}],
    })
    snap["node"] = copy.deepcopy(snap["node"])
    snap["node"].update({
        "connected_peers": "everyone", "capabilities": {"p": "q", 7: None}, "peer_scores": [],
        "published": {"rollouts": "many", "caps": -1}, "received": None, "rejected": {"x": "y"},
        "latency": [], "dropped": "some",
    })
    return snap
