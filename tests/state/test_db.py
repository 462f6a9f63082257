"""The state database on real SQLite files: WAL, durability settings, migrations, the round
and claim lifecycle, peers, games, settings, and use from trio."""

from __future__ import annotations

import sqlite3

import pytest
import trio

from statekit import claim_for, step_hash
from swarmclient.errors import SwarmError
from swarmclient.state import (
    SCHEMA_VERSION,
    ClaimStatus,
    GameRow,
    GameStatus,
    PeerRow,
    RoundPhase,
    RoundResult,
    StateDB,
)
from swarmclient.state.schema import MIGRATIONS


@pytest.fixture
def db(tmp_path):
    with StateDB.open(tmp_path / "state.sqlite") as d:
        d.set_initial_checkpoint(step_hash(0))
        yield d


def complete(db: StateDB, r: int, step: int) -> bytes:
    before, after = step_hash(step), step_hash(step + 1)
    db.begin_round(r, before)
    db.complete_round(r, RoundResult(after, local_samples=8, external_samples=4, reward_mean=0.5, loss=1.0),
                      claim_for(r, before, after))
    return claim_for(r, before, after).digest()


def test_new_database_is_wal_full_sync_latest_schema(tmp_path):
    path = tmp_path / "home" / "state.sqlite"
    with StateDB.open(path) as d:
        assert d.pragma("journal_mode") == "wal"
        assert d.pragma("synchronous") == 2  # FULL
        assert d.user_version == SCHEMA_VERSION == len(MIGRATIONS)
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert not (tmp_path / "home" / "state.sqlite.new").exists()


def test_open_without_create_reports_missing(tmp_path):
    with pytest.raises(SwarmError) as err:
        StateDB.open(tmp_path / "state.sqlite", create=False)
    assert err.value.reason == "state-missing"
    assert not (tmp_path / "state.sqlite").exists()


def test_migrates_from_version_zero(tmp_path):
    # Version 0: an SQLite file without tables (here one that once had a table).
    path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE scratch (x)")
    conn.execute("DROP TABLE scratch")
    conn.commit()
    conn.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 0
    with StateDB.open(path) as d:
        assert d.user_version == SCHEMA_VERSION
        assert {"chain_key", "epoch"} <= set(d.columns("claims"))


def test_migration_one_to_two_keeps_rows(tmp_path):
    path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    claim = claim_for(0, step_hash(0), step_hash(1))
    conn.execute(
        "INSERT INTO claims (digest, round, body, ckpt_before, ckpt_after, status, created_at, updated_at) "
        "VALUES (?, 0, ?, ?, ?, 'posted', 1.0, 1.0)",
        (claim.digest(), claim.encode(), claim.ckpt_before, claim.ckpt_after),
    )
    conn.close()
    with StateDB.open(path, migrate=False) as d:
        assert d.user_version == 1  # inspection leaves the schema alone
    with StateDB.open(path) as d:
        assert d.user_version == 2
        row = d.claim(claim.digest())
        assert row.status is ClaimStatus.POSTED and row.chain_key is None and row.epoch is None
        assert row.claim() == claim


def test_round_lifecycle_and_atomic_claim(db):
    digest = complete(db, 0, 0)
    row = db.round(0)
    assert row.phase is RoundPhase.DONE and row.ckpt_after == step_hash(1) and row.local_samples == 8
    claim = db.claim(digest)
    assert claim.status is ClaimStatus.PREPARED and claim.round == 0 and claim.published_at is None
    assert db.last_completed_round().round == 0
    # A completed round cannot start again, and the next must continue from its checkpoint.
    with pytest.raises(SwarmError) as err:
        db.begin_round(0, step_hash(0))
    assert err.value.reason == "round-done"
    with pytest.raises(SwarmError) as err:
        db.begin_round(1, step_hash(0))
    assert err.value.reason == "state-mismatch"
    db.begin_round(1, step_hash(0), rebase=True)  # a deliberate move is allowed
    db.fail_round(1, "empty-batch: no usable group")
    assert db.round(1).phase is RoundPhase.FAILED and db.round(1).ckpt_after is None


def test_first_round_must_start_from_initial_checkpoint(db):
    with pytest.raises(SwarmError) as err:
        db.begin_round(0, step_hash(5))
    assert err.value.reason == "state-mismatch"


def test_complete_round_rejects_a_claim_of_another_update(db):
    db.begin_round(0, step_hash(0))
    wrong = claim_for(0, step_hash(0), step_hash(9))
    with pytest.raises(SwarmError) as err:
        db.complete_round(0, RoundResult(step_hash(1)), wrong)
    assert err.value.reason == "state-mismatch"
    # Nothing was half-written: the round is still in progress and there is no claim.
    assert db.round(0).phase is RoundPhase.STARTED
    assert db.claims() == []
    with pytest.raises(SwarmError) as err:
        db.complete_round(5, RoundResult(step_hash(1)))
    assert err.value.reason == "round-not-started"


