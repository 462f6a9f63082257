"""Arranging panels for the terminal at hand: `render_peer` for one peer (`swarm top`),
`render_devnet` for a table of many (`swarm devnet`).

Two arrangements: compact below 100x32 (an 80x24 terminal shows identity, round with reward
sparkline and rollout rates, peers, claims, stake and the log), and wide from there (adds the
reward chart, the network panel and games, and gives each more room).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.layout import Layout
from rich.table import Table
from rich.text import Text

from swarmclient.tui import fields as f
from swarmclient.tui import panels as p
from swarmclient.tui.view import PeerView

WIDE_MIN_WIDTH = 100
WIDE_MIN_HEIGHT = 32


def _region(name: str, fn: p.PanelFn, view: PeerView, title: str, **kw: Any) -> Layout:
    return Layout(p.Region(fn, view, title), name=name, **kw)


def _game_count(view: PeerView) -> int:
    return sum(1 for g in f.as_list(p.snap(view).get("games")) or [] if isinstance(g, Mapping))


def render_peer(view: PeerView, width: int, height: int) -> Layout:
    """The whole `swarm top` screen for one peer at width x height."""
    if width >= WIDE_MIN_WIDTH and height >= WIDE_MIN_HEIGHT:
        return _wide(view, width, height)
    return _compact(view, width, height)


def _compact(view: PeerView, width: int, height: int) -> Layout:
    root = Layout(name="root")
    top = Layout(name="top", size=9)
    top.split_row(
        _region("round", p.round_panel, view, "Round", ratio=1),
        _region("peers", p.peers_panel, view, "Peers", ratio=1),
    )
    chain = Layout(name="chain", size=5)
    chain.split_row(
        _region("claims", p.claims_panel, view, "Claims", ratio=1),
        _region("stake", p.stake_panel, view, "Stake", ratio=1),
    )
    parts = [_region("header", p.header, view, "Identity", size=2), top, chain]
    # Games only while there are some, and never at the cost of the log's last lines.
    games_rows = min(_game_count(view) + 3, 6, height - 2 - 9 - 5 - 4)
    if _game_count(view) and games_rows >= 4:
        parts.append(_region("games", p.games_panel, view, "Games", size=games_rows))
    parts.append(_region("log", p.log_panel, view, "Log", ratio=1, minimum_size=3))
    root.split_column(*parts)
    return root


def _wide(view: PeerView, width: int, height: int) -> Layout:
    root = Layout(name="root")
    band = max(10, (height - 2) * 3 // 10)
    row1 = Layout(name="row1", size=band)
    row1.split_row(
        _region("round", p.round_panel, view, "Round", ratio=2),
        _region("reward", p.reward_panel, view, "Reward", ratio=3),
    )
    row2 = Layout(name="row2", size=band)
    row2.split_row(
        _region("peers", p.peers_panel, view, "Peers", ratio=3),
        _region("network", p.network_panel, view, "Rollouts", ratio=2),
    )
    row3 = Layout(name="row3", size=7)
    row3.split_row(
        _region("claims", p.claims_panel, view, "Claims", ratio=2),
        _region("stake", p.stake_panel, view, "Stake", ratio=2),
        _region("games", p.games_panel, view, "Games", ratio=4),
    )
    root.split_column(
        _region("header", p.header, view, "Identity", size=2),
        row1, row2, row3,
        _region("log", p.log_panel, view, "Log", ratio=1, minimum_size=3),
    )
    return root


# -- many peers ------------------------------------------------------------------------------


def _devnet_row(
    index: int, snapshot: Mapping[str, Any] | None, state: str | None, known_id: str | None = None
) -> list[RenderableType]:
    view = PeerView.of(snapshot)
    s = p.snap(view)
    peer = f.short_id((s.get("peer_id") if s else None) or known_id, 16) if (s or known_id) else "?"
    if not s:
        return [str(index), peer, Text(state or "no answer", style="red"), *["-"] * 10]
    node = f.as_map(s.get("node")) or {}
    rounds_total = f.as_int(s.get("rounds_total"))
    current = f.as_int(f.dig(s, "training", "round"))
    if current is None:
        current = f.as_int(s.get("round"))
    round_text = "-" if current is None or current < 0 else f"{current + 1:,}" + (f"/{rounds_total:,}" if rounds_total else "")
    rewards = p.reward_series(view)
    reward = f.as_num(f.dig(s, "training", "reward_mean"))
    if reward is None and rewards:
        reward = rewards[-1]
    out_total, in_total = p.rollout_totals(view)
    claims = f.as_map(s.get("claims"))
    claims_text = "-" if claims is None else (
        f"{f.fmt_int(claims.get('finalized'))}✓ {f.fmt_int(claims.get('pending'))}… {f.fmt_int(claims.get('challenged'))}!"
        + (f" {f.fmt_int(claims.get('slashed'))}✗" if f.as_int(claims.get("slashed")) else "")
    )
    games_text = _games_cell(f.as_list(s.get("games")))
    chain = f.as_map(s.get("chain"))
    stake_text = "-" if chain is None else f.fmt_tokens(chain.get("stake"), chain.get("decimals", 18), "").strip()
    phase = f.as_str(s.get("phase"), 14) or "?"
    shown_state = phase if state in (None, "running", "connected") else state
    return [
        str(index), peer, shown_state, f.fmt_int(len(f.as_list(node.get("connected_peers")) or [])),
        round_text, f.fmt_num(reward, 3), f.fmt_int(out_total), f.fmt_int(in_total),
        f.fmt_int(f.sum_counts(node.get("rejected"))), f.fmt_ms(f.dig(node, "latency", "p95_ms")), claims_text,
        games_text, stake_text,
    ]


def _games_cell(games: list[Any] | None) -> Text | str:
    """`2 open · 1 won · 1 lost` for one peer's games (either role)."""
    if games is None:
        return "-"
    rows = [g for g in games if isinstance(g, Mapping)]
    if not rows:
        return Text("none", style="dim")
    open_ = sum(1 for g in rows if g.get("status") in (None, "open"))
    won = sum(1 for g in rows if g.get("won") is True)
    lost = sum(1 for g in rows if g.get("won") is False)
    text = Text()
    for count, label, style in ((open_, "open", "yellow"), (won, "won", "green"), (lost, "lost", "bold red")):
        if count:
            text.append(f"{count} {label} ", style=style)
    return text


