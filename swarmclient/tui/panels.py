"""Panels: pure functions from a PeerView to a rich renderable of a given size.

Every panel takes (view, width, height), the size of the region the layout gives it (borders
included), and draws what fits: as many peers or log lines as there are rows, a chart as wide
as the panel. A panel whose section is absent from the snapshot says "not available" in dim
text; fields it does not know are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from swarmclient.tui import fields as f
from swarmclient.tui.charts import column_chart, sparkline
from swarmclient.tui.view import Connection, PeerView

PanelFn = Callable[[PeerView, int, int], RenderableType]
BORDER = "blue"
# The rollouts gossip kinds the network layer counts (protocol.wire.Kind values).
ROLLOUT_KINDS = ("rollouts", "announce")


def not_available(what: str = "not available") -> Text:
    return Text(what, style="dim", no_wrap=True, overflow="ellipsis")


def boxed(title: str, body: RenderableType, height: int | None = None) -> Panel:
    return Panel(body, title=f"[b]{title}[/b]", title_align="left", border_style=BORDER, height=height, padding=(0, 1))


class Region:
    """A panel drawn at the size the layout gives it at render time. A bug or a field of
    an unforeseen shape costs one panel ("unreadable"), never the whole dashboard."""

    def __init__(self, fn: PanelFn, view: PeerView, title: str) -> None:
        self.fn, self.view, self.title = fn, view, title

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        height = options.height or options.size.height
        try:
            yield self.fn(self.view, width, height)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as exc:
            yield boxed(self.title, Text(f"unreadable: {type(exc).__name__}", style="dim red"), height)


def _kv(rows: list[tuple[str, RenderableType | str]]) -> Table:
    grid = Table.grid(padding=(0, 1))
    # The key column keeps its width; values are cut with an ellipsis when the panel is narrow.
    grid.add_column(style="dim", no_wrap=True, min_width=max((len(k) for k, _ in rows), default=1))
    grid.add_column(no_wrap=True, overflow="ellipsis")
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def snap(view: PeerView) -> Mapping[str, Any]:
    return view.snapshot if isinstance(view.snapshot, Mapping) else {}


# -- header ------------------------------------------------------------------------------------


def connection_line(view: PeerView) -> Text:
    if view.connection is Connection.CONNECTED:
        return Text("● connected", style="green")
    if view.connection is Connection.GONE:
        since = f" since {f.fmt_clock(view.since_s)}" if view.since_s else ""
        return Text(f"✖ peer gone{since}, reconnecting…", style="bold red")
    target = view.target or "the control socket"
    # The error usually repeats the path; say it once.
    reason = f" ({view.error})" if view.error and target not in view.error else ""
    return Text(f"… waiting for a peer at {target}{reason}", style="yellow")


def header(view: PeerView, width: int, height: int) -> RenderableType:
    s = snap(view)
    peer_id = f.as_str(s.get("peer_id")) or "unknown peer"
    id_text = peer_id if len(peer_id) + 12 <= width else f.short_id(peer_id, max(8, width - 12))
    line1 = Text.assemble(("swarm ", "bold"), ("peer ", "dim"), (id_text, "bold cyan"))
    parts: list[tuple[str, str]] = []
    account = f.as_str(f.dig(s, "chain", "account")) or f.as_str(s.get("address"))
    if account:
        parts += [("account ", "dim"), (f.short_addr(account), "magenta"), ("  ", "")]
    phase = f.as_str(s.get("phase"), 20)
    if phase:
        parts += [("phase ", "dim"), (phase, "bold"), ("  ", "")]
    started = f.as_num(s.get("started_ms"))
    if started is not None:
        parts += [("up ", "dim"), (f.fmt_duration(view.now_s - started / 1000), ""), ("  ", "")]
    # When the peer is not answering, that comes first: it is the news, and the rest is stale.
    status = connection_line(view)
    if view.connection is Connection.CONNECTED:
        line2 = Text.assemble(*parts) + status
    else:
        line2 = status + Text("  ") + Text.assemble(*parts)
    line2.truncate(width, overflow="ellipsis")
    return Group(line1, line2)


# -- round, rewards, rollouts ------------------------------------------------------------------


def reward_series(view: PeerView) -> list[float]:
    """Mean reward per round, oldest first: the source's history, else the snapshot's."""
    if view.rewards:
        return [r for _, r in view.rewards]
    out = []
    for item in f.as_list(f.dig(snap(view), "training", "reward_history")) or []:
        value = f.as_num(item[1]) if isinstance(item, (list, tuple)) and len(item) == 2 else f.as_num(item)
        if value is not None:
            out.append(value)
    return out


def rollout_totals(view: PeerView) -> tuple[int | None, int | None]:
    node = f.as_map(snap(view).get("node"))
    if node is None:
        return None, None
    out = [f.as_int(f.dig(node, "published", k)) or 0 for k in ROLLOUT_KINDS]
    into = [f.as_int(f.dig(node, "received", k)) or 0 for k in ROLLOUT_KINDS]
    return sum(out), sum(into)


def round_panel(view: PeerView, width: int, height: int, *, with_sparkline: bool = True) -> RenderableType:
    s = snap(view)
    if not s:
        return boxed("Round", not_available(), height)
    training = f.as_map(s.get("training")) or {}
    current = f.as_int(training.get("round"))
    if current is None:
        current = f.as_int(s.get("round"))
    total = f.as_int(s.get("rounds_total"))
    if current is None or current < 0:
        round_text = Text("not started", style="dim")
    else:
        round_text = Text(f"{current + 1:,}" + (f" / {total:,}" if total else ""), style="bold")
    rows: list[tuple[str, RenderableType | str]] = [("round", round_text)]
    seconds = f.as_num(s.get("round_seconds"))
    t0 = f.as_num(s.get("t0"))
    if seconds and t0 is not None and current is not None and current >= 0:
        into = max(0.0, view.now_s - (t0 + current * seconds))
        rows.append(("elapsed", f"{min(into, seconds):.1f} / {seconds:g} s"))
    local, external = training.get("local_samples"), training.get("external_samples")
    if local is not None or external is not None:
        rows.append(("samples", f"{f.fmt_int(local)} local · {f.fmt_int(external)} external"))
    else:
        batches = f.as_map(s.get("batches")) or {}
        published = f.as_list(batches.get("published_rounds"))
        if published is not None or "received_batches" in batches:
            rows.append(("batches", f"{len(published or []):,} out · {f.fmt_int(batches.get('received_batches'))} in"))
    loss = training.get("loss")
    if loss is not None:
        rows.append(("loss", f.fmt_num(loss, 4)))
    rewards = reward_series(view)
    last = f.as_num(training.get("reward_mean"))
    if last is None and rewards:
        last = rewards[-1]
    if rewards or last is not None:
        value = Text(f.fmt_num(last, 3), style="bold green")
        if with_sparkline and rewards:
            value.append("  " + sparkline(rewards, max(0, width - 22)), style="green")
        rows.append(("reward", value))
    else:
        rows.append(("reward", not_available("no rewards yet")))
    out_total, in_total = rollout_totals(view)
    if out_total is not None:
        rows.append(("rollouts", _rollouts_text(view, out_total, in_total, totals=width >= 50)))
    return boxed("Round", _kv(rows), height)


def _rollouts_text(view: PeerView, out_total: int | None, in_total: int | None, *, totals: bool = True) -> Text:
    text = Text()
    text.append(f"out {f.fmt_rate(view.rates.get('rollouts_out'))}", style="cyan")
    if totals:
        text.append(f" ({f.fmt_int(out_total)})", style="dim")
    text.append(f"  in {f.fmt_rate(view.rates.get('rollouts_in'))}", style="cyan")
    if totals:
        text.append(f" ({f.fmt_int(in_total)})", style="dim")
    return text


def reward_panel(view: PeerView, width: int, height: int) -> RenderableType:
    rewards = reward_series(view)
    if not rewards:
        return boxed("Reward", not_available("no rewards yet (training not running)"), height)
    inner_w, inner_h = max(1, width - 4), max(1, height - 3)
    lo, hi = min(rewards), max(rewards)
    chart = Text("\n".join(column_chart(rewards, inner_w, inner_h)), style="green")
    caption = Text(f"last {rewards[-1]:.3f}  min {lo:.3f}  max {hi:.3f}  over {len(rewards)} rounds", style="dim")
    caption.truncate(inner_w, overflow="ellipsis")
    return boxed("Reward", Group(chart, caption), height)


def network_panel(view: PeerView, width: int, height: int) -> RenderableType:
    node = f.as_map(snap(view).get("node"))
    if node is None:
        return boxed("Rollouts", not_available(), height)
    out_total, in_total = rollout_totals(view)
    rows: list[tuple[str, RenderableType | str]] = [("rollouts", _rollouts_text(view, out_total, in_total))]
    rows.append(("messages", f"out {f.fmt_int(f.sum_counts(node.get('published')))} · in {f.fmt_int(f.sum_counts(node.get('received')))}"))
    latency = f.as_map(node.get("latency")) or {}
    rows.append(("latency", f"p50 {f.fmt_ms(latency.get('p50_ms'))} · p95 {f.fmt_ms(latency.get('p95_ms'))}"))
    rejected = f.as_map(node.get("rejected")) or {}
    reasons = sorted(((k, f.as_int(v) or 0) for k, v in rejected.items()), key=lambda kv: -kv[1])
    rows.append(("rejected", ", ".join(f"{f.as_str(k, 24)} {n:,}" for k, n in reasons[:3]) or "0"))
    dropped = f.sum_counts(node.get("dropped"))
    if dropped:
        rows.append(("dropped", Text(f"{dropped:,}", style="yellow")))
    batches = f.as_map(snap(view).get("batches")) or {}
    if batches:
        rows.append(("bytes", f"out {f.fmt_bytes(batches.get('published_bytes'))} · in {f.fmt_bytes(batches.get('received_bytes'))}"))
    return boxed("Rollouts", _kv(rows[: max(1, height - 2)]), height)


# -- peers ---------------------------------------------------------------------------------------


def _caps_summary(caps: Any) -> str:
    caps = f.as_map(caps)
    if caps is None:
        return "-"
    kind = f.as_str(caps.get("device_kind"), 8) or "?"
    model = f.as_str(caps.get("model"), 24)
    return kind + (f" {model}" if model else "")


def peers_panel(view: PeerView, width: int, height: int) -> RenderableType:
    node = f.as_map(snap(view).get("node"))
    if node is None:
        return boxed("Peers", not_available(), height)
    connected = [p for p in (f.as_list(node.get("connected_peers")) or []) if isinstance(p, str)]
    caps = f.as_map(node.get("capabilities")) or {}
    scores = f.as_map(node.get("peer_scores")) or {}
    known = sorted(set(connected) | {k for k in caps if isinstance(k, str)}, key=lambda p: (p not in connected, p))
    title = f"Peers ({len(connected)} connected)"
    if not known:
        return boxed(title, not_available("no peers yet"), height)
    id_width = 14 if width < 70 else 20
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False, header_style="dim")
    table.add_column("peer", no_wrap=True, width=id_width)
    table.add_column("device", no_wrap=True, overflow="ellipsis", ratio=1)
    if width >= 56:
        table.add_column("score", justify="right", no_wrap=True)
    table.add_column("seen", justify="right", no_wrap=True)
    rows = max(1, height - 3)  # borders and the column header
    shown = known if len(known) <= rows else known[: rows - 1]
    for peer in shown:
        info = f.as_map(caps.get(peer)) or {}
        style = "" if peer in connected else "dim"
        cells = [f.short_id(peer, id_width), _caps_summary(info.get("capabilities"))]
        if width >= 56:
            cells.append(f.fmt_num(scores.get(peer), 1))
        cells.append(f.fmt_ago(info.get("last_seen_ms"), view.now_s).replace(" ago", ""))
        table.add_row(*cells, style=style)
    if len(shown) < len(known):
        table.add_row(Text(f"… {len(known) - len(shown)} more", style="dim"))
    return boxed(title, table, height)


# -- claims, games, stake ------------------------------------------------------------------------


def claims_panel(view: PeerView, width: int, height: int) -> RenderableType:
    claims = f.as_map(snap(view).get("claims"))
    if claims is None:
        return boxed("Claims", not_available(), height)
    row = Text()
    for key, style in (("pending", "yellow"), ("finalized", "green"), ("challenged", "red"), ("slashed", "bold red")):
        if key in claims or key != "slashed":
            row.append(f"{key} ", style="dim")
            row.append(f"{f.fmt_int(claims.get(key))}  ", style=style)
    parts: list[RenderableType] = [row]
    last = f.as_map(claims.get("last"))
    if last and height > 3:
        parts.append(Text(f"last: round {f.fmt_int(last.get('round'))} {f.as_str(last.get('status'), 20) or ''}", style="dim"))
    return boxed("Claims", Group(*parts), height)


def stake_panel(view: PeerView, width: int, height: int) -> RenderableType:
    chain = f.as_map(snap(view).get("chain"))
    if chain is None:
        return boxed("Stake", not_available("not available (no chain)"), height)
    decimals = chain.get("decimals", 18)
    symbol = f.as_str(chain.get("symbol"), 8) or "AI"
    rows: list[tuple[str, RenderableType | str]] = [
        ("stake", Text(f.fmt_tokens(chain.get("stake"), decimals, symbol), style="bold")),
        ("balance", f.fmt_tokens(chain.get("balance"), decimals, symbol)),
    ]
    block = chain.get("block")
    if block is not None:
        rows.append(("block", f.fmt_int(block)))
    if chain.get("account") is not None and height > 5:
        rows.append(("account", f.short_addr(chain.get("account"))))
    return boxed("Stake", _kv(rows[: max(1, height - 2)]), height)


def _clock(seconds: Any, running: bool) -> Text:
    value = f.as_num(seconds)
    if value is None:
        return Text("-", style="dim")
    text = f"{int(value) // 60}:{int(value) % 60:02d}"
    return Text(text, style="bold yellow" if running else "")


def games_panel(view: PeerView, width: int, height: int) -> RenderableType:
    games = f.as_list(snap(view).get("games"))
    if games is None:
        return boxed("Games", not_available(), height)
    games = [g for g in games if isinstance(g, Mapping)]
    if not games:
        return boxed("Games", not_available("no disputes"), height)
    # Open games first (they have running clocks); then the newest resolved ones.
    games = [g for g in games if _game_open(g)] + [g for g in reversed(games) if not _game_open(g)]
    active = sum(1 for g in games if _game_open(g))
    roomy = width >= 72  # below that the opponent column goes: clocks matter more
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False, header_style="dim")
    table.add_column("game", no_wrap=True, overflow="ellipsis", max_width=10)
    table.add_column("role", no_wrap=True, overflow="ellipsis", max_width=10)
    if roomy:
        table.add_column("vs", no_wrap=True, overflow="ellipsis", max_width=12)
    table.add_column("lvl", justify="right", no_wrap=True)
    table.add_column("position", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("mine", justify="right", no_wrap=True, min_width=5)
    table.add_column("theirs", justify="right", no_wrap=True, min_width=6)
    rows = max(1, height - 3)
    for game in games[:rows]:
        my_turn = game.get("turn") == "self"
        cells: list[RenderableType] = [f.short_id(game.get("id"), 8), f.as_str(game.get("role"), 10) or "-"]
        if roomy:
            cells.append(f.short_id(game.get("opponent"), 10))
        if _game_open(game):
            cells += [
                f.fmt_int(game.get("level")), f.as_str(game.get("position"), 40) or "-",
                _clock(game.get("clock_self_s"), my_turn), _clock(game.get("clock_other_s"), game.get("turn") == "other"),
            ]
        else:
            cells += [f.fmt_int(game.get("level")), _outcome(game), "", ""]
        table.add_row(*cells)
    title = f"Games ({active} open, {len(games) - active} over)" if active != len(games) else f"Games ({len(games)})"
    return boxed(title, table, height)


def _game_open(game: Mapping[str, Any]) -> bool:
    # A snapshot without `status` predates resolved games in the list: every game is open.
    status = game.get("status")
    return status is None or status == "open"


def _outcome(game: Mapping[str, Any]) -> Text:
    won = game.get("won")
    how = " (timeout)" if game.get("by_timeout") is True else ""
    if won is True:
        return Text("won" + how, style="bold green")
    if won is False:
        return Text("lost" + how, style="bold red")
    return Text(f.as_str(game.get("status"), 20) or "over", style="dim")


# -- log tail -------------------------------------------------------------------------------------


def describe_event(event: Mapping[str, Any]) -> str:
    kind = f.as_str(event.get("type"), 32) or "event"
    if kind == "round":
        return f"round {f.fmt_int(event.get('round'))} started"
    if kind == "published":
        return f"published round {f.fmt_int(event.get('round'))} ({f.fmt_bytes(event.get('bytes'))})"
    if kind == "received":
        return (f"received round {f.fmt_int(event.get('round'))} from {f.short_id(event.get('from'), 10)}"
                f" ({f.fmt_bytes(event.get('bytes'))}, {f.fmt_ms(event.get('latency_ms'))})")
    if kind == "phase":
        return f"phase {f.as_str(event.get('phase'), 24) or '?'}"
    if kind == "events-dropped":
        return f"{f.fmt_int(event.get('count'))} events dropped (dashboard too slow)"
    if kind == "log":
        return f"{f.as_str(event.get('level'), 8) or 'info'}: {f.as_str(event.get('text')) or ''}"
    rest = " ".join(
        f"{k}={f.as_str(v, 24) if isinstance(v, str) else v}" for k, v in event.items()
        if k not in ("type", "ts_ms") and isinstance(v, (str, int, float, bool))
    )
    return f"{kind} {rest}".strip()


def log_panel(view: PeerView, width: int, height: int) -> RenderableType:
    rows = max(1, height - 2)
    # The peer's own error list (e.g. "not meshed after 60 s") is what an operator most needs
    # to see: its last two take the bottom rows, in red, whatever the event stream says.
    errors = [e for e in (f.as_list(snap(view).get("errors")) or []) if isinstance(e, str)][-2:]
    errors = errors[: max(0, rows - 1)]
    error_lines = []
    for error in errors:
        line = Text(f"error: {f.as_str(error)}", style="red")
        line.truncate(max(1, width - 4), overflow="ellipsis")
        error_lines.append(line)
    if not view.events:
        return boxed("Log", Group(not_available("no events yet"), *error_lines), height)
    lines = []
    for event in list(view.events)[-(rows - len(error_lines)):]:
        stamp = f.as_num(event.get("ts_ms"))
        when = f.fmt_clock(stamp / 1000) if stamp is not None else "--:--:--"
        line = Text.assemble((when + " ", "dim"), describe_event(event))
        line.truncate(max(1, width - 4), overflow="ellipsis")
        lines.append(line)
    return boxed("Log", Group(*lines, *error_lines), height)
