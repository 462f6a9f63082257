"""The live loops: `run_top` (one peer, full screen) and `run_dashboard` (a devnet's table).

rich's `Live` runs with auto_refresh=False, so no refresh thread exists: a trio task renders a
frame and calls `refresh` at `refresh_hz`; the sources poll on their own schedule. Keys are
read from the terminal in cbreak mode through trio's `wait_readable` (no thread, and stdin is
never switched to non-blocking, which would also affect stdout on the same terminal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import trio
from rich.console import Console, RenderableType
from rich.live import Live

from swarmclient.tui.layout import render_devnet, render_peer
from swarmclient.tui.source import DEFAULT_POLL_S, PeerSource
from swarmclient.tui.view import Connection

DEFAULT_REFRESH_HZ = 3.0
QUIT_KEYS = (b"q", b"Q", b"\x03", b"\x1b")  # q, Ctrl-C in raw-ish input, Esc


@contextlib.contextmanager
def cbreak(stream: IO[str] | None) -> Iterator[int | None]:
    """Single-key input without echo while the dashboard runs; the terminal is restored on
    exit however the dashboard ends. Yields the fd to read keys from, or None (not a tty)."""
    if stream is None or not hasattr(stream, "fileno"):
        yield None
        return
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        yield None
        return
    if not os.isatty(fd):
        yield None
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _quit_on_key(fd: int, scope: trio.CancelScope) -> None:
    while True:
        await trio.lowlevel.wait_readable(fd)
        data = os.read(fd, 64)
        if not data or any(key in data for key in QUIT_KEYS):
            scope.cancel()
            return


async def _quit_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def _live_loop(
    console: Console,
    frame: Callable[[int, int], RenderableType],
    refresh_hz: float,
    screen: bool,
    keys: IO[str] | None,
    handle_signals: bool,
) -> None:
    period = 1.0 / max(0.5, min(refresh_hz, 20.0))
    with cbreak(keys) as key_fd, Live(
        console=console, auto_refresh=False, screen=screen, redirect_stdout=False, redirect_stderr=False,
        transient=False,
    ) as live:
        async with trio.open_nursery() as nursery:
            if handle_signals:
                nursery.start_soon(_quit_on_signal, nursery.cancel_scope)
            if key_fd is not None:
                nursery.start_soon(_quit_on_key, key_fd, nursery.cancel_scope)
            while True:
                width, height = console.size
                live.update(frame(width, height), refresh=True)
                await trio.sleep(period)


async def run_top(
    path: Path | str,
    *,
    console: Console | None = None,
    refresh_hz: float = DEFAULT_REFRESH_HZ,
    poll_s: float = DEFAULT_POLL_S,
    screen: bool | None = None,
    keys: IO[str] | None = None,
) -> None:
    """The `swarm top` dashboard until q, Ctrl-C or SIGTERM; returns normally in every case."""
    console = console or Console()
    screen = console.is_terminal if screen is None else screen
    source = PeerSource(path, poll_s=poll_s)
    async with trio.open_nursery() as nursery:
        await nursery.start(source.serve)
        await _live_loop(
            console, lambda w, h: render_peer(source.view(), w, h), refresh_hz, screen,
            keys if keys is not None else sys.stdin, handle_signals=True,
        )
        nursery.cancel_scope.cancel()


async def run_dashboard(
    sources: Sequence[PeerSource],
    *,
    console: Console | None = None,
    title: Callable[[], str] | str | None = None,
    states: Callable[[], Sequence[str | None]] | None = None,
    refresh_hz: float = DEFAULT_REFRESH_HZ,
    screen: bool = False,
    keys: IO[str] | None = None,
    handle_signals: bool = False,
) -> None:
    """An aggregate table of many peers (devnet), each followed by its own PeerSource, until
    cancelled (or q with `keys`, or SIGINT/SIGTERM with `handle_signals`; a devnet leaves
    both off and handles its own). `title` and `states` may be callables, read every frame."""
    console = console or Console()

    def frame(width: int, height: int) -> RenderableType:
        snapshots = [s.snapshot if s.connection is Connection.CONNECTED else None for s in sources]
        row_states = list(states()) if callable(states) else [s.connection.value for s in sources]
        text = title() if callable(title) else title
        return render_devnet(snapshots, title=text, states=row_states)

    async with trio.open_nursery() as nursery:
        for source in sources:
            await nursery.start(source.serve)
        await _live_loop(console, frame, refresh_hz, screen, keys, handle_signals)
        nursery.cancel_scope.cancel()
