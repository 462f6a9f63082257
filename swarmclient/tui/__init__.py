"""The terminal dashboard: rendering peer stats snapshots (pure functions) apart from reading
them (a trio task polling a peer's control socket)."""

from swarmclient.tui.app import DEFAULT_REFRESH_HZ, run_dashboard, run_top
from swarmclient.tui.layout import render_devnet, render_peer
from swarmclient.tui.source import PeerSource
from swarmclient.tui.summary import status_summary, status_text
from swarmclient.tui.view import Connection, PeerView

__all__ = [
    "DEFAULT_REFRESH_HZ",
    "Connection",
    "PeerSource",
    "PeerView",
    "render_devnet",
    "render_peer",
    "run_dashboard",
    "run_top",
    "status_summary",
    "status_text",
]
