"""`swarm top` in a real terminal (tmux) against a real peer process: live numbers, the peer
killed and restarted under it, and q to quit."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from swarmclient.cli.main import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SWARM = [sys.executable, "-m", "swarmclient.cli.main"]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True, timeout=10).stdout


def _wait_for(predicate, timeout: float, what: str, screen) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen()
        if predicate(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")


def _start_peer(home: Path) -> subprocess.Popen:
    log = open(home / "peer.log", "ab")
    return subprocess.Popen([*SWARM, "--home", str(home), "peer", "--synthetic", "--round-seconds", "1"],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_swarm_top_under_tmux(capsys):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: this test drives `swarm top` in a real terminal; "
                    "install it (apt-get install -y tmux)")
    home = Path(tempfile.mkdtemp(prefix="tuitop-", dir="/tmp"))
    server = f"swarm-tui-test-{os.getpid()}"  # our own tmux server, never the user's
    peer = None
    try:
        # In this process (the suite has imported the CLI already): one process start fewer.
        assert main(["--home", str(home), "init", "--json"]) == 0
        peer_id = json.loads(capsys.readouterr().out)["peer_id"]
        config = home / "config.toml"
        config.write_text(config.read_text().replace('"/ip4/0.0.0.0/tcp/4001"', '"/ip4/127.0.0.1/tcp/0"'))
        assert "/ip4/127.0.0.1/tcp/0" in config.read_text(), "the default listen address moved; update this test"
        peer = _start_peer(home)

        top = " ".join([*SWARM, "--home", str(home), "top", "--refresh", "4"])
        _tmux("-L", server, "new-session", "-d", "-s", "top", "-x", "80", "-y", "24", "-c", str(REPO),
              f"{top}; echo TOP-EXITED rc=$?; sleep 120")

        def screen() -> str:
            return _tmux("-L", server, "capture-pane", "-p", "-t", "top")

        def round_number(text: str) -> int:
            match = re.search(r"round\s+(\d+)", text)
            return int(match.group(1)) if match else -1

        first = _wait_for(lambda t: peer_id in t and round_number(t) >= 1, 90, "the peer's id and a round", screen)
        assert "● connected" in first and "─ Round ─" in first and "─ Peers" in first and "─ Log ─" in first
        # Live: the round and the published-batch count move while we watch.
        later = _wait_for(lambda t: round_number(t) >= round_number(first) + 2, 30, "the round to advance", screen)
        assert re.search(r"batches\s+\d+ out", later)
        _wait_for(lambda t: re.search(r"\d\d:\d\d:\d\d round \d+ started", t), 15, "round events in the log", screen)

        _stop(peer)  # the peer goes away under the dashboard
        gone = _wait_for(lambda t: "peer gone since" in t, 20, "the dashboard to notice", screen)
        assert re.search(r"peer gone since \d\d:\d\d:\d\d, reconnecting", gone)
        assert peer_id in gone  # the last snapshot stays on screen

        peer = _start_peer(home)  # back again: the dashboard reconnects by itself
        _wait_for(lambda t: "● connected" in t and "gone" not in t and round_number(t) >= 1, 90,
                  "the dashboard to reconnect", screen)

        _tmux("-L", server, "send-keys", "-t", "top", "q")
        done = _wait_for(lambda t: "TOP-EXITED" in t, 15, "swarm top to exit on q", screen)
        assert "TOP-EXITED rc=0" in done and "Traceback" not in done
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, timeout=10)
        if peer is not None:
            _stop(peer)
        shutil.rmtree(home, ignore_errors=True)
