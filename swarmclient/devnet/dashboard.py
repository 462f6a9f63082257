"""The devnet's live table: one row per peer, read from each peer's control endpoint.

Driven from a trio task: rich `Live(auto_refresh=False)` and an explicit refresh per tick,
so no refresh thread runs beside trio.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def peers_table(rows: list[tuple[int, str, str, dict[str, Any] | None]], title: str) -> Table:
    """rows: (index, peer id, process outcome, latest snapshot or None)."""
    table = Table(title=title, expand=False)
    for name, justify in [
        ("#", "right"), ("peer id", "left"), ("state", "left"), ("conn", "right"), ("round", "right"),
        ("out", "right"), ("in", "right"), ("rejected", "right"), ("p95", "right"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)
    for index, peer_id, outcome, snap in rows:
        short = f"{peer_id[:8]}..{peer_id[-6:]}"
        if snap is None:
            table.add_row(str(index), short, outcome, "-", "-", "-", "-", "-", "-")
            continue
        node = snap.get("node") or {}
        published = sum((node.get("published") or {}).values())
        received = sum((node.get("received") or {}).values())
        rejected = sum((node.get("rejected") or {}).values())
        rounds_total = snap.get("rounds_total")
        round_text = f"{snap.get('round', -1) + 1}" + (f"/{rounds_total}" if rounds_total else "")
        state = snap.get("phase", "?") if outcome == "running" else outcome
        table.add_row(
            str(index), short, state, str(len(node.get("connected_peers") or [])), round_text,
            str(published), str(received), str(rejected), _fmt_ms((node.get("latency") or {}).get("p95_ms")),
        )
    return table
