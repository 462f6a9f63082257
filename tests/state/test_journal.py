"""RoundJournal: the round loop's state writes from trio, with a real sapo UpdateRecord."""

from __future__ import annotations

import hashlib

import pytest

from statekit import tensors_at
from repops.checkpoint import checkpoint_hash
from swarmclient.errors import SwarmError
from swarmclient.sapo.update import UpdateRecord
from swarmclient.state import CheckpointStore, ClaimStatus, RoundJournal, RoundPhase, StateDB


def update_record(r: int, before: bytes, after: bytes) -> UpdateRecord:
    return UpdateRecord(
        round=r, ckpt_before=before, ckpt_after=after, batch_digest=hashlib.sha256(b"b%d" % r).digest(),
        tensor_digest=bytes(32), hparams_digest=bytes(32), hparams={"lr": 0.001}, steps=2, local_groups=2,
        external_groups=1, local_samples=8, external_samples=4, external_peers=("peer-a",), rejected=0,
        loss=0.75, batch_reward=0.5,
    )


@pytest.fixture
def journal(tmp_path):
    with StateDB.open(tmp_path / "state.sqlite") as db:
        yield RoundJournal(db, CheckpointStore(tmp_path / "checkpoints"))


async def test_round_from_trio_with_an_update_record(journal):
    start = journal.start_fresh(tensors_at(0))
    point = journal.resume()
    assert (point.next_round, point.checkpoint) == (0, start)
    await journal.begin(0, start)
    record = update_record(0, start, checkpoint_hash(tensors_at(1)))
    row = await journal.commit(0, tensors_at(1), record)
    assert row.status is ClaimStatus.PREPARED and row.claim() == record.to_claim()
    done = journal.db.round(0)
    assert (done.phase, done.ckpt_after, done.external_peers, done.reward_mean, done.loss) == (
        RoundPhase.DONE, record.ckpt_after, 1, 0.5, 0.75)
    assert journal.store.manifest(record.ckpt_after).claim == record.to_claim().encode()
    await journal.published(row.digest)
    point = journal.resume()
    assert point.next_round == 1 and point.unpublished_claims == () and int(point.tensors["step"]) == 1
    await journal.begin(1, point.checkpoint)
    await journal.failed(1, "update: empty-batch")
    assert journal.resume().next_round == 2


async def test_commit_refuses_tensors_that_are_not_the_update(journal):
    start = journal.start_fresh(tensors_at(0))
    await journal.begin(0, start)
    record = update_record(0, start, checkpoint_hash(tensors_at(1)))
    with pytest.raises(SwarmError) as err:
        await journal.commit(0, tensors_at(2), record)
    assert err.value.reason == "state-mismatch"
    assert journal.db.round(0).phase is RoundPhase.STARTED and journal.db.claims() == []
