"""The resume point, the explicit rewind when a checkpoint is lost, and `swarm state` commands."""

from __future__ import annotations

import json

import pytest

from statekit import claim_for, tensors_at
from repops.checkpoint import checkpoint_hash
from swarmclient.cli.main import main
from swarmclient.errors import SwarmError
from swarmclient.state import CheckpointStore, ClaimStatus, GameRow, RoundPhase, RoundResult, StateDB, recover, resume_point


def run_rounds(db: StateDB, store: CheckpointStore, rounds: int, start: int = 0) -> None:
    for r in range(start, start + rounds):
        before = store.latest(db)
        step = int(store.load(before)["step"])
        db.begin_round(r, before)
        after = store.save(tensors_at(step + 1), round=r, ckpt_before=before,
                           claim=claim_for(r, before, checkpoint_hash(tensors_at(step + 1))))
        db.complete_round(r, RoundResult(after, reward_mean=0.25, loss=0.5), claim_for(r, before, after))


@pytest.fixture
def home(tmp_path):
    db = StateDB.open(tmp_path / "state.sqlite")
    store = CheckpointStore(tmp_path / "checkpoints")
    db.set_initial_checkpoint(store.save(tensors_at(0)))
    yield tmp_path, db, store
    db.close()


def test_fresh_peer_resumes_at_round_zero(tmp_path):
    with StateDB.open(tmp_path / "state.sqlite") as db:
        point = resume_point(db, CheckpointStore(tmp_path / "checkpoints"))
    assert (point.next_round, point.checkpoint, point.tensors, point.redo_round) == (0, None, None, None)


def test_round_in_progress_is_redone_from_its_checkpoint_before(home):
    _, db, store = home
    run_rounds(db, store, 3)
    before = store.latest(db)
    db.begin_round(3, before)
    store.save(tensors_at(4))  # the update finished, the crash came before complete_round
    point = resume_point(db, store)
    assert (point.next_round, point.redo_round, point.checkpoint) == (3, 3, before)
    assert int(point.tensors["step"]) == 3
    assert [c.round for c in point.unsettled_claims] == [0, 1, 2]
    assert [c.round for c in point.unpublished_claims] == [0, 1, 2]
    db.begin_round(3, point.checkpoint)  # redoing it is allowed, and continues the chain


def test_failed_round_is_skipped_and_checkpoint_unchanged(home):
    _, db, store = home
    run_rounds(db, store, 2)
    db.begin_round(2, store.latest(db))
    db.fail_round(2, "empty-batch")
    point = resume_point(db, store, load=False)
    assert point.next_round == 3 and point.redo_round is None and point.tensors is None
    assert point.checkpoint == db.round(1).ckpt_after


def test_open_games_and_settled_claims(home):
    _, db, store = home
    run_rounds(db, store, 2)
    first = db.claims()[0]
    db.set_claim_status(first.digest, ClaimStatus.POSTED)
    db.set_claim_status(first.digest, ClaimStatus.FINAL)
    db.upsert_game(GameRow(3, "claimant", db.claims()[1].digest))
    point = resume_point(db, store)
    assert [c.round for c in point.unsettled_claims] == [1]
    assert [g.game_id for g in point.open_games] == [3]


def test_lost_checkpoint_is_an_error_until_recover_rewinds(home):
    tmp_path, db, store = home
    run_rounds(db, store, 4)
    lost = db.round(3).ckpt_after
    data = bytearray(store.path(lost).read_bytes())
    data[-1] ^= 0xFF
    store.path(lost).write_bytes(bytes(data))
    with pytest.raises(SwarmError) as err:
        resume_point(db, store)
    assert err.value.reason == "checkpoint-corrupt" and "swarm state recover" in str(err.value)
    assert db.round(3).phase is RoundPhase.DONE  # reported, not silently rewound
    db.close()
    report = recover(tmp_path / "state.sqlite", store)
    assert report.problem == "checkpoint-corrupt" and report.rewound_rounds == [3] and not report.moved_to
    with StateDB.open(tmp_path / "state.sqlite") as again:
        point = resume_point(again, store)
        assert point.next_round == 4 and int(point.tensors["step"]) == 3
        assert again.round(3).phase is RoundPhase.FAILED
        assert [c.round for c in point.unsettled_claims] == [0, 1, 2, 3]  # round 3's claim is still reconciled
        again.begin_round(4, point.checkpoint)


