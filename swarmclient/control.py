"""A running peer's control endpoint: read-only JSON over a Unix socket under $SWARM_HOME.

Why a Unix socket: it is never reachable from the network, and its file mode (0600) limits
it to the peer's own user, so it needs no authentication of its own.

Protocol (one connection per request; every message is one line of UTF-8 JSON):
- the client sends `stats\\n`   -> the server answers one JSON object (the peer's snapshot)
                                   and closes;
- the client sends `events\\n`  -> the server streams events, one JSON object per line,
                                   until either side closes. A subscriber too slow to keep up
                                   loses events, never silently: the next event it gets is
                                   `{"type": "events-dropped", "count": n}`.
- anything else                 -> `{"error": "unknown-request", ...}` and close.

Server side: `serve(path, snapshot, events, task_status=...)` started with `nursery.start`.
Client side: `fetch_stats(path)` and `stream_events(path)`, both raising SwarmError with reason
`peer-gone` when no peer answers and `peer-timeout` when it answers too slowly.
"""

from __future__ import annotations

import errno
import json
import os
import socket as stdlib_socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from swarmclient.errors import SwarmError

REQUEST_STATS = "stats"
REQUEST_EVENTS = "events"
MAX_REQUEST_BYTES = 256
MAX_LINE_BYTES = 16 * 1024 * 1024
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS) including the trailing NUL.
MAX_SOCKET_PATH = 103
SUBSCRIBER_BUFFER = 256
DEFAULT_TIMEOUT = 5.0

Snapshot = Callable[[], dict[str, Any]]


@dataclass
class _Subscriber:
    send: trio.MemorySendChannel
    dropped: int = 0


class EventHub:
    """Fan-out of runtime events to control-endpoint subscribers.

    `publish` never blocks the runtime: each subscriber has a bounded buffer, and a full
    buffer costs that subscriber the event (counted and later reported to it)."""

    def __init__(self, buffer: int = SUBSCRIBER_BUFFER) -> None:
        self._buffer = buffer
        self._subscribers: list[_Subscriber] = []
        self.published = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, event: dict[str, Any]) -> None:
        self.published += 1
        for sub in list(self._subscribers):
            try:
                sub.send.send_nowait(event)
            except trio.WouldBlock:
                sub.dropped += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.remove(sub)

    def subscribe(self) -> tuple[_Subscriber, trio.MemoryReceiveChannel]:
        send, receive = trio.open_memory_channel(self._buffer)
        sub = _Subscriber(send)
        self._subscribers.append(sub)
        return sub, receive

    def unsubscribe(self, sub: _Subscriber) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)
        sub.send.close()


def _encode(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), default=str) + "\n").encode()


def _check_path(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise SwarmError(
            "control-path-too-long",
            f"{path} is longer than a Unix socket path may be ({MAX_SOCKET_PATH} bytes); "
            "use a shorter $SWARM_HOME",
        )


def _socket_in_use(path: Path) -> bool:
    """True when a live process accepts connections on `path` (a stale file is not in use)."""
    probe = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


async def _read_line(stream: trio.SocketStream, limit: int) -> bytes:
    buf = bytearray()
    while b"\n" not in buf:
        chunk = await stream.receive_some(65536)
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise SwarmError("control-protocol", f"line longer than {limit} bytes")
    line, _, _ = bytes(buf).partition(b"\n")
    return line


async def _handle(stream: trio.SocketStream, snapshot: Snapshot, events: EventHub) -> None:
    async with stream:
        try:
            with trio.fail_after(DEFAULT_TIMEOUT):
                request = (await _read_line(stream, MAX_REQUEST_BYTES)).decode("utf-8", "replace").strip()
            if request == REQUEST_STATS:
                await stream.send_all(_encode(snapshot()))
            elif request == REQUEST_EVENTS:
                await _stream_events(stream, events)
            else:
                await stream.send_all(_encode({"error": "unknown-request", "request": request[:64]}))
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError, SwarmError):
            # The client went away or misbehaved; that is its problem, never the peer's.
            return


async def _stream_events(stream: trio.SocketStream, events: EventHub) -> None:
    sub, receive = events.subscribe()
    try:
        async with receive:
            async for event in receive:
                if sub.dropped:
                    await stream.send_all(_encode({"type": "events-dropped", "count": sub.dropped}))
                    sub.dropped = 0
                await stream.send_all(_encode(event))
    finally:
        events.unsubscribe(sub)


