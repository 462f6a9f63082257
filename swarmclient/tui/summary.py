"""`swarm status`: a one-shot summary of a peer's snapshot, as a flat JSON object for scripts
and as a few aligned lines for people. Absent sections are null, never guessed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from swarmclient.tui import fields as f
from swarmclient.tui import panels as p
from swarmclient.tui.view import PeerView

SUMMARY_FORMAT = "swarm-status/1"


def status_summary(snapshot: Mapping[str, Any], *, now_s: float | None = None) -> dict[str, Any]:
    now_s = time.time() if now_s is None else now_s
    view = PeerView.of(snapshot, now_s=now_s)
    node = f.as_map(snapshot.get("node")) or {}
    started = f.as_num(snapshot.get("started_ms"))
    out_total, in_total = p.rollout_totals(view)
    rewards = p.reward_series(view)
    reward = f.as_num(f.dig(snapshot, "training", "reward_mean"))
    claims = f.as_map(snapshot.get("claims"))
    chain = f.as_map(snapshot.get("chain"))
    games = f.as_list(snapshot.get("games"))
    errors = f.as_list(snapshot.get("errors"))
    current = f.as_int(f.dig(snapshot, "training", "round"))
    return {
        "format": SUMMARY_FORMAT,
        "running": True,
        "peer_id": f.as_str(snapshot.get("peer_id")),
        "account": f.as_str(f.dig(snapshot, "chain", "account")) or f.as_str(snapshot.get("address")),
        "pid": f.as_int(snapshot.get("pid")),
        "phase": f.as_str(snapshot.get("phase")),
        "uptime_s": None if started is None else round(max(0.0, now_s - started / 1000), 1),
        "round": current if current is not None else f.as_int(snapshot.get("round")),
        "rounds_total": f.as_int(snapshot.get("rounds_total")),
        "listen_addrs": [a for a in (f.as_list(node.get("listen_addrs")) or []) if isinstance(a, str)],
        "connected_peers": len(f.as_list(node.get("connected_peers")) or []) if node else None,
        "rollouts_out": out_total,
        "rollouts_in": in_total,
        "rejected": f.sum_counts(node.get("rejected")) if node else None,
        "reward_mean": reward if reward is not None else (rewards[-1] if rewards else None),
        "claims": None if claims is None else {
            k: f.as_int(claims.get(k)) for k in ("pending", "finalized", "challenged", "slashed") if k in claims
        },
        "chain": None if chain is None else {
            "stake": f.as_str(str(chain.get("stake"))) if chain.get("stake") is not None else None,
            "balance": f.as_str(str(chain.get("balance"))) if chain.get("balance") is not None else None,
            "decimals": f.as_int(chain.get("decimals", 18)),
            "block": f.as_int(chain.get("block")),
        },
        # Open games only: swarmclient.verify also lists resolved ones (with `status`).
        "games_active": None if games is None else sum(
            1 for g in games if isinstance(g, Mapping) and g.get("status") in (None, "open")
        ),
        "errors": None if errors is None else len(errors),
    }


def status_text(summary: Mapping[str, Any], snapshot: Mapping[str, Any] | None = None) -> str:
    """Aligned lines for a terminal."""
    chain_section = f.as_map(f.dig(snapshot, "chain")) or {}
    decimals = chain_section.get("decimals", 18)
    rows: list[tuple[str, str]] = [
        ("peer", summary.get("peer_id") or "?"),
        ("account", summary.get("account") or f.DASH),
        ("state", f"{summary.get('phase') or '?'} (pid {f.fmt_int(summary.get('pid'))}, up {f.fmt_duration(summary.get('uptime_s'))})"),
    ]
    r, total = summary.get("round"), summary.get("rounds_total")
    round_text = "not started" if r is None or r < 0 else f"{r + 1:,}" + (f" of {total:,}" if total else "")
    rows.append(("round", round_text))
    rows.append(("peers", f"{f.fmt_int(summary.get('connected_peers'))} connected"))
    rows.append(("rollouts", f"{f.fmt_int(summary.get('rollouts_out'))} out, {f.fmt_int(summary.get('rollouts_in'))} in, "
                             f"{f.fmt_int(summary.get('rejected'))} rejected"))
    rows.append(("reward", f.fmt_num(summary.get("reward_mean"), 3) if summary.get("reward_mean") is not None else "not available"))
    claims = summary.get("claims")
    rows.append(("claims", "not available" if claims is None else
                 ", ".join(f"{v if v is not None else '?'} {k}" for k, v in claims.items()) or "none"))
    chain = summary.get("chain")
    rows.append(("stake", "not available (no chain)" if chain is None else
                 f"{f.fmt_tokens(chain.get('stake'), decimals)} staked, {f.fmt_tokens(chain.get('balance'), decimals)} balance"))
    if summary.get("games_active"):
        rows.append(("games", f"{summary['games_active']} active"))
    for addr in summary.get("listen_addrs") or []:
        rows.append(("listen", addr))
    if summary.get("errors"):
        rows.append(("errors", f"{summary['errors']} (see the peer's log)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
