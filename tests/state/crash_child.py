"""A peer's round loop reduced to its state writes, run as a child process that the crash test
SIGKILLs at random moments. It writes in the order the runtime must (swarmclient/state/resume.py)
and reports a line after each durable step (one write(2) to an O_APPEND file, which outlives
the process), so the parent knows what must have survived.

    python crash_child.py HOME ROUNDS        # by hand: the report goes to stdout
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from statekit import claim_for, tensors_at  # noqa: E402
from repops.checkpoint import checkpoint_hash  # noqa: E402
from swarmclient.state import (  # noqa: E402
    CheckpointStore,
    ClaimStatus,
    PeerRow,
    RoundJournal,
    RoundResult,
    StateDB,
)


_report_fd = 1


def say(*words: object) -> None:
    os.write(_report_fd, (" ".join(str(w) for w in words) + "\n").encode())


def run(home: Path, rounds: int, report: Path | None = None) -> None:
    global _report_fd
    if report is not None:
        _report_fd = os.open(report, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    db = StateDB.open(home / "state.sqlite")
    store = CheckpointStore(home / "checkpoints")
    journal = RoundJournal(db, store)
    point = journal.resume()
    if point.checkpoint is None:
        journal.start_fresh(tensors_at(0))
        point = journal.resume()
    step = int(point.tensors["step"])
    say("ready", point.next_round, step)
    for c in point.unpublished_claims:  # what a restarted peer gossips again
        db.mark_published(c.digest)
    for c in point.unsettled_claims:  # reconcile with "the chain": send what was never sent
        if c.status is ClaimStatus.PREPARED:
            db.set_claim_status(c.digest, ClaimStatus.SUBMITTED, tx_hash=f"0x{c.round:064x}")
        if c.status in (ClaimStatus.PREPARED, ClaimStatus.SUBMITTED):
            db.set_claim_status(c.digest, ClaimStatus.POSTED, block=c.round)
    for r in range(point.next_round, rounds):
        before = store.latest(db)
        db.begin_round(r, before)
        say("started", r)
        if r % 5 == 4:  # an update that fails: the checkpoint does not move
            db.fail_round(r, "empty-batch: no usable group")
            say("failed", r)
            continue
        after_tensors = tensors_at(step + 1)
        claim = claim_for(r, before, checkpoint_hash(after_tensors))
        journal.commit_sync(r, after_tensors, RoundResult(claim.ckpt_after, local_samples=8, external_samples=4), claim)
        step += 1
        say("done", r, claim.digest().hex())
        db.mark_published(claim.digest())
        db.set_claim_status(claim.digest(), ClaimStatus.SUBMITTED, tx_hash=f"0x{r:064x}")
        say("submitted", r)
        db.set_claim_status(claim.digest(), ClaimStatus.POSTED, block=r)
        say("posted", r)
        old = db.round(r - 3)
        if old is not None and old.ckpt_after is not None:
            old_claim = [c for c in db.claims() if c.round == r - 3]
            if old_claim and old_claim[0].status is ClaimStatus.POSTED:
                db.set_claim_status(old_claim[0].digest, ClaimStatus.FINAL)
        db.upsert_peers([PeerRow(f"peer-{r % 7}", (), {}, float(r), float(r), 0.0)])
        if r % 3 == 0:
            store.gc(db, keep_last=2)
    say("finished", rounds)


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]))
