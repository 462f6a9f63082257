"""The control endpoint over a real Unix socket: round trips, event streams, a peer that is gone."""

from __future__ import annotations

import os
import socket
import stat
from contextlib import aclosing

import pytest
import trio

from swarmclient import control
from swarmclient.errors import SwarmError


def _snapshot_factory():
    calls = {"n": 0}

    def snapshot():
        calls["n"] += 1
        return {"peer_id": "12D3KooWtest", "round": calls["n"], "nested": {"ok": True}}

    return snapshot


async def test_stats_round_trip_and_socket_mode(tmp_path):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        served = await nursery.start(control.serve, path, _snapshot_factory(), control.EventHub())
        assert served == path
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with trio.fail_after(10):
            first = await control.fetch_stats(path)
            second = await control.fetch_stats(path)
        assert first == {"peer_id": "12D3KooWtest", "round": 1, "nested": {"ok": True}}
        assert second["round"] == 2  # a fresh snapshot per request, not a cached one
        nursery.cancel_scope.cancel()
    assert not path.exists(), "the socket file must be removed when the peer stops"


async def test_event_stream_delivers_in_order(tmp_path):
    path = tmp_path / "control.sock"
    hub = control.EventHub()
    received = []
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, _snapshot_factory(), hub)

        async def consume():
            async with aclosing(control.stream_events(path)) as events:
                async for event in events:
                    received.append(event)
                    if len(received) == 5:
                        return

        nursery.start_soon(consume)
        with trio.fail_after(10):
            while hub.subscriber_count == 0:
                await trio.sleep(0.01)
            for i in range(5):
                hub.publish({"type": "round", "round": i})
            while len(received) < 5:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert [e["round"] for e in received] == [0, 1, 2, 3, 4]


async def test_slow_subscriber_is_told_how_many_events_it_lost(tmp_path):
    path = tmp_path / "control.sock"
    hub = control.EventHub(buffer=4)
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, _snapshot_factory(), hub)
        got = []

        async def consume():
            async with aclosing(control.stream_events(path)) as events:
                async for event in events:
                    got.append(event)

        nursery.start_soon(consume)
        with trio.fail_after(10):
            while hub.subscriber_count == 0:
                await trio.sleep(0.01)
            # Published without yielding: the subscriber's buffer (4) overflows.
            for i in range(20):
                hub.publish({"type": "tick", "i": i})
            hub_done = False
            while not hub_done:
                await trio.sleep(0.05)
                hub.publish({"type": "last"})
                hub_done = any(e.get("type") == "last" for e in got)
        nursery.cancel_scope.cancel()
    dropped = [e for e in got if e["type"] == "events-dropped"]
    ticks = [e for e in got if e["type"] == "tick"]
    assert dropped and dropped[0]["count"] + len(ticks) == 20


async def test_missing_peer_is_peer_gone(tmp_path):
    with trio.fail_after(10):
        with pytest.raises(SwarmError) as info:
            await control.fetch_stats(tmp_path / "nobody.sock")
    assert info.value.reason == "peer-gone"


async def test_stale_socket_is_peer_gone_and_is_replaced_by_a_new_peer(tmp_path):
    path = tmp_path / "control.sock"
    # A crashed peer leaves its socket file behind with nobody listening.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fspath(path))
    stale.close()
    with trio.fail_after(10):
        with pytest.raises(SwarmError) as info:
            await control.fetch_stats(path)
        assert info.value.reason == "peer-gone"
        async with trio.open_nursery() as nursery:
            await nursery.start(control.serve, path, _snapshot_factory(), control.EventHub())
            assert (await control.fetch_stats(path))["peer_id"] == "12D3KooWtest"
            nursery.cancel_scope.cancel()


async def test_second_peer_on_the_same_home_is_refused(tmp_path):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, _snapshot_factory(), control.EventHub())
        with pytest.raises(SwarmError) as info:
            await control.serve(path, _snapshot_factory(), control.EventHub())
        assert info.value.reason == "home-in-use"
        nursery.cancel_scope.cancel()


async def test_event_stream_ends_with_peer_gone_when_the_peer_stops(tmp_path):
    path = tmp_path / "control.sock"
    hub = control.EventHub()
    outcome = {}
    with trio.fail_after(10):
        async with trio.open_nursery() as outer:
            peer_scope = trio.CancelScope()

            async def run_peer(task_status=trio.TASK_STATUS_IGNORED):
                with peer_scope:
                    await control.serve(path, _snapshot_factory(), hub, task_status=task_status)

            await outer.start(run_peer)

            async def consume():
                try:
                    async with aclosing(control.stream_events(path)) as events:
                        async for _ in events:
                            pass
                except SwarmError as exc:
                    outcome["reason"] = exc.reason

            outer.start_soon(consume)
            while hub.subscriber_count == 0:
                await trio.sleep(0.01)
            peer_scope.cancel()
    assert outcome["reason"] == "peer-gone"


async def test_unknown_request_gets_an_error_not_a_crash(tmp_path):
    path = tmp_path / "control.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, path, _snapshot_factory(), control.EventHub())
        with trio.fail_after(10):
            stream = await trio.open_unix_socket(os.fspath(path))
            async with stream:
                await stream.send_all(b"\xff\x00garbage\n")
                reply = await stream.receive_some(4096)
            assert b"unknown-request" in reply
            # ...and the endpoint still serves the next client.
            assert (await control.fetch_stats(path))["round"] == 1
        nursery.cancel_scope.cancel()
