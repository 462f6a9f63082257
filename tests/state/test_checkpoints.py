"""The content-addressed checkpoint store on real torch tensors and safetensors files."""

from __future__ import annotations

import os
import time

import pytest
import torch

from statekit import claim_for, tensors_at
from repops.checkpoint import checkpoint_hash
from swarmclient.errors import SwarmError
from swarmclient.state import CheckpointStore, ClaimStatus, GameRow, RoundResult, StateDB


@pytest.fixture
def store(tmp_path):
    return CheckpointStore(tmp_path / "checkpoints")


def test_save_is_named_by_hash_and_loads_verified(store):
    tensors = tensors_at(3)
    digest = store.save(tensors, round=2, ckpt_before=checkpoint_hash(tensors_at(2)))
    assert digest == checkpoint_hash(tensors)
    assert store.path(digest).name == digest.hex() + ".safetensors"
    loaded = store.load(digest)
    assert set(loaded) == set(tensors) and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    manifest = store.manifest(digest)
    assert (manifest.round, manifest.ckpt_before) == (2, checkpoint_hash(tensors_at(2)))
    assert store.hashes() == [digest]
    assert not [p for p in store.directory.iterdir() if p.name.endswith(".tmp")]
    # Saving the same content again writes nothing new.
    mtime = store.path(digest).stat().st_mtime_ns
    assert store.save(tensors_at(3)) == digest and store.path(digest).stat().st_mtime_ns == mtime


def test_manifest_carries_the_claim(store):
    before, after = checkpoint_hash(tensors_at(0)), checkpoint_hash(tensors_at(1))
    claim = claim_for(0, before, after)
    store.save(tensors_at(1), round=0, ckpt_before=before, claim=claim)
    assert store.manifest(after).claim == claim.encode()
    with pytest.raises(SwarmError) as err:
        store.save(tensors_at(2), round=1, ckpt_before=after, claim=claim)  # not this checkpoint's claim
    assert err.value.reason == "state-mismatch"


def test_tampered_checkpoint_is_detected(store):
    digest = store.save(tensors_at(1))
    path = store.path(digest)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one bit of tensor data
    path.write_bytes(bytes(data))
    with pytest.raises(SwarmError) as err:
        store.load(digest)
    assert err.value.reason == "checkpoint-corrupt" and digest.hex() in str(err.value)
    assert store.scan() == [(digest, "checkpoint-corrupt")]


def test_substituted_checkpoint_is_detected(store):
    a, b = store.save(tensors_at(1)), store.save(tensors_at(2))
    os.replace(store.path(b), store.path(a))  # a well-formed file under the wrong name
    with pytest.raises(SwarmError) as err:
        store.load(a)
    assert err.value.reason == "checkpoint-corrupt" and "expected" in str(err.value)
    with pytest.raises(SwarmError) as err:
        store.load(b)
    assert err.value.reason == "checkpoint-missing"


def test_latest_comes_from_the_rounds_table_not_file_times(tmp_path, store):
    with StateDB.open(tmp_path / "state.sqlite") as db:
        assert store.latest(db) is None
        first = store.save(tensors_at(0))
        db.set_initial_checkpoint(first)
        assert store.latest(db) == first
        after = store.save(tensors_at(1))
        db.begin_round(0, first)
        store.save(tensors_at(9))  # newer file, but no round names it
        assert store.latest(db) == first
        db.complete_round(0, RoundResult(after))
        assert store.latest(db) == after


def test_gc_keeps_recent_unsettled_and_disputed_checkpoints(tmp_path, store):
    with StateDB.open(tmp_path / "state.sqlite") as db:
        hashes = [store.save(tensors_at(s)) for s in range(8)]
        db.set_initial_checkpoint(hashes[0])
        for r in range(6):
            db.begin_round(r, hashes[r])
            claim = claim_for(r, hashes[r], hashes[r + 1])
            db.complete_round(r, RoundResult(hashes[r + 1]), claim)
            if r != 1:  # round 1's claim stays unsettled
                db.set_claim_status(claim.digest(), ClaimStatus.POSTED)
                db.set_claim_status(claim.digest(), ClaimStatus.FINAL)
        # Round 6 in progress from hashes[6]; hashes[7] is an orphan of a crash mid-round.
        db.begin_round(6, hashes[6])
        # A game over another peer's claim keeps that claim's checkpoints.
        stranger = store.save(tensors_at(40))
        db.upsert_game(GameRow(1, "challenger", bytes(32), ckpt_before=stranger))
        orphan_tmp = store.directory / "x.safetensors.abc.tmp"
        orphan_tmp.write_bytes(b"partial")
        orphan_manifest = store.manifest_path(bytes(range(32)))
        orphan_manifest.write_text("{}")  # a kill after the manifest, before its checkpoint
        old = time.time() - 3600
        for p in (orphan_tmp, orphan_manifest):
            os.utime(p, (old, old))
        report = store.gc(db, keep_last=2)
        kept = set(store.hashes())
        # initial, round 1's claim (1, 2), the last two rounds (4, 5, 6), the round in progress (6), the game's.
        assert kept == {hashes[0], hashes[1], hashes[2], hashes[4], hashes[5], hashes[6], stranger}
        assert set(report.removed) == {hashes[3].hex(), hashes[7].hex()} and report.removed_tmp == 2
        assert not store.manifest_path(hashes[3]).exists()
        assert not orphan_tmp.exists() and not orphan_manifest.exists()
        assert all(store.manifest_path(h).exists() for h in kept)
        for h in kept:
            store.verify(h)


def test_gc_prepared_window_bounds_the_disk_of_claims_never_sent(tmp_path, store):
    """A peer without a chain never settles its claims: past `prepared_window` rounds their
    checkpoints go (the rows stay); a claim that reached the chain keeps its checkpoints."""
    with StateDB.open(tmp_path / "state.sqlite") as db:
        hashes = [store.save(tensors_at(s)) for s in range(9)]
        db.set_initial_checkpoint(hashes[0])
        claims = []
        for r in range(8):
            db.begin_round(r, hashes[r])
            claims.append(claim_for(r, hashes[r], hashes[r + 1]))
            db.complete_round(r, RoundResult(hashes[r + 1]), claims[-1])
        db.set_claim_status(claims[1].digest(), ClaimStatus.POSTED)  # on chain: may be challenged
        everything = set(store.hashes())
        assert store.gc(db, keep_last=1).removed == ()  # unbounded: every prepared claim pins its files
        report = store.gc(db, keep_last=1, prepared_window=3)
        kept = set(store.hashes())
        # initial; the posted claim of round 1 (1, 2); prepared claims of rounds >= 7 - 3 = 4 (4..8).
        assert kept == {hashes[0], hashes[1], hashes[2], *hashes[4:9]}
        assert set(report.removed) == {h.hex() for h in everything - kept}
        assert len(db.claims(limit=100)) == 8  # rows are never deleted


def test_opening_state_does_not_import_torch():
    """A network-only peer opens its durable state too; importing torch for that cost seconds
    per process on a loaded machine (regression: synthetic devnet peers started too slowly)."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile, pathlib\n"
        "from swarmclient.home import Home\n"
        "from swarmclient.runtime.durable import DurableState\n"
        "d = DurableState.open(Home(pathlib.Path(tempfile.mkdtemp())))\n"
        "d.close()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_store_suffix_matches_repops():
    from repops import checkpoint
    from swarmclient.state.checkpoints import SUFFIX

    assert SUFFIX == checkpoint.SUFFIX