async def serve(
    path: Path,
    snapshot: Snapshot,
    events: EventHub,
    *,
    task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control endpoint at `path` until cancelled; the socket file is removed on exit."""
    path = Path(path)
    _check_path(path)
    if path.exists() or path.is_symlink():
        if _socket_in_use(path):
            raise SwarmError("home-in-use", f"another peer already serves {path}; one peer per $SWARM_HOME")
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    # Bind under a temporary name, restrict it, then rename into place: the socket is never
    # reachable by others, and a stale file from a crashed peer is replaced atomically.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)
        await sock.bind(os.fspath(tmp))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        sock.listen(16)
    except OSError as exc:
        sock.close()
        tmp.unlink(missing_ok=True)
        raise SwarmError("control-bind", f"cannot serve the control endpoint at {path}: {exc.strerror}") from exc
    listener = trio.SocketListener(sock)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(
                trio.serve_listeners,
                lambda stream: _handle(stream, snapshot, events),
                [listener],
            )
            task_status.started(path)
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()
        try:
            path.unlink()
        except OSError:
            pass


def _gone(path: Path, exc: OSError) -> SwarmError:
    if exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
        return SwarmError("peer-gone", f"no peer is running at {path} ({exc.strerror})")
    return SwarmError("peer-gone", f"cannot reach the peer at {path}: {exc.strerror or exc}")


async def _open(path: Path) -> trio.SocketStream:
    try:
        return await trio.open_unix_socket(os.fspath(path))
    except OSError as exc:
        raise _gone(path, exc) from exc


def _decode(line: bytes, path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SwarmError("control-protocol", f"{path} answered something that is not JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise SwarmError("control-protocol", f"{path} answered {type(obj).__name__}, not an object")
    return obj


async def fetch_stats(path: Path | str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """One stats snapshot from the peer serving `path`."""
    path = Path(path)
    try:
        with trio.fail_after(timeout):
            stream = await _open(path)
            async with stream:
                await stream.send_all(f"{REQUEST_STATS}\n".encode())
                line = await _read_line(stream, MAX_LINE_BYTES)
    except trio.TooSlowError as exc:
        raise SwarmError("peer-timeout", f"the peer at {path} did not answer within {timeout:g} s") from exc
    except (trio.BrokenResourceError, OSError) as exc:
        raise SwarmError("peer-gone", f"the peer at {path} closed the connection ({exc})") from exc
    if not line:
        raise SwarmError("peer-gone", f"the peer at {path} closed the connection without answering")
    return _decode(line, path)


async def stream_events(path: Path | str, *, connect_timeout: float = DEFAULT_TIMEOUT) -> AsyncIterator[dict[str, Any]]:
    """Events from the peer at `path` as they happen; ends with SwarmError('peer-gone')
    when the peer exits. Wrap the iteration in your own timeout if you need one."""
    path = Path(path)
    try:
        with trio.fail_after(connect_timeout):
            stream = await _open(path)
            await stream.send_all(f"{REQUEST_EVENTS}\n".encode())
    except trio.TooSlowError as exc:
        raise SwarmError("peer-timeout", f"the peer at {path} did not accept within {connect_timeout:g} s") from exc
    except (trio.BrokenResourceError, OSError) as exc:
        raise SwarmError("peer-gone", f"the peer at {path} closed the connection ({exc})") from exc
    async with stream:
        buf = bytearray()
        while True:
            try:
                chunk = await stream.receive_some(65536)
            except (trio.BrokenResourceError, OSError) as exc:
                raise SwarmError("peer-gone", f"the peer at {path} went away ({exc})") from exc
            if not chunk:
                raise SwarmError("peer-gone", f"the peer at {path} closed its event stream")
            buf += chunk
            while (cut := buf.find(b"\n")) >= 0:
                line = bytes(buf[:cut])
                del buf[: cut + 1]
                yield _decode(line, path)
            if len(buf) > MAX_LINE_BYTES:
                raise SwarmError("control-protocol", f"{path} sent an event longer than {MAX_LINE_BYTES} bytes")
