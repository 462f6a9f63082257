"""`swarm top` (the live dashboard of a running peer) and `swarm status` (a one-shot summary)."""

from __future__ import annotations

import argparse
import json
import stat
import sys
from pathlib import Path

from swarmclient.cli.argtypes import number_in
from swarmclient.errors import SwarmError
from swarmclient.home import Home



def resolve_socket(connect: str | None, home: str | None) -> Path:
    """--connect names a control socket or a peer's state directory; without it, the peer
    of --home / $SWARM_HOME."""
    if connect is None:
        return Home.resolve(home).control_socket
    path = Path(connect).expanduser()
    if path.is_dir():
        return Home(path).control_socket
    try:
        mode = path.stat().st_mode
    except OSError:
        # Not there (yet): a name ending in .sock is the socket, anything else a home to be.
        return path if path.suffix == ".sock" else Home(path).control_socket
    if not stat.S_ISSOCK(mode):
        raise SwarmError("bad-connect", f"{path} is neither a peer's state directory nor its control socket")
    return path


_frame_size = number_in(int, 20, 1000)
_refresh = number_in(float, 0.5, 20, note="frames per second")


async def _fetch(path: Path) -> dict:
    from swarmclient import control

    return await control.fetch_stats(path, timeout=3.0)


def cmd_top(args: argparse.Namespace) -> int:
    import trio
    from rich.console import Console

    from swarmclient import tui

    path = resolve_socket(args.connect, args.home)
    if args.once:
        snapshot = trio.run(_fetch, path)
        console = Console(width=args.width, height=args.height, highlight=False)
        width, height = args.width or console.size.width, args.height or console.size.height
        console.print(tui.render_peer(tui.PeerView.of(snapshot), width, height), height=height)
        return 0
    console = Console(width=args.width, height=args.height)
    trio.run(lambda: tui.run_top(path, console=console, refresh_hz=args.refresh))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import trio

    from swarmclient import tui

    path = resolve_socket(args.connect, args.home)
    try:
        snapshot = trio.run(_fetch, path)
    except SwarmError as exc:
        if args.json:
            print(json.dumps({"format": "swarm-status/1", "running": False, "socket": str(path),
                              "error": exc.reason, "detail": exc.detail}))
        else:
            print(f"swarm status: {exc.detail or exc.reason}", file=sys.stderr)
            print("start a peer with `swarm peer` (or `swarm devnet`), or name one with --connect", file=sys.stderr)
        return 1
    summary = tui.status_summary(snapshot)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(tui.status_text(summary, snapshot))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    connect_help = "a peer's control socket or state directory (default: the peer of --home / $SWARM_HOME)"
    p = subparsers.add_parser(
        "top",
        help="live dashboard of a running peer (q or Ctrl-C quits)",
        description="Attach a terminal dashboard to a running peer: identity, peers, round, reward curve, "
        "rollout rates, claims, games, stake and a log tail. If the peer stops, the dashboard says so "
        "and reconnects when it is back.",
    )
    p.add_argument("--connect", metavar="SOCKET_OR_HOME", help=connect_help)
    p.add_argument("--once", action="store_true", help="print one frame to stdout and exit (scripts, tests)")
    p.add_argument("--width", type=_frame_size, metavar="W", help="frame width (default: the terminal's)")
    p.add_argument("--height", type=_frame_size, metavar="H", help="frame height (default: the terminal's)")
    p.add_argument("--refresh", type=_refresh, default=3.0, metavar="HZ", help="frames per second (default 3)")
    p.set_defaults(func=cmd_top)

    s = subparsers.add_parser(
        "status",
        help="one-shot summary of the local peer (exit 1 if none is running)",
    )
    s.add_argument("--connect", metavar="SOCKET_OR_HOME", help=connect_help)
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_status)
