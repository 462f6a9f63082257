"""`swarm state check | show | recover`: inspect and, only when asked, repair a peer's state."""

from __future__ import annotations

import argparse
import json
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.home import Home


def _state():
    """Imported on use: the checkpoint store loads torch, which `swarm --help` need not pay."""
    from swarmclient import state

    return state


def _emit(data: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print("\n".join(lines))


def check_report(home: Home, *, full: bool = False) -> dict[str, Any]:
    """The integrity report `swarm state check` prints (also used by `swarm status`)."""
    state = _state()
    store = state.CheckpointStore(home.checkpoints)
    report: dict[str, Any] = {"home": str(home.root), "ok": True}
    database: dict[str, Any] = {"path": str(home.database), "ok": False}
    try:
        db = state.StateDB.open(home.database, create=False, full_check=full, migrate=False)
    except SwarmError as exc:
        database.update(reason=exc.reason, detail=exc.detail)
        report["ok"] = False
        db = None
    if db is not None:
        with db:
            database.update(ok=True, schema_version=db.user_version, latest_schema=state.SCHEMA_VERSION,
                            journal_mode=db.pragma("journal_mode"))
            if db.user_version == state.SCHEMA_VERSION:
                try:
                    report["resume"] = state.resume_point(db, store, load=False).as_json()
                except SwarmError as exc:
                    report["ok"] = False
                    report["resume"] = {"reason": exc.reason, "detail": exc.detail}
            else:
                database["note"] = f"schema version {db.user_version}: migrated on the peer's next start"
    report["database"] = database
    report["ok"] = report["ok"] and database["ok"]
    scanned = store.scan()
    report["checkpoints"] = {"path": str(store.directory), "count": len(scanned),
                             "bad": [{"hash": h.hex(), "reason": why} for h, why in scanned if why]}
    if report["checkpoints"]["bad"]:
        report["ok"] = False
    if database.get("reason") == "state-missing" and not scanned:
        report["ok"] = True  # a home no peer has run in yet: nothing to check, nothing wrong
    return report


def cmd_check(args: argparse.Namespace) -> int:
    report = check_report(Home.resolve(args.home), full=args.full)
    db = report["database"]
    lines = [f"state in {report['home']}: {'OK' if report['ok'] else 'PROBLEMS FOUND'}"]
    if db["ok"]:
        lines.append(f"  database  ok: schema {db['schema_version']}, journal {db['journal_mode']}")
    else:
        lines.append(f"  database  {db['reason']}: {db['detail']}")
    ck = report["checkpoints"]
    lines.append(f"  checkpoints  {ck['count']} stored, {len(ck['bad'])} bad")
    lines += [f"    {b['hash'][:16]}  {b['reason']}" for b in ck["bad"]]
    resume = report.get("resume")
    if resume and "next_round" in resume:
        lines.append(f"  resume  round {resume['next_round']} from {(resume['checkpoint'] or 'no checkpoint')[:16]}"
                     f"; {len(resume['unsettled_claims'])} claims to reconcile, {len(resume['open_games'])} open games")
    elif resume:
        lines.append(f"  resume  {resume['reason']}: {resume['detail']}")
    _emit(report, args.json, lines)
    return 0 if report["ok"] else 1


def cmd_show(args: argparse.Namespace) -> int:
    state = _state()
    home = Home.resolve(args.home)
    with state.StateDB.open(home.database, create=False, migrate=False) as db:
        if db.user_version != state.SCHEMA_VERSION:
            raise SwarmError("state-schema-old", f"{db.path}: schema version {db.user_version}; start the peer once to migrate it")
        data = {
            "summary": db.summary(),
            "rounds": [r.as_json() for r in db.rounds(limit=args.rounds)],
            "unsettled_claims": [c.as_json() for c in db.unsettled_claims()],
            "open_games": [g.as_json() for g in db.open_games()],
            "peers": [p.as_json() for p in db.peers(limit=args.peers)],
        }
    s = data["summary"]
    lines = [f"state {s['path']} (schema {s['schema_version']}, {s['journal_mode']})",
             f"  last completed round {s['last_completed_round']}, checkpoint {(s['checkpoint'] or '-')[:16]}",
             "  claims " + ", ".join(f"{k} {v}" for k, v in s["claims"].items()),
             f"  peers {s['rows']['peers']}, games {s['rows']['games']} ({s['open_games']} open)"]
    for r in data["rounds"]:
        reward = "-" if r["reward_mean"] is None else f"{r['reward_mean']:.3f}"
        lines.append(f"  round {r['round']:>6}  {r['phase']:<8} reward {reward:>6}  "
                     f"{r['local_samples']}+{r['external_samples']} samples  {r['error']}".rstrip())
    _emit(data, args.json, lines)
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    state = _state()
    home = Home.resolve(args.home)
    report = state.recover(home.database, state.CheckpointStore(home.checkpoints), force=args.force)
    lines = []
    if not report.problem:
        lines.append(f"{home.database}: healthy, nothing to recover")
    else:
        lines.append(f"{home.database}: {report.problem}")
    if report.moved_to:
        lines.append(f"  moved aside to {report.moved_to}")
        lines.append("  salvaged " + (", ".join(f"{t} {n}" for t, n in report.salvaged.items()) or "nothing"))
    if report.rebuilt_rounds or report.rebuilt_claims:
        lines.append(f"  rebuilt from checkpoints: {report.rebuilt_rounds} rounds, {report.rebuilt_claims} claims (reconciled with the chain on the next start)")
    if report.rewound_rounds:
        lines.append(f"  rewound rounds {report.rewound_rounds} (their checkpoints are lost)")
    if report.bad_checkpoints:
        lines.append(f"  {len(report.bad_checkpoints)} checkpoints failed verification and were ignored")
    _emit(report.as_json(), args.json, lines)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("state", help="check, show or recover this peer's durable state")
    sub = p.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    s = sub.add_parser("check", help="integrity report of the database and checkpoints (exit 1 on problems)")
    s.add_argument("--full", action="store_true", help="PRAGMA integrity_check instead of quick_check (slower)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_check)
    s = sub.add_parser("show", help="rounds, claims, games and peers in the database")
    s.add_argument("--rounds", type=int, default=10, help="how many recent rounds (default 10)")
    s.add_argument("--peers", type=int, default=20, help="how many recent peers (default 20)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)
    s = sub.add_parser("recover", help="move a damaged database aside and rebuild it from the checkpoint store")
    s.add_argument("--force", action="store_true", help="also move aside a database from a newer swarm")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_recover)


__all__ = ["check_report", "register"]
