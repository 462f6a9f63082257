"""The dashboard's data side: a trio task that polls a peer's control socket and follows its
event stream, and keeps what a frame needs beyond one snapshot (connection state, rates,
reward history, a log tail). Rendering never touches the socket; it reads `view()`.

A peer that stops answering is not an error here: the source marks it GONE with the time it
went, keeps retrying at the poll interval, and carries on when the peer is back (a restarted
peer is a new process: its counters restart, so rates restart from its first snapshot).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

import trio

from swarmclient import control
from swarmclient.errors import SwarmError
from swarmclient.tui import fields as f
from swarmclient.tui.panels import ROLLOUT_KINDS
from swarmclient.tui.view import Connection, PeerView

DEFAULT_POLL_S = 0.5
LOG_LINES = 200
REWARD_POINTS = 2000
EVENTS_RETRY_S = 1.0


def counters(snapshot: Mapping[str, Any]) -> dict[str, int]:
    """The monotonic counters rates are computed from."""
    node = f.as_map(snapshot.get("node")) or {}
    return {
        "rollouts_out": sum(f.as_int(f.dig(node, "published", k)) or 0 for k in ROLLOUT_KINDS),
        "rollouts_in": sum(f.as_int(f.dig(node, "received", k)) or 0 for k in ROLLOUT_KINDS),
        "messages_out": f.sum_counts(node.get("published")) or 0,
        "messages_in": f.sum_counts(node.get("received")) or 0,
    }


class PeerSource:
    """Polls `path` (a control socket) every `poll_s` seconds once `serve` runs."""

    def __init__(self, path: Path | str, *, poll_s: float = DEFAULT_POLL_S, timeout_s: float = 2.0,
                 follow_events: bool = True) -> None:
        self.path = Path(path)
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.follow_events = follow_events
        self.connection = Connection.CONNECTING
        self.since_s: float | None = None
        self.error: str | None = None
        self.snapshot: dict[str, Any] | None = None
        self.rates: dict[str, float] = {}
        self.rewards: dict[int, float] = {}
        self.events: deque[Mapping[str, Any]] = deque(maxlen=LOG_LINES)
        self.polls = 0
        self.changed = trio.Event()  # set after every poll; replaced by `wait_changed`
        self._last: tuple[float, int | None, dict[str, int]] | None = None  # (monotonic, pid, counters)

    # -- the view renderers read ----------------------------------------------------------------

    def view(self) -> PeerView:
        return PeerView(
            snapshot=self.snapshot, connection=self.connection, since_s=self.since_s, error=self.error,
            target=str(self.path), rates=dict(self.rates), rewards=sorted(self.rewards.items()),
            events=tuple(self.events), now_s=time.time(),
        )

    async def wait_changed(self) -> None:
        await self.changed.wait()
        self.changed = trio.Event()

    # -- the component -------------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self.follow_events:
                nursery.start_soon(self._follow_events)
            task_status.started()
            while True:
                await self.poll_once()
                await trio.sleep(self.poll_s)

    async def poll_once(self) -> None:
        try:
            snapshot = await control.fetch_stats(self.path, timeout=self.timeout_s)
        except SwarmError as exc:
            self._on_failure(exc)
        else:
            self._on_snapshot(snapshot)
        self.polls += 1
        self.changed.set()

    def _set_connection(self, state: Connection) -> None:
        if state is not self.connection:
            self.connection = state
            self.since_s = time.time()

    def _on_failure(self, exc: SwarmError) -> None:
        self.error = exc.detail or exc.reason
        if self.connection is Connection.CONNECTED:
            self._set_connection(Connection.GONE)
            self._last = None
            self.rates = {}
        # CONNECTING stays CONNECTING: there was never a peer to be gone.

    def _on_snapshot(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self.error = None
        self._set_connection(Connection.CONNECTED)
        now = trio.current_time()
        pid = f.as_int(snapshot.get("pid"))
        current = counters(snapshot)
        if self._last is not None and self._last[1] == pid and now > self._last[0]:
            dt = now - self._last[0]
            self.rates = {k: max(0, v - self._last[2].get(k, 0)) / dt for k, v in current.items()}
        self._last = (now, pid, current)
        self._merge_rewards(snapshot)

    def _merge_rewards(self, snapshot: Mapping[str, Any]) -> None:
        training = f.as_map(snapshot.get("training")) or {}
        for item in f.as_list(training.get("reward_history")) or []:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                r, value = f.as_int(item[0]), f.as_num(item[1])
                if r is not None and value is not None:
                    self.rewards[r] = value
        r, value = f.as_int(training.get("round")), f.as_num(training.get("reward_mean"))
        if r is not None and value is not None:
            self.rewards[r] = value
        while len(self.rewards) > REWARD_POINTS:
            del self.rewards[min(self.rewards)]

    async def _follow_events(self) -> None:
        while True:
            try:
                async with aclosing(control.stream_events(self.path, connect_timeout=self.timeout_s)) as stream:
                    async for event in stream:
                        self.events.append(event)
            except SwarmError:
                pass  # the poller reports the peer's state; here we only retry
            await trio.sleep(EVENTS_RETRY_S)
