"""`swarm devnet` end to end: real peer processes, real libp2p GossipSub on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from swarmclient import control

pytestmark = pytest.mark.slow

SWARM = [sys.executable, "-m", "swarmclient.cli.main"]
PEER_FIELDS = {
    "index", "peer_id", "pid", "outcome", "exit_code", "published", "received", "received_by_sender",
    "rejected", "dropped", "latency", "latency_by_kind", "batches",
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes, but it must have a parent that reaps it; ours do.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _no_tracebacks(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text[-3000:]


def _peer_logs(devnet_dir: Path) -> list[str]:
    return [p.read_text(errors="replace") for p in sorted(devnet_dir.glob("peer-*/peer.log"))]


async def _run_swarm(args: list[str], timeout: float) -> trio.Process:
    with trio.fail_after(timeout):
        return await trio.run_process(SWARM + args, capture_stdout=True, capture_stderr=True, check=False)


async def test_three_peers_exchange_every_batch(tmp_path):
    devnet_dir, report_path = tmp_path / "dn", tmp_path / "r.json"
    result = await _run_swarm(
        ["devnet", "--synthetic", "--no-chain", "--peers", "3", "--rounds", "2", "--round-seconds", "1", "--headless", "--report", str(report_path),
         "--dir", str(devnet_dir)],
        timeout=150,
    )
    out = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, out
    _no_tracebacks(out, *_peer_logs(devnet_dir))
    report = json.loads(report_path.read_text())
    assert report["format"] == "swarm-devnet-report/1"
    peers = report["peers"]
    assert len(peers) == 3 and len({p["peer_id"] for p in peers}) == 3
    ids = [p["peer_id"] for p in peers]
    for peer in peers:
        assert PEER_FIELDS <= set(peer), PEER_FIELDS - set(peer)
        assert peer["outcome"] == "ok"
        assert peer["batches"]["published_rounds"] == [0, 1]
        assert peer["published"].get("rollouts") == 2
        others = [i for i in ids if i != peer["peer_id"]]
        # Every other peer's two batches arrived, counted by the node per sender and kind...
        for other in others:
            assert peer["received_by_sender"][other]["rollouts"] == 2
            assert peer["batches"]["received_rounds"][other] == [0, 1]
        assert peer["received"]["rollouts"] == 4
        assert peer["latency"]["count"] >= 4 and peer["latency"]["p95_ms"] is not None
        assert peer["latency"]["p50_ms"] <= peer["latency"]["p95_ms"] <= peer["latency"]["max_ms"]
        assert isinstance(peer["rejected"], dict)
    summary = report["summary"]
    assert summary["expected_batches"] == 3 * 2 * 2
    assert summary["received_batches"] == 12 and summary["lost"] == 0 and summary["zero_lost"]
    assert summary["missing"] == [] and summary["dead_peers"] == []
    assert not any(_alive(p["pid"]) for p in peers)


async def test_ctrl_c_stops_everything_cleanly(tmp_path):
    devnet_dir, report_path = tmp_path / "dn", tmp_path / "r.json"
    proc = await trio.lowlevel.open_process(
        SWARM + ["devnet", "--synthetic", "--no-chain", "--peers", "3", "--headless", "--report", str(report_path), "--dir", str(devnet_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    output = bytearray()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:

            async def read_all():
                while chunk := await proc.stdout.receive_some(65536):
                    output.extend(chunk)

            nursery.start_soon(read_all)
            while not (devnet_dir / "start.json").exists():
                await trio.sleep(0.2)
            await trio.sleep(4.0)  # at least one round under way
            pids = [
                (await control.fetch_stats(devnet_dir / f"peer-{i}" / "control.sock"))["pid"] for i in range(3)
            ]
            proc.send_signal(signal.SIGINT)
            await proc.wait()
    text = output.decode(errors="replace")
    assert proc.returncode == 130, text
    _no_tracebacks(text, *_peer_logs(devnet_dir))
    assert not [pid for pid in pids if _alive(pid)], "orphan peer processes"
    report = json.loads(report_path.read_text())
    assert report["interrupted"] is True
    assert all(p["outcome"] == "stopped" for p in report["peers"])
    assert report["summary"]["zero_lost"], report["summary"]["missing"]
    assert report["summary"]["received_batches"] >= 6  # round 0 at least, both ways


async def test_a_killed_peer_does_not_stall_the_others(tmp_path):
    devnet_dir, report_path = tmp_path / "dn", tmp_path / "r.json"
    rounds = 4
    proc = await trio.lowlevel.open_process(
        SWARM + ["devnet", "--synthetic", "--no-chain", "--peers", "3", "--rounds", str(rounds), "--round-seconds", "1.5", "--headless",
                 "--report", str(report_path), "--dir", str(devnet_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    output = bytearray()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:

            async def read_all():
                while chunk := await proc.stdout.receive_some(65536):
                    output.extend(chunk)

            nursery.start_soon(read_all)
            while not (devnet_dir / "start.json").exists():
                await trio.sleep(0.2)
            # Kill the bootstrap peer, the one everybody dialled, during round 1.
            victim = (await control.fetch_stats(devnet_dir / "peer-0" / "control.sock"))["pid"]
            await trio.sleep(2.5)
            os.kill(victim, signal.SIGKILL)
            await proc.wait()
    text = output.decode(errors="replace")
    assert proc.returncode == 1, text  # a peer died: the devnet says so
    assert "peer-0" in text
    report = json.loads(report_path.read_text())
    summary = report["summary"]
    assert [d["index"] for d in summary["dead_peers"]] == [0]
    assert summary["dead_peers"][0]["outcome"] == "killed"
    survivors = [p for p in report["peers"] if p["index"] != 0]
    for peer in survivors:
        assert peer["outcome"] == "ok"
        assert peer["batches"]["published_rounds"] == list(range(rounds))
    # The survivors still exchanged every round after the bootstrap peer died.
    assert summary["zero_lost"], summary["missing"]
    assert summary["expected_batches"] == 2 * rounds
    assert not _alive(victim)


async def test_sigkill_of_the_devnet_takes_its_peers_with_it(tmp_path):
    devnet_dir = tmp_path / "dn"
    proc = await trio.lowlevel.open_process(
        SWARM + ["devnet", "--synthetic", "--no-chain", "--peers", "2", "--headless", "--dir", str(devnet_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    pids: list[int] = []
    try:
        with trio.fail_after(120):
            while not (devnet_dir / "start.json").exists():
                await trio.sleep(0.2)
            pids = [(await control.fetch_stats(devnet_dir / f"peer-{i}" / "control.sock"))["pid"] for i in range(2)]
            proc.kill()  # SIGKILL: the devnet gets no chance to stop anyone
            await proc.wait()
            # PR_SET_PDEATHSIG delivers SIGTERM to each peer; they stop cleanly on their own.
            while [pid for pid in pids if _alive(pid)]:
                await trio.sleep(0.2)
    finally:
        # Regression: a failed run left the devnet and its peers running (and training) for
        # the rest of the session. Whatever happened above, nothing outlives the test.
        if proc.returncode is None:
            proc.kill()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    for i in range(2):
        stats = json.loads((devnet_dir / f"peer-{i}" / "final-stats.json").read_text())
        assert stats["stop_reason"] in ("signal-SIGTERM", "parent-gone")
    _no_tracebacks(*_peer_logs(devnet_dir))
