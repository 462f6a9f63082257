"""`swarm state recover`: the explicit, never automatic, repair of a peer's state.

1. A database that fails its checks is moved aside (with its -wal and -shm) to
   `state.sqlite.corrupt-<UTC time>`, never deleted;
2. whatever rows can still be read from it are salvaged, table by table, row by row;
3. a fresh database is rebuilt: rounds and claims from the checkpoint manifests (every
   checkpoint verified first), overlaid with the salvaged rows (they carry chain status,
   metrics, peers, games);
4. with a healthy database, rounds whose checkpoints are lost are rewound (marked failed) so
   the peer resumes from the newest checkpoint that verifies.
Claims rebuilt from manifests come back as `prepared`: the runtime reconciles them with the
chain on its next start, which is the authority on what was posted.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.state.checkpoints import CheckpointStore
from swarmclient.state.db import StateDB
from swarmclient.state.integrity import StateProblem
from swarmclient.state.records import RoundPhase
from swarmclient.state.schema import TABLES

# Reasons `recover` may act on without --force. A newer schema is probably a healthy file
# from a newer swarm: upgrading is the fix, moving it aside needs --force.
MOVABLE = {p.value for p in StateProblem} - {StateProblem.SCHEMA_NEWER.value, StateProblem.UNREADABLE.value}


@dataclass
class RecoveryReport:
    problem: str = ""  # the reason the database was unusable ('' when it was healthy)
    moved_to: str | None = None
    salvaged: dict[str, int] = field(default_factory=dict)
    rebuilt_rounds: int = 0
    rebuilt_claims: int = 0
    rewound_rounds: list[int] = field(default_factory=list)
    bad_checkpoints: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.moved_to or self.rewound_rounds)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "changed": self.changed}


def _salvage(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row still readable from a damaged database (best effort, read-only)."""
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return out
    try:
        for table in TABLES:
            rows: list[dict[str, Any]] = []
            try:
                cur = conn.execute(f"SELECT * FROM {table}")
                names = [d[0] for d in cur.description]
                while True:
                    row = cur.fetchone()
                    if row is None:
                        break
                    rows.append(dict(zip(names, row)))
            except sqlite3.DatabaseError:
                pass  # keep the rows read before the damage
            if rows:
                out[table] = rows
    finally:
        conn.close()
    return out


def _move_aside(db_path: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = db_path.with_name(f"{db_path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = db_path.with_name(f"{db_path.name}.corrupt-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):  # they belong to the moved file: a fresh database must not see them
        side = Path(f"{db_path}{suffix}")
        if side.exists():
            side.rename(Path(f"{target}{suffix}"))
    if db_path.exists():
        db_path.rename(target)
    return target


def _rebuild(db: StateDB, store: CheckpointStore, salvaged: dict[str, list[dict[str, Any]]], report: RecoveryReport) -> None:
    good: set[bytes] = set()
    for h, problem in store.scan():
        if problem:
            report.bad_checkpoints.append(h.hex())
        else:
            good.add(h)
    # Salvaged rows first; a done round counts only if its checkpoint verifies.
    rounds = {}
    for row in salvaged.get("rounds", []):
        after = row.get("ckpt_after")
        if row.get("phase") == RoundPhase.DONE.value and (after is None or bytes(after) not in good):
            continue
        if row.get("phase") in (RoundPhase.DONE.value, RoundPhase.FAILED.value):
            rounds[row["round"]] = row
    claims = {bytes(row["digest"]): row for row in salvaged.get("claims", []) if row.get("digest") is not None}
    initial = None
    for h in good:
        m = store.manifest(h)
        if m is None:
            continue
        if m.round is None:
            initial = initial or h
            continue
        if m.round not in rounds:
            rounds[m.round] = {"round": m.round, "phase": "done", "started_at": m.saved_at, "finished_at": m.saved_at,
                               "ckpt_before": m.ckpt_before, "ckpt_after": h,
                               "error": "rebuilt from the checkpoint store"}
            report.rebuilt_rounds += 1
        if m.claim is not None:
            from protocol.wire import Claim, Kind, MAX_MESSAGE_BYTES
            from protocol.wire.codec import unpack

            claim = Claim.load(unpack(m.claim, MAX_MESSAGE_BYTES[Kind.CLAIM]))
            if claim.digest() not in claims:
                claims[claim.digest()] = {"digest": claim.digest(), "round": claim.round, "body": m.claim,
                                          "ckpt_before": claim.ckpt_before, "ckpt_after": claim.ckpt_after,
                                          "status": "prepared", "detail": "rebuilt from the checkpoint store; reconcile",
                                          "created_at": m.saved_at, "updated_at": m.saved_at}
                report.rebuilt_claims += 1
    db.restore("rounds", [rounds[r] for r in sorted(rounds)])
    db.restore("claims", claims.values())
    for table in ("peers", "games", "kv"):
        if salvaged.get(table):
            db.restore(table, salvaged[table])
    if db.initial_checkpoint() is None:
        first = min(rounds.values(), key=lambda r: r["round"], default=None)
        if first is not None and first.get("ckpt_before") and bytes(first["ckpt_before"]) in good:
            db.set_initial_checkpoint(bytes(first["ckpt_before"]))
        elif initial is not None:
            db.set_initial_checkpoint(initial)


def _rewind(db: StateDB, store: CheckpointStore, report: RecoveryReport) -> None:
    done = [r for r in db.rounds(limit=1_000_000) if r.phase is RoundPhase.DONE]
    for r in reversed(done):
        try:
            store.verify(r.ckpt_after)
        except SwarmError:
            continue
        report.rewound_rounds = db.rewind_rounds(r.round, f"rewound by recover: a later checkpoint was lost")
        return
    if done:
        report.rewound_rounds = db.rewind_rounds(None, "rewound by recover: no checkpoint verifies")


def recover(db_path: str | Path, store: CheckpointStore, *, force: bool = False, now: float | None = None) -> RecoveryReport:
    """Repair the state explicitly (see the module docstring). SwarmError when the problem is
    not one recover should act on without `force` (a newer schema, an unreadable file)."""
    db_path = Path(db_path)
    report = RecoveryReport()
    try:
        db = StateDB.open(db_path, create=False)
    except SwarmError as exc:
        if exc.reason == "state-missing":
            report.problem = exc.reason
            db = StateDB.open(db_path)
            try:
                _rebuild(db, store, {}, report)
            finally:
                db.close()
            return report
        if exc.reason not in MOVABLE and not force:
            raise SwarmError(exc.reason, f"{exc.detail} (recover leaves this to you; --force moves it aside anyway)") from None
        report.problem = exc.reason
        moved = _move_aside(db_path, time.time() if now is None else now)
        report.moved_to = str(moved)
        salvaged = _salvage(moved)
        report.salvaged = {t: len(rows) for t, rows in salvaged.items()}
        db = StateDB.open(db_path)
        try:
            _rebuild(db, store, salvaged, report)
            _rewind(db, store, report)
        finally:
            db.close()
        return report
    try:
        last = db.last_completed_round()
        if last is None and db.initial_checkpoint() is None and not db.rounds(limit=1) and store.hashes():
            report.problem = "state-empty"  # a database created over an existing checkpoint store
            _rebuild(db, store, {}, report)
        elif last is not None:
            try:
                store.verify(last.ckpt_after)
            except SwarmError as exc:
                report.problem = exc.reason
                _rewind(db, store, report)
    finally:
        db.close()
    return report


__all__ = ["RecoveryReport", "recover"]
