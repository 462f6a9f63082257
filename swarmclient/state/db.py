"""A peer's state database: SQLite in WAL mode, one file (Home.database).

Threading: ONE connection, opened with check_same_thread=False and guarded by a lock. trio
callers go through `await db.call(db.method, ...)`, which runs the method in
trio.to_thread.run_sync; that pool may pick any worker thread, so a connection per thread
would mean several connections (and WAL read snapshots) for one process, with no way to keep
a transaction on one of them. SQLite admits one writer at a time anyway, and our writes are a
handful per round, so a lock costs nothing and keeps every transaction on one connection.

Durability: `synchronous=FULL`, so a commit has reached the disk (the WAL is fsynced) before
the call returns. That is what lets the round loop gossip or send a claim to the chain right
after `complete_round` returns: a power cut afterwards cannot lose it. The price is one fsync
per transaction, a few per round; batch peer updates (`upsert_peers` takes many).

Opening never repairs: a file that is not SQLite, cut short, fails `PRAGMA quick_check` or has
a schema version newer than this code is a SwarmError naming `swarm state recover`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable, TypeVar

from swarmclient.errors import SwarmError
from swarmclient.state.integrity import StateProblem, fsync_dir, problem, read_header, run_check
from swarmclient.state.records import (
    CLAIM_TRANSITIONS,
    ClaimRow,
    ClaimStatus,
    GameRow,
    GameStatus,
    PeerRow,
    RoundPhase,
    RoundResult,
    RoundRow,
)
from swarmclient.state.schema import LATEST, MIGRATIONS, TABLES

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000

_ROUND_COLS = ("round, phase, started_at, finished_at, ckpt_before, ckpt_after, local_samples, external_samples, "
               "external_peers, reward_mean, loss, error")
_CLAIM_COLS = ("digest, round, body, ckpt_before, ckpt_after, status, tx_hash, block, detail, created_at, updated_at, "
               "published_at, chain_key, epoch")
_GAME_COLS = ("game_id, role, claim_digest, level, lo, hi, claimant_clock, challenger_clock, turn, status, last_move, "
              "last_move_at, updated_at, ckpt_before, ckpt_after")


def _hash32(value: bytes, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise SwarmError("state-bad-value", f"{what} must be a 32-byte hash")
    return bytes(value)


def _statements(script: str) -> list[str]:
    # Our migrations hold no string literals or triggers, so ';' always ends a statement.
    return [s.strip() for s in script.split(";") if s.strip()]


def _connect(path: Path) -> sqlite3.Connection:
    # mode=rw: never create a file here (creation goes through _create's atomic rename).
    conn = sqlite3.connect(
        path.resolve().as_uri() + "?mode=rw", uri=True, check_same_thread=False, isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _migrate(conn: sqlite3.Connection, start: int) -> None:
    for version in range(start, LATEST):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _create(path: Path) -> None:
    """A new database, built under a temporary name and renamed whole: no partial file can
    ever sit at `path`, so an empty or cut-short state.sqlite is always an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        stale.unlink(missing_ok=True)  # left by a crash during an earlier creation: never ours to keep
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        _migrate(conn, 0)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _check_schema(conn: sqlite3.Connection, path: Path) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version > LATEST:
        raise problem(StateProblem.SCHEMA_NEWER, path,
                      f"schema version {version} is newer than this swarm understands ({LATEST})")
    if version == 0 and names:
        raise problem(StateProblem.SCHEMA_UNKNOWN, path,
                      f"an SQLite file with tables {sorted(names)[:5]} but no swarm schema version")
    if version > 0:
        missing = [t for t in TABLES if t not in names]
        if missing:
            raise problem(StateProblem.SCHEMA_UNKNOWN, path, f"schema version {version} but tables {missing} are missing")
    return version


