"""PeerSource against a real control endpoint: connect, lose the peer, get it back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import trio

from swarmclient import control
from swarmclient.tui import Connection, PeerSource


@pytest.fixture
def sock_path():
    # Unix socket paths are limited to ~104 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="tui-", dir="/tmp") as d:
        yield Path(d) / "control.sock"


class FakeRuntimeState:
    """A snapshot that changes like a peer's: counters grow every call; `pid` names the process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {
            "peer_id": "12D3KooWsource", "pid": self.pid, "round": self.calls,
            "node": {"published": {"rollouts": 10 * self.calls}, "received": {"rollouts": 30 * self.calls}},
            "training": {"round": self.calls, "reward_mean": 0.1 * self.calls},
        }


async def _serve(nursery: trio.Nursery, path: Path, state, hub) -> trio.CancelScope:
    scope = trio.CancelScope()

    async def run(task_status=trio.TASK_STATUS_IGNORED):
        with scope:
            await control.serve(path, state, hub, task_status=task_status)

    await nursery.start(run)
    return scope


async def test_connect_gone_reconnect(sock_path):
    source = PeerSource(sock_path, poll_s=0.05, timeout_s=2.0, follow_events=False)
    await source.poll_once()
    assert source.connection is Connection.CONNECTING  # never seen a peer: not "gone"
    assert source.error and "no peer is running" in source.error

    async with trio.open_nursery() as nursery:
        first = FakeRuntimeState(pid=100)
        server = await _serve(nursery, sock_path, first, control.EventHub())
        await source.poll_once()
        assert source.connection is Connection.CONNECTED and source.error is None
        await trio.sleep(0.05)
        await source.poll_once()
        rates = source.rates
        assert rates["rollouts_out"] > 0 and rates["rollouts_in"] == pytest.approx(3 * rates["rollouts_out"])
        assert source.view().rewards == [(1, pytest.approx(0.1)), (2, pytest.approx(0.2))]

        server.cancel()  # the peer dies
        await trio.sleep(0.05)
        await source.poll_once()
        view = source.view()
        assert view.connection is Connection.GONE and view.since_s is not None
        assert view.snapshot["round"] == 2  # the last thing we knew stays on screen
        assert view.rates == {}
        gone_since = view.since_s
        await source.poll_once()
        assert source.since_s == gone_since  # still gone since the same moment

        second = FakeRuntimeState(pid=200)  # a restarted peer: a new process, counters from zero
        await _serve(nursery, sock_path, second, control.EventHub())
        await source.poll_once()
        assert source.connection is Connection.CONNECTED and source.snapshot["pid"] == 200
        assert source.rates == {}  # no rate across two different processes
        nursery.cancel_scope.cancel()


async def test_serve_loop_follows_events_across_a_restart(sock_path):
    source = PeerSource(sock_path, poll_s=0.05, timeout_s=2.0)
    async with trio.open_nursery() as nursery:
        hub = control.EventHub()
        server = await _serve(nursery, sock_path, FakeRuntimeState(1), hub)
        await nursery.start(source.serve)
        with trio.fail_after(10):
            while hub.subscriber_count == 0:
                await trio.sleep(0.02)
            hub.publish({"type": "round", "round": 7, "ts_ms": 1})
            while not source.events:
                await trio.sleep(0.02)
        assert source.events[-1]["round"] == 7

        server.cancel()
        with trio.fail_after(10):
            while source.connection is not Connection.GONE:
                await trio.sleep(0.02)

        hub2 = control.EventHub()
        await _serve(nursery, sock_path, FakeRuntimeState(2), hub2)
        with trio.fail_after(10):
            while source.connection is not Connection.CONNECTED:
                await trio.sleep(0.02)
            while hub2.subscriber_count == 0:  # the event follower reconnected too
                await trio.sleep(0.02)
            hub2.publish({"type": "round", "round": 8, "ts_ms": 2})
            while source.events[-1].get("round") != 8:
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()


async def test_devnet_dashboard_over_live_sources(sock_path):
    import io

    from rich.console import Console

    from swarmclient.tui import run_dashboard

    second_path = sock_path.with_name("second.sock")
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    async with trio.open_nursery() as nursery:
        await _serve(nursery, sock_path, FakeRuntimeState(1), control.EventHub())
        sources = [PeerSource(sock_path, poll_s=0.05, follow_events=False),
                   PeerSource(second_path, poll_s=0.05, follow_events=False)]  # nobody there
        nursery.start_soon(lambda: run_dashboard(sources, console=console, title=lambda: "my devnet", refresh_hz=10))
        with trio.fail_after(10):
            while sources[0].polls < 3:
                await trio.sleep(0.05)
            await trio.sleep(0.3)  # a frame after the polls
        nursery.cancel_scope.cancel()
    text = out.getvalue()
    assert "my devnet" in text and "12D3KooWsource" in text
    assert "connecting" in text  # the second source never had a peer
    assert "1/2 answering" in text