def render_devnet(
    snapshots: Sequence[Mapping[str, Any] | None],
    *,
    title: str | None = None,
    states: Sequence[str | None] | None = None,
    peer_ids: Sequence[str | None] | None = None,
) -> RenderableType:
    """One row per peer (None: a peer that does not answer) and a totals line.
    `states` optionally overrides each row's state column (e.g. a process's exit status);
    `peer_ids` names peers whose snapshot is missing (the devnet knows whom it started)."""
    table = Table(title=title or f"swarm devnet: {len(snapshots)} peers", expand=False, header_style="bold")
    for name, justify in (("#", "right"), ("peer", "left"), ("state", "left"), ("conn", "right"),
                          ("round", "right"), ("reward", "right"), ("out", "right"), ("in", "right"),
                          ("rejected", "right"), ("p95", "right"), ("claims", "left"), ("games", "left"),
                          ("stake", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    answering, rewards, sent, received = 0, [], 0, 0
    for i, snapshot in enumerate(snapshots):
        state = states[i] if states is not None and i < len(states) else None
        known_id = peer_ids[i] if peer_ids is not None and i < len(peer_ids) else None
        table.add_row(*_devnet_row(i, snapshot if isinstance(snapshot, Mapping) else None, state, known_id))
        if isinstance(snapshot, Mapping):
            answering += 1
            view = PeerView.of(snapshot)
            out_total, in_total = p.rollout_totals(view)
            sent += out_total or 0
            received += in_total or 0
            series = p.reward_series(view)
            if series:
                rewards.append(series[-1])
    mean = f"{sum(rewards) / len(rewards):.3f}" if rewards else "-"
    totals = Text(
        f"{answering}/{len(snapshots)} answering · rollouts out {sent:,} in {received:,} · mean reward {mean}",
        style="dim",
    )
    return Group(table, totals)
