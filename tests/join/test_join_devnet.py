"""`swarm join` against a running devnet (real processes, real libp2p on 127.0.0.1): a fresh
$SWARM_HOME joins through peer 0's address, the devnet's peers see it connected with its
capabilities, and it trains rounds with durable state. The devnet runs without its chain
(`--no-chain`): joining does not touch the chain unless `--stake` is given (tested in
test_join_input.py against a served chain), and staking the devnet's peers costs a minute."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from swarmclient import config as config_mod
from swarmclient import control
from swarmclient import identity as identity_mod
from swarmclient.errors import SwarmError
from swarmclient.home import Home
from swarmclient.state import RoundPhase, StateDB

CLI = [sys.executable, "-m", "swarmclient.cli.main"]


def stats_of(home: Path) -> dict | None:
    try:
        return trio.run(control.fetch_stats, home / "control.sock")
    except SwarmError:
        return None


def wait_for(what: str, check, timeout: float, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode})")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def peer0_addr(devnet: Path) -> str | None:
    home = Home(devnet / "peer-0")
    if not home.config.exists() or not identity_mod.exists(home):
        return None
    listen = config_mod.load(home.config).network.listen[0]
    return f"{listen}/p2p/{identity_mod.load(home).peer_id.to_base58()}"


@pytest.mark.slow
def test_join_brings_a_fresh_peer_into_a_devnet_and_it_trains(tmp_path, warm_start_cache):
    devnet_dir = tmp_path / "devnet"
    devnet_log = open(tmp_path / "devnet.log", "w")
    devnet = subprocess.Popen(
        [*CLI, "--home", str(tmp_path / "dhome"), "devnet", "--peers", "2", "--synthetic", "--duration", "600",
         "--round-seconds", "1", "--headless", "--no-chain", "--dir", str(devnet_dir)],
        stdout=devnet_log, stderr=devnet_log, start_new_session=True,
    )
    join_home = Home(tmp_path / "joiner")
    join_out = open(tmp_path / "join.jsonl", "w")
    join_err = open(tmp_path / "join.err", "w")
    joiner = None
    try:
        wait_for("devnet peer 0 serving", lambda: stats_of(devnet_dir / "peer-0"), 240, devnet)
        addr = peer0_addr(devnet_dir)
        joiner = subprocess.Popen(
            [*CLI, "--home", str(join_home.root), "join", "--bootstrap", addr, "--listen", "/ip4/127.0.0.1/tcp/0",
             "--swarm-id", "devnet", "--rounds", "2", "--round-seconds", "1", "--warm-steps", "5",
             "--profile", "micro", "--json", "--stats-out", str(tmp_path / "join-stats.json"),
             "--cache-dir", str(warm_start_cache)],
            stdout=join_out, stderr=join_err,
        )
        wait_for("the joiner's identity", lambda: identity_mod.exists(join_home), 120, joiner)
        joined_id = identity_mod.load(join_home).peer_id.to_base58()

        def seen_by_devnet() -> bool:
            for i in (0, 1):
                stats = stats_of(devnet_dir / f"peer-{i}")
                if stats is None or joined_id not in stats["node"]["capabilities"]:
                    return False
            stats0 = stats_of(devnet_dir / "peer-0")
            return stats0 is not None and joined_id in stats0["node"]["connected_peers"]

        wait_for("the devnet's peers to see the joiner", seen_by_devnet, 240, joiner)
        caps = stats_of(devnet_dir / "peer-1")["node"]["capabilities"][joined_id]["capabilities"]
        assert caps["model"] == "micro" and caps["device_kind"] == "cpu"
        assert joiner.wait(timeout=240) == 0, (tmp_path / "join.err").read_text()[-2000:]
    finally:
        for proc in (joiner, devnet):
            if proc is not None and proc.poll() is None:
                if proc is devnet:
                    os.killpg(proc.pid, signal.SIGINT)
                else:
                    proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for f in (devnet_log, join_out, join_err):
            f.close()

    events = [json.loads(line) for line in (tmp_path / "join.jsonl").read_text().splitlines() if line.strip()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "created"
    assert {"device", "bootstrap", "listening", "connected", "capabilities", "reachability", "round"} <= set(kinds)
    assert [e["round"] for e in events if e["event"] == "round"] == [0, 1]
    assert events[-1]["event"] == "stopped" and events[-1]["exit_code"] == 0
    reach = [e for e in events if e["event"] == "reachability"]
    assert reach[0]["verdict"] in ("local-only", "reachable")  # loopback only: never "public"
    # The peer cache remembers whom it met, so the next start does not need the bootstrap peer.
    cache = json.loads(join_home.peer_cache.read_text())
    assert any(p["peer_id"] in addr for p in cache["peers"])
    with StateDB.open(join_home.database) as db:
        assert [r.round for r in db.rounds(phase=RoundPhase.DONE)] == [0, 1]
        assert len(db.claims()) == 2
        assert any(p.peer_id for p in db.peers())  # the devnet's adverts were recorded
