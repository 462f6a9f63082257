"""The state database's schema, one migration per version (`PRAGMA user_version`).

MIGRATIONS[i] takes a database from version i to i + 1; version 0 is an empty file. A
migration runs inside the transaction that also bumps user_version, so a crash mid-migration
leaves the old version intact. Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the base tables.
    """
    CREATE TABLE rounds (
        round            INTEGER PRIMARY KEY CHECK (round >= 0),
        phase            TEXT NOT NULL CHECK (phase IN ('started', 'done', 'failed')),
        started_at       REAL NOT NULL,
        finished_at      REAL,
        ckpt_before      BLOB NOT NULL CHECK (length(ckpt_before) = 32),
        ckpt_after       BLOB CHECK (ckpt_after IS NULL OR length(ckpt_after) = 32),
        local_samples    INTEGER NOT NULL DEFAULT 0,
        external_samples INTEGER NOT NULL DEFAULT 0,
        external_peers   INTEGER NOT NULL DEFAULT 0,
        reward_mean      REAL,
        loss             REAL,
        error            TEXT NOT NULL DEFAULT '',
        CHECK (phase != 'done' OR ckpt_after IS NOT NULL)
    );
    CREATE TABLE claims (
        digest       BLOB PRIMARY KEY CHECK (length(digest) = 32),
        round        INTEGER NOT NULL,
        body         BLOB NOT NULL,
        ckpt_before  BLOB NOT NULL,
        ckpt_after   BLOB NOT NULL,
        status       TEXT NOT NULL,
        tx_hash      TEXT NOT NULL DEFAULT '',
        block        INTEGER,
        detail       TEXT NOT NULL DEFAULT '',
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL,
        published_at REAL
    );
    CREATE INDEX claims_round ON claims(round);
    CREATE TABLE peers (
        peer_id      TEXT PRIMARY KEY,
        addrs        TEXT NOT NULL DEFAULT '[]',
        capabilities TEXT NOT NULL DEFAULT '{}',
        first_seen   REAL NOT NULL,
        last_seen    REAL NOT NULL,
        score        REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE games (
        game_id          INTEGER PRIMARY KEY,
        role             TEXT NOT NULL CHECK (role IN ('claimant', 'challenger')),
        claim_digest     BLOB NOT NULL,
        level            INTEGER NOT NULL DEFAULT 1,
        lo               INTEGER NOT NULL DEFAULT 0,
        hi               INTEGER NOT NULL DEFAULT 0,
        claimant_clock   REAL,
        challenger_clock REAL,
        turn             TEXT NOT NULL DEFAULT '',
        status           TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
        last_move        TEXT NOT NULL DEFAULT '',
        last_move_at     REAL,
        updated_at       REAL NOT NULL
    );
    CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2: claims are committed on-chain in epoch batches (a Merkle root over many
    # rounds' claims), so a claim remembers its ledger record key and epoch; a game keeps
    # the disputed checkpoints (a challenger's are another peer's, absent from `claims`) so
    # garbage collection never deletes them mid-game; reconciliation filters by status.
    """
    ALTER TABLE claims ADD COLUMN chain_key BLOB;
    ALTER TABLE claims ADD COLUMN epoch INTEGER;
    ALTER TABLE games ADD COLUMN ckpt_before BLOB;
    ALTER TABLE games ADD COLUMN ckpt_after BLOB;
    CREATE INDEX claims_status ON claims(status);
    CREATE INDEX games_status ON games(status);
    """,
)

LATEST = len(MIGRATIONS)
TABLES = ("rounds", "claims", "peers", "games", "kv")

__all__ = ["LATEST", "MIGRATIONS", "TABLES"]
