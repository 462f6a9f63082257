"""`swarm status` and `swarm top --once` against a real control endpoint, and without one."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import trio

from swarmclient import control
from swarmclient.cli.main import main
from swarmclient.cli.top_cmd import resolve_socket
from swarmclient.errors import SwarmError
from swarmclient.home import Home
from tui_snapshots import PEER, realistic, synthetic_today


@pytest.fixture
def home():
    with tempfile.TemporaryDirectory(prefix="tui-", dir="/tmp") as d:
        yield Path(d)


async def _with_peer(home: Path, snapshot: dict, argv: list[str]) -> int:
    """Serve `snapshot` at the home's control socket and run the CLI (its own trio.run) in a
    worker thread, as a separate `swarm` process would."""
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, home / "control.sock", lambda: snapshot, control.EventHub())
        code = await trio.to_thread.run_sync(main, ["--home", str(home), *argv])
        nursery.cancel_scope.cancel()
    return code


async def test_status_json_of_a_running_peer(home, capsys):
    assert await _with_peer(home, realistic(), ["status", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["running"] is True and summary["peer_id"] == PEER
    assert summary["round"] == 89 and summary["rounds_total"] == 500
    assert summary["connected_peers"] == 2 and summary["rollouts_out"] == 90 and summary["rollouts_in"] == 178
    assert summary["reward_mean"] == pytest.approx(0.4375)
    assert summary["claims"] == {"pending": 2, "finalized": 85, "challenged": 1, "slashed": 0}
    assert summary["chain"]["stake"] == str(1000 * 10**18) and summary["games_active"] == 1


async def test_status_text_without_chain(home, capsys):
    assert await _with_peer(home, synthetic_today(), ["status"]) == 0
    out = capsys.readouterr().out
    assert PEER in out and "90 of 500" in out and "2 connected" in out
    assert "not available (no chain)" in out and "reward    not available" in out


async def test_top_once_prints_one_frame(home, capsys):
    assert await _with_peer(home, realistic(), ["top", "--once", "--width", "80", "--height", "24"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert len(lines) == 24 and PEER in lines[0] and "90 / 500" in "\n".join(lines)


def test_status_without_a_peer_says_so(home, capsys):
    assert main(["--home", str(home), "status"]) == 1
    err = capsys.readouterr().err
    assert "no peer is running at" in err and "swarm peer" in err
    assert main(["--home", str(home), "status", "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["running"] is False and answer["error"] == "peer-gone"
    assert main(["--home", str(home), "top", "--once"]) == 2
    assert "peer-gone" in capsys.readouterr().err


def test_connect_accepts_a_home_or_a_socket(home):
    from swarmclient.runtime import control_socket_path

    assert resolve_socket(None, str(home)) == control_socket_path(Home.resolve(home))
    assert resolve_socket(str(home), None) == home / "control.sock"
    assert resolve_socket(str(home / "other.sock"), None) == home / "other.sock"
    (home / "plain").write_text("x")
    with pytest.raises(SwarmError, match="neither"):
        resolve_socket(str(home / "plain"), None)
