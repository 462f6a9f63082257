"""A claim the peer prepared (round done, claim recorded) but died before gossiping is found
at start and gossiped to the swarm, then marked published (real libp2p nodes on 127.0.0.1)."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from statekit import claim_for, tensors_at
from swarmclient.home import Home
from swarmclient.runtime.durable import DurableState
from swarmclient.runtime.training import Training
from swarmclient.state import CheckpointStore, RoundJournal, RoundResult, StateDB

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "net"))
from netutil import star  # noqa: E402


async def test_a_claim_prepared_before_a_crash_is_gossiped_at_start(tmp_path):
    home = Home(tmp_path / "home")
    store = CheckpointStore(home.checkpoints)
    with StateDB.open(home.database) as db:
        h0 = store.save(tensors_at(0))
        db.set_initial_checkpoint(h0)
        db.begin_round(0, h0)
        h1 = store.save(tensors_at(1))
        claim = claim_for(0, h0, h1)
        RoundJournal(db, store).commit_sync(0, tensors_at(1), RoundResult(h1), claim)  # ... and then the kill

    durable = DurableState.open(home)
    try:
        assert [c.digest for c in durable.point.unpublished_claims] == [claim.digest()]
        training = Training("peer", tmp_path / "cache", None, 1.0, durable=durable)
        async with star(2, swarm_id="republish") as (sender, listener):
            assert await training.republish_unpublished(sender.publish) == 1
            with trio.fail_after(10):
                async for envelope in listener.inbox:
                    if envelope.kind.value == "claim":
                        assert envelope.body.digest() == claim.digest()
                        break
        row = durable.db.claim(claim.digest())
        assert row.published_at is not None
        # Nothing is sent twice: the next start finds nothing left to publish.
        assert durable.db.unsettled_claims()[0].published_at is not None
    finally:
        durable.close()
    again = DurableState.open(home)
    try:
        assert again.point.unpublished_claims == ()
    finally:
        again.close()
