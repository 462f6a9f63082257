"""Crash consistency: a child process runs rounds and is SIGKILLed at random moments, again and
again on the same home; after every kill the resume point is consistent (no claim lost, no
round half-applied, the checkpoint verifies), and the resumed runs finish the chain."""

from __future__ import annotations

import multiprocessing
import random
import time
from pathlib import Path

import pytest

import crash_child
from statekit import step_hash
from swarmclient.state import CheckpointStore, ClaimStatus, RoundPhase, StateDB, resume_point

KILLS = 8
STATUS_ORDER = ["prepared", "submitted", "posted", "final"]
# Children are forked from a fork server that imported torch and the state package once (and
# never ran a torch op, so forking it is safe): each kill costs milliseconds, not an import.
CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["torch", "crash_child", "statekit", "swarmclient.state", "protocol.wire"])


def spawn(home: Path, rounds: int, report: Path):
    child = CONTEXT.Process(target=crash_child.run, args=(home, rounds, report))
    child.start()
    return child


def wait_for_ready(report: Path, child, start: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = report.read_text() if report.exists() else ""
        if "ready" in text[start:]:
            return
        assert child.is_alive() or "ready" in text[start:], f"the child died: exit code {child.exitcode}"
        time.sleep(0.005)
    raise AssertionError("the child never became ready")


def check_consistent(home: Path, reported: dict[int, tuple[str, str]], failed: set[int]):
    """Everything the child reported durable is there, and the state is one whole chain."""
    store = CheckpointStore(home / "checkpoints")
    with StateDB.open(home / "state.sqlite", full_check=True) as db:
        point = resume_point(db, store)  # verifies the checkpoint (raises otherwise)
        rounds = db.rounds(limit=10_000)
        claims = {c.round: c for c in db.claims(limit=10_000)}
        for r, (digest, status) in reported.items():
            row = db.round(r)
            assert row is not None and row.phase is RoundPhase.DONE, f"round {r} reported done, is {row}"
            assert claims[r].digest.hex() == digest, f"round {r}'s claim was lost"
            assert STATUS_ORDER.index(claims[r].status.value) >= STATUS_ORDER.index(status)
        for r in failed:
            assert db.round(r).phase is RoundPhase.FAILED
        # One claim per completed round, none for anything else: no half-applied round.
        done = [r for r in rounds if r.phase is RoundPhase.DONE]
        assert sorted(claims) == [r.round for r in done]
        # The checkpoints form one chain: every completed round starts where the last one ended.
        expected_before = db.initial_checkpoint()
        for r in done:
            assert r.ckpt_before == expected_before, f"round {r.round} does not continue the chain"
            expected_before = r.ckpt_after
        assert point.checkpoint == expected_before == step_hash(len(done))
        assert int(point.tensors["step"]) == len(done)
        in_progress = [r for r in rounds if r.phase is RoundPhase.STARTED]
        assert [r.round for r in in_progress] in ([], [point.next_round])
        assert point.redo_round == (in_progress[0].round if in_progress else None)
        if rounds:
            assert point.next_round == rounds[-1].round + (0 if in_progress else 1)
        # Atomic writes: a kill mid-save leaves at most a *.tmp file, never a partial checkpoint.
        assert [why for _, why in store.scan() if why] == []
        for h in store.hashes():
            assert store.manifest(h) is not None
        unsettled = {c.digest for c in point.unsettled_claims}
        assert unsettled == {c.digest for c in claims.values() if not c.status.settled}
        return point


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_or_half_applies(tmp_path):
    rng = random.Random(20261124)
    home = tmp_path / "home"
    reported: dict[int, tuple[str, str]] = {}
    failed: set[int] = set()
    kills_mid_round = 0
    report = tmp_path / "report.txt"
    for _ in range(KILLS):
        start = report.stat().st_size if report.exists() else 0
        child = spawn(home, 100_000, report)
        wait_for_ready(report, child, start)
        time.sleep(rng.uniform(0.0, 0.3))
        child.kill()  # SIGKILL
        child.join()
        assert child.exitcode == -9
        lines = report.read_text()[start:].splitlines()
        for words in (ln.split() for ln in lines if ln.strip()):
            if words[0] == "done":
                reported[int(words[1])] = (words[2], "prepared")
            elif words[0] in ("submitted", "posted"):
                digest, _ = reported[int(words[1])]
                reported[int(words[1])] = (digest, words[0])
            elif words[0] == "failed":
                failed.add(int(words[1]))
        kills_mid_round += bool(lines) and lines[-1].split()[0] == "started"
        point = check_consistent(home, reported, failed)
    print(f"{len(reported)} rounds done, {len(failed)} failed, {kills_mid_round} of {KILLS} kills mid-round")
    assert len(reported) >= 3, "the child completed too few rounds to test anything"
    # Finish the run from where the last kill left it.
    target = point.next_round + 3
    start = report.stat().st_size
    child = spawn(home, target, report)
    child.join(timeout=120)
    assert child.exitcode == 0
    assert report.read_text()[start:].splitlines()[-1] == f"finished {target}"
    final = check_consistent(home, reported, failed)
    assert final.next_round == target and final.redo_round is None
    with StateDB.open(home / "state.sqlite") as db:
        assert all(r.phase is not RoundPhase.STARTED for r in db.rounds(limit=10_000))
        assert not [c for c in db.unsettled_claims() if c.status is ClaimStatus.PREPARED and c.published_at is None]