def test_claim_transitions(db):
    digest = complete(db, 0, 0)
    db.set_claim_status(digest, ClaimStatus.SUBMITTED, tx_hash="0xabc")
    db.set_claim_status(digest, ClaimStatus.POSTED, block=12, chain_key=bytes(range(32)), epoch=3)
    row = db.set_claim_status(digest, ClaimStatus.CHALLENGED, detail="game 4")
    assert (row.status, row.tx_hash, row.block, row.epoch, row.detail) == (ClaimStatus.CHALLENGED, "0xabc", 12, 3, "game 4")
    assert row.chain_key == bytes(range(32))
    assert [c.digest for c in db.unsettled_claims()] == [digest]
    db.set_claim_status(digest, ClaimStatus.FINAL)
    assert db.unsettled_claims() == []
    with pytest.raises(SwarmError) as err:
        db.set_claim_status(digest, ClaimStatus.POSTED)
    assert err.value.reason == "claim-transition"
    with pytest.raises(SwarmError) as err:
        db.set_claim_status(bytes(32), ClaimStatus.POSTED)
    assert err.value.reason == "claim-unknown"
    assert db.claim_counts()["final"] == 1


def test_prepared_cannot_jump_to_final(db):
    digest = complete(db, 0, 0)
    with pytest.raises(SwarmError):
        db.set_claim_status(digest, ClaimStatus.FINAL)
    db.mark_published(digest, now=5.0)
    assert db.claim(digest).published_at == 5.0


def test_peers_games_and_settings(db):
    db.upsert_peers([PeerRow("12D3KooWA", ("/ip4/127.0.0.1/tcp/4001",), {"device_kind": "cpu", "chain_address": b"\x01" * 20},
                             first_seen=10, last_seen=10, score=1.5)])
    db.upsert_peers([PeerRow("12D3KooWA", (), {"device_kind": "cuda"}, first_seen=20, last_seen=30, score=-2)])
    (peer,) = db.peers()
    assert (peer.first_seen, peer.last_seen, peer.score, peer.capabilities) == (10, 30, -2, {"device_kind": "cuda"})
    game = GameRow(7, "claimant", step_hash(3), level=2, lo=4, hi=9, claimant_clock=30.0, challenger_clock=12.5,
                   turn="challenger", last_move="choose 1", last_move_at=100.0, ckpt_before=step_hash(1))
    db.upsert_game(game, now=101.0)
    assert db.game(7) == GameRow(**{**game.__dict__, "updated_at": 101.0})
    assert [g.game_id for g in db.open_games()] == [7]
    db.upsert_game(GameRow(7, "claimant", step_hash(3), status=GameStatus.WON))
    assert db.open_games() == [] and db.game(7).status is GameStatus.WON
    db.set("rollouts.mode", {"mode": "announce", "shards": [1, 2]})
    assert db.get("rollouts.mode") == {"mode": "announce", "shards": [1, 2]}
    assert db.get("missing", 3) == 3


def test_peer_capabilities_from_the_wire_type(db):
    from protocol.wire import Capabilities

    caps = Capabilities(device_kind="cpu", device_name="laptop", memory_bytes=8 << 30, throughput=1.5, model="tiny",
                        software="swarm/0.1", chain_address=b"\xaa" * 20, listen_addrs=("/ip4/127.0.0.1/tcp/1",),
                        specialties=("add",), rollout_mode="announce", shards=(1, 5))
    db.upsert_peers([PeerRow("12D3KooWB", caps.listen_addrs, caps, 1.0, 1.0)])
    stored = db.peers()[0].capabilities
    assert stored["chain_address"] == "aa" * 20 and stored["shards"] == [1, 5] and stored["memory_bytes"] == 8 << 30


def test_committed_writes_are_visible_to_a_fresh_connection(tmp_path):
    path = tmp_path / "state.sqlite"
    d = StateDB.open(path)
    d.set_initial_checkpoint(step_hash(0))
    digest = complete(d, 0, 0)
    # No close(): what a commit returned is already in the WAL for any other reader.
    with StateDB.open(path) as other:
        assert other.claim(digest).status is ClaimStatus.PREPARED
    d.close()


async def test_used_from_trio_through_worker_threads(db):
    async def one(r: int) -> None:
        await db.call(db.set, f"k{r}", r)

    async with trio.open_nursery() as nursery:
        for r in range(20):
            nursery.start_soon(one, r)
    assert [await db.call(db.get, f"k{r}") for r in range(20)] == list(range(20))
    await db.call(db.begin_round, 0, step_hash(0))
    assert (await db.call(db.round, 0)).phase is RoundPhase.STARTED


def test_claim_status_follows_the_lifecycle_whatever_is_asked(tmp_path_factory):
    """Property: any sequence of requested statuses leaves the stored status where the state
    machine (records.CLAIM_TRANSITIONS) says, and a refused move changes nothing."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from swarmclient.state import CLAIM_TRANSITIONS

    with StateDB.open(tmp_path_factory.mktemp("lifecycle") / "state.sqlite") as d:
        d.set_initial_checkpoint(step_hash(0))
        counter = iter(range(10_000))

        @settings(max_examples=60)
        @given(st.lists(st.sampled_from(list(ClaimStatus)), max_size=8))
        def run(requests):
            r = next(counter)
            claim = claim_for(r, step_hash(0), step_hash(r + 1))
            d.add_claim(claim)
            expected = ClaimStatus.PREPARED
            for status in requests:
                allowed = status is expected or status in CLAIM_TRANSITIONS[expected]
                try:
                    d.set_claim_status(claim.digest(), status, tx_hash=f"0x{r:x}")
                    assert allowed, f"{expected.value} -> {status.value} was accepted"
                    expected = status
                except SwarmError as exc:
                    assert not allowed and exc.reason == "claim-transition"
                assert d.claim(claim.digest()).status is expected
            if expected.settled:
                assert claim.digest() not in {c.digest for c in d.unsettled_claims()}

        run()