def test_state_commands(home, capsys):
    tmp_path, db, store = home
    run_rounds(db, store, 2)
    db.close()
    assert main(["--home", str(tmp_path), "state", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["database"]["journal_mode"] == "wal"
    assert report["resume"]["next_round"] == 2 and report["checkpoints"] == {
        "path": str(store.directory), "count": 3, "bad": []}
    assert main(["--home", str(tmp_path), "state", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["round"] for r in shown["rounds"]] == [0, 1] and len(shown["unsettled_claims"]) == 2
    assert main(["--home", str(tmp_path), "state", "show"]) == 0
    assert "last completed round 1" in capsys.readouterr().out
    # Damage the database: check reports it (exit 1) and leaves it; recover repairs it.
    (tmp_path / "state.sqlite").write_bytes(b"not a database at all" * 100)
    assert main(["--home", str(tmp_path), "state", "check"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEMS FOUND" in out and "state-not-sqlite" in out and "swarm state recover" in out
    assert main(["--home", str(tmp_path), "state", "show"]) == 2
    assert "state-not-sqlite" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "state", "recover", "--json"]) == 0
    recovered = json.loads(capsys.readouterr().out)
    assert recovered["moved_to"] and recovered["rebuilt_rounds"] == 2 and recovered["rebuilt_claims"] == 2
    assert main(["--home", str(tmp_path), "state", "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resume"]["next_round"] == 2
    assert main(["--home", str(tmp_path), "state", "recover"]) == 0
    assert "nothing to recover" in capsys.readouterr().out


def test_check_on_a_home_without_state(tmp_path, capsys):
    assert main(["--home", str(tmp_path / "none"), "state", "check", "--json"]) == 0  # nothing yet: nothing wrong
    report = json.loads(capsys.readouterr().out)
    assert report["database"]["reason"] == "state-missing" and not (tmp_path / "none" / "state.sqlite").exists()
    # Checkpoints without their database are a problem.
    CheckpointStore(tmp_path / "none" / "checkpoints").save(tensors_at(0))
    assert main(["--home", str(tmp_path / "none"), "state", "check"]) == 1
    assert "state-missing" in capsys.readouterr().out


def test_deleted_database_is_not_silently_restarted(home):
    tmp_path, db, store = home
    run_rounds(db, store, 3)
    db.close()
    (tmp_path / "state.sqlite").unlink()
    # A new, empty database next to a checkpoint store with history is refused by resume_point.
    with StateDB.open(tmp_path / "state.sqlite") as fresh:
        with pytest.raises(SwarmError) as err:
            resume_point(fresh, store)
    assert err.value.reason == "state-missing" and "swarm state recover" in str(err.value)
    report = recover(tmp_path / "state.sqlite", store)
    assert report.problem == "state-empty" and report.rebuilt_rounds == 3 and report.rebuilt_claims == 3
    with StateDB.open(tmp_path / "state.sqlite") as rebuilt:
        assert resume_point(rebuilt, store).next_round == 3


def test_database_gone_but_its_wal_left_is_partial_state(home):
    tmp_path, db, store = home
    run_rounds(db, store, 2)
    wal = tmp_path / "state.sqlite-wal"
    assert wal.stat().st_size > 0  # the connection is still open: the rounds are in the WAL
    (tmp_path / "state.sqlite").unlink()
    with pytest.raises(SwarmError) as err:
        StateDB.open(tmp_path / "state.sqlite")
    assert err.value.reason == "state-truncated" and "write-ahead log" in str(err.value)
    assert not (tmp_path / "state.sqlite").exists() and wal.exists()
    report = recover(tmp_path / "state.sqlite", store)
    assert report.moved_to and report.rebuilt_rounds == 2
    assert not wal.exists() and list(tmp_path.glob("state.sqlite.corrupt-*-wal"))


def test_kill_between_warm_start_save_and_record_is_not_history(tmp_path):
    store = CheckpointStore(tmp_path / "checkpoints")
    store.save(tensors_at(0))  # saved; the kill came before set_initial_checkpoint
    with StateDB.open(tmp_path / "state.sqlite") as db:
        point = resume_point(db, store)
    assert (point.next_round, point.checkpoint) == (0, None)
