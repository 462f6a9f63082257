"""Devnet pieces that need no network: homes and configs on disk, the report's accounting,
the synthetic batches."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from swarmclient import config as config_mod
from swarmclient import identity as identity_mod
from swarmclient.devnet import build_report, layout
from swarmclient.devnet.process import PeerProcess
from swarmclient.errors import SwarmError
from swarmclient.runtime import synthetic
from swarmclient.runtime.synthetic import MAX_BATCH_BYTES, MIN_BATCH_BYTES


def test_prepare_gives_each_peer_its_own_identity_and_a_loopback_config(tmp_path):
    specs = layout.prepare(tmp_path, 5, base_port=40100)
    assert [s.port for s in specs] == [40100 + i for i in range(5)]
    assert len({s.peer_id for s in specs}) == 5
    for spec in specs:
        assert stat.S_IMODE(os.stat(spec.home.peer_key).st_mode) == 0o600
        assert identity_mod.load(spec.home).peer_id.to_base58() == spec.peer_id
        cfg = config_mod.load(spec.home.config)
        assert cfg.swarm_id == layout.DEVNET_SWARM_ID
        assert cfg.network.listen == [f"/ip4/127.0.0.1/tcp/{spec.port}"]
        assert cfg.network.bootstrap == [specs[t].multiaddr for t in spec.dials]
        assert cfg.network.peer_cache is False and cfg.network.mdns is False
    # Identities survive a re-run; ports and configs are redone.
    again = layout.prepare(tmp_path, 5, base_port=None)
    assert [s.peer_id for s in again] == [s.peer_id for s in specs]


def _connected_without(n: int, removed: int) -> bool:
    edges = {(i, t) for i in range(n) for t in layout.dial_targets(i)}
    nodes = [i for i in range(n) if i != removed]
    seen, todo = {nodes[0]}, [nodes[0]]
    while todo:
        a = todo.pop()
        for x, y in edges:
            for u, v in ((x, y), (y, x)):
                if u == a and v != removed and v not in seen:
                    seen.add(v)
                    todo.append(v)
    return seen == set(nodes)


@pytest.mark.parametrize("n", [2, 3, 8, 16])
def test_topology_survives_the_loss_of_any_one_peer(n):
    for removed in range(n):
        assert _connected_without(n, removed)


def test_peers_wait_for_the_connections_discovery_will_make(tmp_path):
    """Regression: a peer was 'ready' with only its start-up dials (1 dials 0; 2 dials 0
    and 1; 3 dials 0 and 2: degrees 3, 2, 3, 2), so discovery made the rest of the
    connections a few seconds into the rounds, and each new connection cost a handshake
    and a replay of the recent-message window (p95 latency 60-110 ms instead of ~30 ms at
    8 peers, 100 msg/s). Rounds now wait for min(peers - 1, DEFAULT_TARGET_PEERS)."""
    from swarmclient.net import DEFAULT_TARGET_PEERS

    specs = layout.prepare(tmp_path, 4, base_port=40200)
    assert [s.degree for s in specs] == [3, 3, 3, 3]
    big = layout.prepare(tmp_path / "big", DEFAULT_TARGET_PEERS + 4, base_port=40300)
    assert min(s.degree for s in big) == DEFAULT_TARGET_PEERS
    assert big[0].degree == DEFAULT_TARGET_PEERS + 3  # everyone dials peer 0 at start


def test_bad_devnet_arguments_are_errors(tmp_path):
    with pytest.raises(SwarmError):
        layout.prepare(tmp_path, 0, None)
    with pytest.raises(SwarmError):
        layout.prepare(tmp_path, 4, base_port=65534)


def _finished_process(spec, code: int) -> PeerProcess:
    popen = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    popen.wait()
    proc = PeerProcess(spec, popen, spec.home.root / "peer.log", spec.home.root / "final-stats.json")
    proc.returncode = popen.returncode
    return proc


def _write_stats(proc: PeerProcess, published: dict[int, int], received: dict[str, list[int]], stopped_ms: int,
                 stop_reason: str = "signal-SIGTERM"):
    proc.stats_path.write_text(json.dumps({
        "peer_id": proc.spec.peer_id, "round": max(published, default=-1), "stop_reason": stop_reason,
        "stopped_ms": stopped_ms,
        "node": {"published": {"rollouts": len(published)}, "received": {}, "received_by_sender": {},
                 "rejected": {"bad_signature": 1}, "dropped": {}, "connected_peers": [],
                 "latency": {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}},
        "batches": {"published_at_ms": {str(r): t for r, t in published.items()}, "received_rounds": received},
    }))


def test_report_names_who_missed_what_and_the_dead(tmp_path):
    specs = layout.prepare(tmp_path, 3, base_port=40300)
    a, b, dead = (_finished_process(specs[0], 0), _finished_process(specs[1], 0), _finished_process(specs[2], 3))
    t = 1_000_000
    _write_stats(a, {0: t, 1: t + 2000}, {specs[1].peer_id: [0, 1], specs[2].peer_id: [0]}, t + 10_000)
    # b missed a's round 1; a's round 1 was sent well before b stopped, so it is a loss.
    _write_stats(b, {0: t, 1: t + 2000, 2: t + 9500}, {specs[0].peer_id: [0]}, t + 10_000)
    report = build_report([a, b, dead], rounds=3, round_seconds=2.0, grace_ms=2000, started_at=0.0,
                          finished_at=1.0, interrupted=False)
    s = report["summary"]
    # a expects b's rounds 0,1 (round 2 was sent 500 ms before a stopped: in flight, not due).
    assert s["expected_batches"] == 2 + 2
    assert s["received_batches"] == 3 and s["lost"] == 1 and not s["zero_lost"]
    assert s["missing"] == [{"receiver": 1, "receiver_id": specs[1].peer_id, "sender": 0,
                             "sender_id": specs[0].peer_id, "rounds": [1]}]
    assert [d["index"] for d in s["dead_peers"]] == [2] and s["dead_peers"][0]["outcome"] == "crashed"
    assert s["received_from_dead"] == {"2": {"0": [0], "1": []}}
    assert s["rejected_total"] == 2
    assert report["peers"][2]["final_stats"] is False and "log_tail" in report["peers"][2]


def test_a_peer_that_finished_its_rounds_is_owed_every_batch(tmp_path):
    specs = layout.prepare(tmp_path, 2, base_port=40400)
    a, b = _finished_process(specs[0], 0), _finished_process(specs[1], 0)
    t = 1_000_000
    # b's last batch left 500 ms before a stopped: a lingered for it, so it was due.
    _write_stats(a, {0: t}, {specs[1].peer_id: [0]}, t + 10_000, "rounds-done")
    _write_stats(b, {0: t, 1: t + 9500}, {specs[0].peer_id: [0]}, t + 10_000, "rounds-done")
    report = build_report([a, b], rounds=2, round_seconds=2.0, grace_ms=2000, started_at=0.0,
                          finished_at=1.0, interrupted=False)
    s = report["summary"]
    assert s["expected_batches"] == 3 and s["lost"] == 1
    assert s["missing"][0]["receiver"] == 0 and s["missing"][0]["rounds"] == [1]


def test_synthetic_batches_are_deterministic_and_sized_like_real_ones():
    sizes = []
    for r in range(40):
        groups = synthetic.synthetic_groups("12D3KooWpeer", r)
        assert groups == synthetic.synthetic_groups("12D3KooWpeer", r)
        total = sum(g.text_bytes() for g in groups)
        assert MIN_BATCH_BYTES <= total <= MAX_BATCH_BYTES + 4096
        sizes.append(total)
        assert all(g.completions and "<answer>" in g.completions[0] for g in groups[:-1])
    assert max(sizes) > 20 * min(sizes)  # a real spread, from a few KB to ~200 KB
    assert synthetic.synthetic_groups("12D3KooWother", 0) != synthetic.synthetic_groups("12D3KooWpeer", 0)
    for target in (2048, 204800):
        assert sum(g.text_bytes() for g in synthetic.synthetic_groups("p", 3, target)) == target


def test_live_table_shows_each_peer_from_its_snapshot():
    from rich.console import Console

    from swarmclient.tui import render_devnet

    snap = {
        "peer_id": "12D3KooWAAAAAAAAAAAAAAAAAAAA123456",
        "phase": "running", "round": 1, "rounds_total": 3,
        "node": {"connected_peers": ["a", "b"], "published": {"rollouts": 2, "caps": 1},
                 "received": {"rollouts": 4}, "rejected": {"bad_signature": 3},
                 "latency": {"p95_ms": 42.0}},
    }
    console = Console(record=True, width=140)
    console.print(render_devnet(
        [snap, None], title="swarm devnet: 1/2 peers running", states=[None, "killed"],
        peer_ids=["12D3KooWAAAAAAAAAAAAAAAAAAAA123456", "12D3KooWBBBBBBBBBBBBBBBBBBBB654321"],
    ))
    text = console.export_text()
    assert "swarm devnet: 1/2 peers running" in text
    line0 = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("0"))
    assert "running" in line0 and "2/3" in line0 and "42" in line0
    line1 = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("1"))
    assert "killed" in line1 and "654321" in line1  # named although it never answered