class StateDB:
    """All reads and writes of one peer's state database (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, create: bool = True, full_check: bool = False, migrate: bool = True
    ) -> "StateDB":
        """Open (creating when missing and `create`), check, migrate. SwarmError on any problem,
        raised before anything is written to the file. `migrate=False` (inspection commands)
        leaves an older schema as it is: check `user_version` before using the tables."""
        path = Path(path)
        if not path.exists():
            wal = Path(f"{path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                # The log of a database that is gone: a new file here would replay it.
                raise problem(StateProblem.TRUNCATED, path, f"the file is missing but its write-ahead log {wal.name} is there")
            if not create:
                raise SwarmError("state-missing", f"{path} does not exist (a peer creates it on its first run)")
            _create(path)
        read_header(path)
        try:
            conn = _connect(path)
        except sqlite3.Error as exc:
            raise problem(StateProblem.UNREADABLE, path, f"cannot open: {exc}") from None
        try:
            try:
                run_check(conn, path, full=full_check)
                version = _check_schema(conn, path)
            except sqlite3.DatabaseError as exc:
                raise problem(StateProblem.CORRUPT, path, str(exc)) from None
            conn.execute("PRAGMA synchronous = FULL")
            if migrate:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise SwarmError("state-wal", f"{path}: SQLite refused WAL mode (got {mode!r}); is it on a network file system?")
                _migrate(conn, version)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "StateDB":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one of this object's methods from trio without blocking the event loop."""
        import trio

        return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def pragma(self, name: str) -> Any:
        if not name.replace("_", "").isalpha():
            raise SwarmError("state-bad-value", f"not a pragma name: {name!r}")
        return self._rows(f"PRAGMA {name}")[0][0]

    @property
    def user_version(self) -> int:
        return int(self.pragma("user_version"))

    def check(self, *, full: bool = False) -> None:
        """quick_check (or the full integrity_check) of the open database."""
        with self._lock:
            run_check(self._conn, self.path, full=full)

    # -- rounds --------------------------------------------------------------------------

    @staticmethod
    def _round(row: tuple) -> RoundRow:
        return RoundRow(row[0], RoundPhase(row[1]), *row[2:])

    def round(self, r: int) -> RoundRow | None:
        rows = self._rows(f"SELECT {_ROUND_COLS} FROM rounds WHERE round = ?", (r,))
        return self._round(rows[0]) if rows else None

    def rounds(self, limit: int = 100, *, phase: RoundPhase | None = None) -> list[RoundRow]:
        """The last `limit` rounds (only those in `phase`, when given), oldest first."""
        where, args = ("WHERE phase = ?", (phase.value,)) if phase is not None else ("", ())
        rows = self._rows(f"SELECT {_ROUND_COLS} FROM rounds {where} ORDER BY round DESC LIMIT ?", (*args, limit))
        return [self._round(r) for r in reversed(rows)]

    def last_finished_round(self) -> int | None:
        """The highest round that is done or failed (None before any)."""
        return self._rows("SELECT max(round) FROM rounds WHERE phase != 'started'")[0][0]

    def last_completed_round(self) -> RoundRow | None:
        rows = self._rows(f"SELECT {_ROUND_COLS} FROM rounds WHERE phase = 'done' ORDER BY round DESC LIMIT 1")
        return self._round(rows[0]) if rows else None

    def begin_round(self, r: int, ckpt_before: bytes, *, rebase: bool = False, now: float | None = None) -> None:
        """Record that round r starts from `ckpt_before`. A round already done cannot start again;
        `ckpt_before` must be the last completed round's checkpoint after, unless `rebase`
        (the peer deliberately moved to another checkpoint, e.g. one fetched from the swarm)."""
        ckpt_before = _hash32(ckpt_before, "ckpt_before")
        with self._write() as c:
            old = c.execute("SELECT phase FROM rounds WHERE round = ?", (r,)).fetchone()
            if old and old[0] == RoundPhase.DONE.value:
                raise SwarmError("round-done", f"round {r} is already completed; resume from round {r + 1}")
            last = c.execute("SELECT round, ckpt_after FROM rounds WHERE phase = 'done' ORDER BY round DESC LIMIT 1").fetchone()
            if last is not None and last[0] > r:
                raise SwarmError("round-order", f"round {r} starts after round {last[0]} was completed")
            if not rebase:
                expected = bytes(last[1]) if last is not None else self._get_in(c, "checkpoint.initial")
                expected = bytes.fromhex(expected) if isinstance(expected, str) else expected
                if expected is not None and expected != ckpt_before:
                    raise SwarmError(
                        "state-mismatch",
                        f"round {r} would start from {ckpt_before.hex()[:16]}, but the last completed state is "
                        f"{expected.hex()[:16]} (pass rebase=True to move deliberately)",
                    )
            c.execute(
                "INSERT INTO rounds (round, phase, started_at, ckpt_before) VALUES (?, 'started', ?, ?) "
                "ON CONFLICT(round) DO UPDATE SET phase = 'started', started_at = excluded.started_at, "
                "finished_at = NULL, ckpt_before = excluded.ckpt_before, ckpt_after = NULL, error = ''",
                (r, time.time() if now is None else now, ckpt_before),
            )

    def complete_round(self, r: int, result: RoundResult, claim: Any | None = None, *, now: float | None = None) -> ClaimRow | None:
        """Atomically: round r is done with `result.ckpt_after` (already saved in the checkpoint
        store) AND its claim (a protocol.wire.Claim) is recorded as `prepared`. Call it
        BEFORE publishing the claim; once it returns, both survive a crash or power cut."""
        ckpt_after = _hash32(result.ckpt_after, "ckpt_after")
        now = time.time() if now is None else now
        with self._write() as c:
            row = c.execute("SELECT phase, ckpt_before FROM rounds WHERE round = ?", (r,)).fetchone()
            if row is None or row[0] != RoundPhase.STARTED.value:
                raise SwarmError("round-not-started", f"round {r} is {row[0] if row else 'unknown'}, not started")
            if claim is not None and (claim.round != r or claim.ckpt_after != ckpt_after or claim.ckpt_before != bytes(row[1])):
                raise SwarmError("state-mismatch", f"the claim ({claim.summary()}) is not round {r}'s update")
            c.execute(
                "UPDATE rounds SET phase = 'done', finished_at = ?, ckpt_after = ?, local_samples = ?, "
                "external_samples = ?, external_peers = ?, reward_mean = ?, loss = ?, error = '' WHERE round = ?",
                (now, ckpt_after, result.local_samples, result.external_samples, result.external_peers,
                 result.reward_mean, result.loss, r),
            )
            if claim is None:
                return None
            self._insert_claim(c, claim, ClaimStatus.PREPARED, now)
        return self.claim(claim.digest())

    def fail_round(self, r: int, error: str, *, now: float | None = None) -> None:
        """The update of round r raised: the checkpoint did not change, the loop goes on."""
        with self._write() as c:
            c.execute(
                "UPDATE rounds SET phase = 'failed', finished_at = ?, ckpt_after = NULL, error = ? "
                "WHERE round = ? AND phase = 'started'",
                (time.time() if now is None else now, error[:500], r),
            )

    # -- claims --------------------------------------------------------------------------

    @staticmethod
    def _insert_claim(c: sqlite3.Connection, claim: Any, status: ClaimStatus, now: float) -> None:
        c.execute(
            "INSERT INTO claims (digest, round, body, ckpt_before, ckpt_after, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(digest) DO NOTHING",
            (claim.digest(), claim.round, claim.encode(), claim.ckpt_before, claim.ckpt_after, status.value, now, now),
        )

    def add_claim(self, claim: Any, status: ClaimStatus = ClaimStatus.PREPARED, *, now: float | None = None) -> ClaimRow:
        """Record a claim outside complete_round (recovery rebuilds them from manifests)."""
        with self._write() as c:
            self._insert_claim(c, claim, status, time.time() if now is None else now)
        return self.claim(claim.digest())

    @staticmethod
    def _claim(row: tuple) -> ClaimRow:
        return ClaimRow(bytes(row[0]), row[1], bytes(row[2]), bytes(row[3]), bytes(row[4]), ClaimStatus(row[5]), *row[6:12],
                        bytes(row[12]) if row[12] is not None else None, row[13])

    def claim(self, digest: bytes) -> ClaimRow | None:
        rows = self._rows(f"SELECT {_CLAIM_COLS} FROM claims WHERE digest = ?", (bytes(digest),))
        return self._claim(rows[0]) if rows else None

    def claims(self, status: ClaimStatus | Iterable[ClaimStatus] | None = None, *, limit: int = 1000) -> list[ClaimRow]:
        """Claims by round (oldest first), optionally only those in the given status(es)."""
        if status is None:
            rows = self._rows(f"SELECT {_CLAIM_COLS} FROM claims ORDER BY round DESC, created_at DESC LIMIT ?", (limit,))
        else:
            wanted = [status] if isinstance(status, ClaimStatus) else list(status)
            marks = ", ".join("?" * len(wanted))
            rows = self._rows(
                f"SELECT {_CLAIM_COLS} FROM claims WHERE status IN ({marks}) ORDER BY round DESC, created_at DESC LIMIT ?",
                (*[s.value for s in wanted], limit),
            )
        return [self._claim(r) for r in reversed(rows)]

    def unsettled_claims(self) -> list[ClaimRow]:
        """Every claim the chain has not decided yet: what a restart reconciles."""
        return self.claims([s for s in ClaimStatus if not s.settled], limit=1_000_000)

    def claim_counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in ClaimStatus}
        counts.update({status: n for status, n in self._rows("SELECT status, count(*) FROM claims GROUP BY status")})
        return counts

    def mark_published(self, digest: bytes, *, now: float | None = None) -> None:
        """The claim went out on gossip (informative; gossip is not durable anywhere else)."""
        with self._write() as c:
            c.execute("UPDATE claims SET published_at = ? WHERE digest = ?", (time.time() if now is None else now, bytes(digest)))

    def set_claim_status(
        self,
        digest: bytes,
        status: ClaimStatus,
        *,
        tx_hash: str | None = None,
        block: int | None = None,
        detail: str | None = None,
        chain_key: bytes | None = None,
        epoch: int | None = None,
        now: float | None = None,
    ) -> ClaimRow:
        """Move a claim along its lifecycle (records.CLAIM_TRANSITIONS); the same status again
        just updates the given fields. SwarmError(claim-transition) for an illegal move."""
        with self._write() as c:
            row = c.execute("SELECT status FROM claims WHERE digest = ?", (bytes(digest),)).fetchone()
            if row is None:
                raise SwarmError("claim-unknown", f"no claim {bytes(digest).hex()[:16]} in the state database")
            old = ClaimStatus(row[0])
            if status is not old and status not in CLAIM_TRANSITIONS[old]:
                raise SwarmError("claim-transition", f"claim {bytes(digest).hex()[:16]}: {old.value} -> {status.value} is not allowed")
            c.execute(
                "UPDATE claims SET status = ?, tx_hash = coalesce(?, tx_hash), block = coalesce(?, block), "
                "detail = coalesce(?, detail), chain_key = coalesce(?, chain_key), epoch = coalesce(?, epoch), "
                "updated_at = ? WHERE digest = ?",
                (status.value, tx_hash, block, detail, chain_key, epoch, time.time() if now is None else now, bytes(digest)),
            )
        return self.claim(digest)

    # -- peers ---------------------------------------------------------------------------

    def upsert_peers(self, peers: Iterable[PeerRow]) -> None:
        """Insert or refresh peers in one transaction (first_seen kept, last_seen moves forward)."""
        with self._write() as c:
            for p in peers:
                c.execute(
                    "INSERT INTO peers (peer_id, addrs, capabilities, first_seen, last_seen, score) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(peer_id) DO UPDATE SET addrs = excluded.addrs, capabilities = excluded.capabilities, "
                    "first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen), "
                    "score = excluded.score",
                    (p.peer_id, json.dumps(list(p.addrs)), json.dumps(_jsonable(p.capabilities), sort_keys=True),
                     p.first_seen, p.last_seen, p.score),
                )

    def peers(self, limit: int = 10_000) -> list[PeerRow]:
        rows = self._rows("SELECT peer_id, addrs, capabilities, first_seen, last_seen, score FROM peers "
                          "ORDER BY last_seen DESC LIMIT ?", (limit,))
        return [PeerRow(r[0], tuple(json.loads(r[1])), json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    # -- games ---------------------------------------------------------------------------

    def upsert_game(self, game: GameRow, *, now: float | None = None) -> None:
        """Write a game's whole state after every move (ours or the opponent's)."""
        with self._write() as c:
            values = dataclasses.astuple(dataclasses.replace(game, updated_at=time.time() if now is None else now))
            values = (*values[:2], _hash32(values[2], "claim_digest"), *values[3:9], game.status.value, *values[10:])
            c.execute(
                f"INSERT INTO games ({_GAME_COLS}) VALUES ({', '.join('?' * 15)}) ON CONFLICT(game_id) DO UPDATE SET "
                + ", ".join(f"{col.strip()} = excluded.{col.strip()}" for col in _GAME_COLS.split(",")[1:]),
                values,
            )

    @staticmethod
    def _game(row: tuple) -> GameRow:
        ckpts = tuple(bytes(h) if h is not None else None for h in row[13:15])
        return GameRow(row[0], row[1], bytes(row[2]), *row[3:9], GameStatus(row[9]), *row[10:13], *ckpts)

    def game(self, game_id: int) -> GameRow | None:
        rows = self._rows(f"SELECT {_GAME_COLS} FROM games WHERE game_id = ?", (game_id,))
        return self._game(rows[0]) if rows else None

    def games(self, *, open_only: bool = False, limit: int = 1000) -> list[GameRow]:
        where = "WHERE status = 'open'" if open_only else ""
        rows = self._rows(f"SELECT {_GAME_COLS} FROM games {where} ORDER BY game_id DESC LIMIT ?", (limit,))
        return [self._game(r) for r in reversed(rows)]

    def open_games(self) -> list[GameRow]:
        return self.games(open_only=True, limit=1_000_000)

    # -- settings (kv) ---------------------------------------------------------------------

    @staticmethod
    def _get_in(c: sqlite3.Connection, key: str) -> Any:
        row = c.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            value = self._get_in(self._conn, key)
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        """A JSON value under `key` (never secrets: keys live in identity/, mode 0600)."""
        with self._write() as c:
            c.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, json.dumps(value, sort_keys=True)))

    def set_initial_checkpoint(self, ckpt_hash: bytes) -> None:
        """The checkpoint round 0 starts from (the warm start); begin_round checks against it."""
        self.set("checkpoint.initial", _hash32(ckpt_hash, "initial checkpoint").hex())

    def initial_checkpoint(self) -> bytes | None:
        value = self.get("checkpoint.initial")
        return bytes.fromhex(value) if value else None

    # -- recovery ------------------------------------------------------------------------

    def columns(self, table: str) -> list[str]:
        if table not in TABLES:
            raise SwarmError("state-bad-value", f"no table {table!r}")
        return [r[1] for r in self._rows(f"PRAGMA table_info({table})")]

    def restore(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows salvaged or rebuilt by `swarm state recover` (columns this schema does
        not have are dropped; an existing row with the same key is replaced). Returns the count."""
        known = set(self.columns(table))
        n = 0
        with self._write() as c:
            for row in rows:
                cols = [k for k in row if k in known]
                if not cols:
                    continue
                c.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                          tuple(row[k] for k in cols))
                n += 1
        return n

    def rewind_rounds(self, after: int | None, reason: str) -> list[int]:
        """Mark every completed round after `after` (all, when None) as failed with `reason`:
        their checkpoints are lost, so the next round starts from round `after`'s. Their claims
        stay (the chain may hold them) and are still reconciled. Returns the rounds rewound."""
        with self._write() as c:
            where, args = ("round > ?", (after,)) if after is not None else ("1", ())
            rounds = [r[0] for r in c.execute(f"SELECT round FROM rounds WHERE phase = 'done' AND {where}", args)]
            c.execute(f"UPDATE rounds SET phase = 'failed', ckpt_after = NULL, error = ? WHERE phase = 'done' AND {where}",
                      (reason, *args))
        return rounds

    # -- summary -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        last = self.last_completed_round()
        count = {t: self._rows(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}
        return {
            "path": str(self.path),
            "schema_version": self.user_version,
            "journal_mode": self.pragma("journal_mode"),
            "rows": count,
            "last_completed_round": last.round if last else None,
            "checkpoint": last.ckpt_after.hex() if last and last.ckpt_after else None,
            "claims": self.claim_counts(),
            "open_games": len(self.open_games()),
        }


def _jsonable(value: Any) -> Any:
    """Capabilities (a wire dataclass) or plain data, as JSON-ready data (bytes as hex)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return value


__all__ = ["StateDB"]
