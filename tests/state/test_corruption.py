"""A damaged state database is detected and reported with a recovery path, the file is left
untouched, and only `recover` (explicit) moves it aside and rebuilds from the checkpoints."""

from __future__ import annotations

import random

import pytest

from statekit import Fault, claim_for, file_digest, inject, tensors_at
from swarmclient.errors import SwarmError
from swarmclient.state import CheckpointStore, ClaimStatus, PeerRow, RoundPhase, RoundResult, StateDB, recover, resume_point

ROUNDS = 6
PEERS = 300  # enough rows for a database of many pages, so a middle page can be damaged


def build_home(tmp_path):
    """A peer's state after ROUNDS rounds: checkpoints with manifests, claims, peers."""
    db_path = tmp_path / "state.sqlite"
    store = CheckpointStore(tmp_path / "checkpoints")
    with StateDB.open(db_path) as db:
        db.set_initial_checkpoint(store.save(tensors_at(0)))
        for r in range(ROUNDS):
            before, after_tensors = store.latest(db), tensors_at(r + 1)
            db.begin_round(r, before)
            claim = claim_for(r, before, _hash(after_tensors))
            store.save(after_tensors, round=r, ckpt_before=before, claim=claim)
            db.complete_round(r, RoundResult(claim.ckpt_after, reward_mean=0.1 * r), claim)
            if r < 2:
                db.set_claim_status(claim.digest(), ClaimStatus.POSTED, tx_hash=f"0x{r:064x}", block=r)
        db.upsert_peers(PeerRow(f"12D3KooW{i:04d}", (f"/ip4/10.0.{i // 256}.{i % 256}/tcp/4001",),
                                {"model": "tiny" * 20}, 1.0, 2.0, 0.0) for i in range(PEERS))
    return db_path, store


def _hash(tensors):
    from repops.checkpoint import checkpoint_hash

    return checkpoint_hash(tensors)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.name)
def test_damaged_database_is_reported_and_left_alone(tmp_path, fault):
    db_path, store = build_home(tmp_path)
    inject(fault, db_path, random.Random(fault.value[0]))
    before = file_digest(db_path)
    with pytest.raises(SwarmError) as err:
        StateDB.open(db_path)
    assert err.value.reason == fault.reason
    message = str(err.value)
    assert str(db_path) in message and "swarm state recover" in message and "nothing was changed" in message
    # Opening again gives the same answer: nothing was reset, repaired or moved.
    with pytest.raises(SwarmError):
        StateDB.open(db_path, create=True)
    assert file_digest(db_path) == before
    assert not list(tmp_path.glob("state.sqlite.corrupt-*"))
    if fault is not Fault.FUTURE_SCHEMA:  # (that one needs --force: test_future_schema_needs_force)
        check_recover(tmp_path, db_path, store, fault, before)


def check_recover(tmp_path, db_path, store, fault, damaged):
    """`recover` moves the damaged file aside untouched and rebuilds from the checkpoints."""
    report = recover(db_path, store, now=1_700_000_000)
    assert report.problem == fault.reason and report.changed
    moved = tmp_path / "state.sqlite.corrupt-20231114T221320Z"
    assert report.moved_to == str(moved) and file_digest(moved) == damaged
    with StateDB.open(db_path) as db:
        rounds = db.rounds()
        assert [r.round for r in rounds] == list(range(ROUNDS))
        assert all(r.phase is RoundPhase.DONE for r in rounds)
        claims = db.claims()
        assert [c.round for c in claims] == list(range(ROUNDS))
        point = resume_point(db, store)
        assert point.next_round == ROUNDS and point.checkpoint == _hash(tensors_at(ROUNDS))
        assert int(point.tensors["step"]) == ROUNDS
        # Rebuilt claims wait for reconciliation; where rows were salvaged, the chain status survives.
        statuses = {c.round: c.status for c in claims}
        assert set(statuses.values()) <= {ClaimStatus.PREPARED, ClaimStatus.POSTED}
        if fault is Fault.FOREIGN_SCHEMA or fault is Fault.NOT_SQLITE or fault is Fault.EMPTY:
            assert report.salvaged == {} and report.rebuilt_claims == ROUNDS
        # The next round continues the chain of checkpoints.
        db.begin_round(ROUNDS, point.checkpoint)


def test_future_schema_needs_force(tmp_path):
    db_path, store = build_home(tmp_path)
    inject(Fault.FUTURE_SCHEMA, db_path, random.Random(0))
    before = file_digest(db_path)
    with pytest.raises(SwarmError) as err:
        recover(db_path, store)
    assert err.value.reason == "state-schema-newer" and "--force" in str(err.value)
    assert file_digest(db_path) == before
    report = recover(db_path, store, force=True)
    assert report.moved_to and report.salvaged.get("claims") == ROUNDS
    with StateDB.open(db_path) as db:
        posted = [c.round for c in db.claims(ClaimStatus.POSTED)]
        assert posted == [0, 1]  # salvaged rows keep what the chain had confirmed


def test_recover_on_a_healthy_database_changes_nothing(tmp_path):
    db_path, store = build_home(tmp_path)
    report = recover(db_path, store)
    assert not report.problem and not report.changed


def test_full_integrity_check_on_demand(tmp_path):
    db_path, _ = build_home(tmp_path)
    with StateDB.open(db_path, full_check=True) as db:
        db.check(full=True)


def test_crash_mid_wal_checkpoint_is_not_mistaken_for_truncation(tmp_path):
    """Regression: a WAL checkpoint copies page 1 (the header, with the new page count) before
    the pages that extend the file; killed in between, the file is shorter than its header says
    while the WAL still holds every page. That database is healthy, not truncated."""
    live = tmp_path / "live"
    db = StateDB.open(live / "state.sqlite")
    db.set_initial_checkpoint(_hash(tensors_at(0)))
    db.upsert_peers(PeerRow(f"12D3KooW{i:04d}", (), {"model": "x" * 200}, 1.0, 2.0, 0.0) for i in range(PEERS))
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    main = (live / "state.sqlite").read_bytes()
    wal = (live / "state.sqlite-wal").read_bytes()
    db.close()
    ps = int.from_bytes(wal[8:12], "big")
    frames = [(int.from_bytes(wal[o:o + 4], "big"), wal[o + 24:o + 24 + ps]) for o in range(32, len(wal), 24 + ps)]
    page1 = [data for number, data in frames if number == 1][-1]
    assert int.from_bytes(page1[28:32], "big") * ps > len(main)  # the WAL grew the database
    (crashed / "state.sqlite").write_bytes(page1 + main[ps:])  # page 1 copied, nothing else yet
    (crashed / "state.sqlite-wal").write_bytes(wal)
    with StateDB.open(crashed / "state.sqlite") as again:
        assert len(again.peers()) == PEERS and again.initial_checkpoint() == _hash(tensors_at(0))
