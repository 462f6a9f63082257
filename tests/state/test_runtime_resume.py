"""The running peer keeps durable state (real processes): `swarm peer` trains SAPO rounds,
is SIGKILLed in the middle of a round, and the restarted peer on the same $SWARM_HOME goes on
from its last checkpoint (policy and optimizer state) and round, with every earlier round and
claim still in the database and the checkpoint chain unbroken. A damaged checkpoint, a
damaged database and a second peer on the same home are refused with a recovery path."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swarmclient import config as config_mod
from swarmclient import identity as identity_mod
from swarmclient.errors import SwarmError
from swarmclient.home import Home
from swarmclient.runtime.durable import HomeLock
from swarmclient.state import CheckpointStore, RoundPhase, StateDB, resume_point

PEER_ARGS = ["--round-seconds", "1", "--warm-steps", "5", "--profile", "micro"]


def make_home(root: Path) -> Home:
    home = Home(root)
    identity_mod.save(identity_mod.Identity.generate(), home)
    cfg = config_mod.Config(swarm_id="resume-test", network=config_mod.NetworkConfig(listen=["/ip4/127.0.0.1/tcp/0"]))
    home.config.write_text(config_mod.render(cfg))
    return home


def swarm(home: Home, *args: str) -> list[str]:
    return [sys.executable, "-m", "swarmclient.cli.main", "--home", str(home.root), *args]


def rows(home: Home) -> list[tuple]:
    """(round, phase, ckpt_before, ckpt_after) read-only, while the peer may be writing."""
    if not home.database.exists():
        return []
    conn = sqlite3.connect(f"file:{home.database}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT round, phase, ckpt_before, ckpt_after FROM rounds ORDER BY round").fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet
    finally:
        conn.close()


def wait_mid_round(home: Home, proc: subprocess.Popen, min_done: int, timeout: float = 240.0) -> int:
    """Poll until `min_done` rounds are done and a later one is in progress; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the peer exited early ({proc.returncode})"
        current = rows(home)
        done = [r for r in current if r[1] == "done"]
        started = [r for r in current if r[1] == "started"]
        if len(done) >= min_done and started:
            return started[-1][0]
        time.sleep(0.02)
    raise AssertionError(f"no round in progress after {min_done} done rounds: {rows(home)}")


def run_to_end(cmd: list[str], timeout: float = 240.0) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_sigkill_mid_round_then_resume_loses_nothing(tmp_path, warm_start_cache):
    home = make_home(tmp_path / "home")
    cache = ["--cache-dir", str(warm_start_cache)]
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(swarm(home, "peer", "--rounds", "1000", *PEER_ARGS, *cache), stdout=log, stderr=log)
    try:
        wait_mid_round(home, first, min_done=1)
        # A second peer on the same home is refused while the first runs.
        with pytest.raises(SwarmError) as refused:
            HomeLock(home)
        assert refused.value.reason == "home-in-use" and str(first.pid) in refused.value.detail
        killed_round = wait_mid_round(home, first, min_done=2)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()

    before = rows(home)
    done_before = {r[0]: r for r in before if r[1] == "done"}
    # Killed mid-round: the round is left `started`, right after the last completed one.
    assert [r[0] for r in before if r[1] == "started"] == [killed_round] == [max(done_before) + 1]
    with StateDB.open(home.database) as db:
        claims_before = {c.digest: c.round for c in db.claims(limit=10_000)}
    assert sorted(claims_before.values()) == sorted(done_before)
    last_after = done_before[max(done_before)][3]
    resume_at = max(done_before) + 1

    stats = tmp_path / "stats.json"
    again = run_to_end(swarm(home, "peer", "--rounds", "2", "--stats-out", str(stats), *PEER_ARGS, *cache))
    assert again.returncode == 0, again.stderr[-2000:]
    snapshot = json.loads(stats.read_text())
    resumed = snapshot["training"]["resumed_from"]
    assert resumed["fresh"] is False
    assert resumed["next_round"] == resume_at == resumed["redo_round"] == killed_round
    assert bytes.fromhex(resumed["checkpoint"]) == last_after
    assert resumed["optimizer_step"] > 0  # the optimizer's moments and step came back too

    after = rows(home)
    done_after = {r[0]: r for r in after if r[1] == "done"}
    # Nothing earlier was lost or changed.
    for r, row in done_before.items():
        assert done_after[r] == row
    # The resumed round starts from the last stored "after", and the chain is unbroken.
    assert done_after[resume_at][2] == last_after
    assert sorted(done_after) == list(range(len(done_after)))
    for r in sorted(done_after)[1:]:
        assert done_after[r][2] == done_after[r - 1][3], f"round {r} does not start where {r - 1} ended"
    assert not [r for r in after if r[1] == RoundPhase.STARTED.value]
    with StateDB.open(home.database) as db:
        claims_after = {c.digest: c.round for c in db.claims(limit=10_000)}
        assert claims_before.items() <= claims_after.items()
        assert sorted(claims_after.values()) == sorted(done_after)
        assert all(c.published_at is not None for c in db.claims(limit=10_000) if c.round >= resume_at)
    CheckpointStore(home.checkpoints).verify(done_after[max(done_after)][3])
    with StateDB.open(home.database, full_check=True) as db:
        assert resume_point(db, CheckpointStore(home.checkpoints)).next_round == max(done_after) + 1

    # A damaged newest checkpoint: refused with the way out, never silently reset.
    newest = CheckpointStore(home.checkpoints).path(done_after[max(done_after)][3])
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0xFF
    newest.write_bytes(bytes(data))
    broken = run_to_end(swarm(home, "peer", "--rounds", "1", *PEER_ARGS, *cache), timeout=120)
    assert broken.returncode == 2, broken.stderr
    assert "checkpoint-corrupt" in broken.stderr and "swarm state recover" in broken.stderr
    assert "Traceback" not in broken.stderr
    assert rows(home) == after  # nothing written


@pytest.mark.slow
def test_damaged_database_is_refused_with_a_recovery_path(tmp_path):
    home = make_home(tmp_path / "home")
    home.database.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    result = run_to_end(swarm(home, "peer", "--synthetic", "--rounds", "1"), timeout=120)
    assert result.returncode == 2, result.stderr
    assert "state-" in result.stderr and "swarm state recover" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (home.root / "control.sock").exists()
