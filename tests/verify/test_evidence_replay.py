"""Evidence capture and re-execution on a real learner: an honest claim re-executes to its
claimed checkpoint, a CORRUPT_UPDATE claim does not, and tampered evidence is refused."""

from __future__ import annotations

import msgpack
import pytest
from conftest import run_round

from repops import checkpoint
from swarmclient.errors import SwarmError
from swarmclient.verify import Fault, UpdateCapture, decode_evidence, reexecute, tensors_from_blob
from swarmclient.verify.evidence import record_to_plain


def _replay_from_blobs(capture: UpdateCapture, claim):
    blob = capture.evidence_blob(claim.digest())
    got_claim, records = decode_evidence(blob, claim.digest())
    assert got_claim == claim
    tensors = tensors_from_blob(capture.checkpoint_blob(claim.ckpt_before), claim.ckpt_before)
    return reexecute(tensors, records, claim.hparams)


def test_honest_claims_reexecute_to_their_checkpoints(learner, tmp_path):
    capture = UpdateCapture(learner, tmp_path)
    for r in range(2):
        record = run_round(learner, r)
        claim = record.to_claim()
        replayed = _replay_from_blobs(capture, claim)
        assert replayed.hashes[0] == claim.ckpt_before
        assert replayed.ckpt_after == claim.ckpt_after
        assert replayed.steps == claim.steps == learner.cfg.epochs
    assert capture.faults_injected == 0


def test_corrupt_update_is_claimed_and_caught(learner, tmp_path):
    capture = UpdateCapture(learner, tmp_path, Fault.CORRUPT_UPDATE)
    record = run_round(learner, 0)
    claim = record.to_claim()
    # The cheater really continues from the perturbed weights it claimed.
    assert learner.checkpoint_hash() == claim.ckpt_after
    replayed = _replay_from_blobs(capture, claim)
    assert replayed.ckpt_after != claim.ckpt_after
    # Only the last position differs: the honest steps before it agree (level 1's bisection
    # narrows the game to the final step).
    own = capture.own_evidence(claim.digest())
    assert own is not None
    assert reexecute(own[2], own[1], own[0].hparams).hashes[:-1] == replayed.hashes[:-1]
    assert capture.faults_injected == 1


def test_tampered_evidence_is_refused(learner, tmp_path):
    capture = UpdateCapture(learner, tmp_path)
    claim = run_round(learner, 0).to_claim()
    blob = capture.evidence_blob(claim.digest())
    data = msgpack.unpackb(blob, raw=False)
    with pytest.raises(SwarmError, match="digest"):
        decode_evidence(blob, b"\x01" * 32)
    # A changed reward no longer matches the batch digest the claim committed to.
    records = data["records"]
    records[0][5][0] = 1.0 - records[0][5][0]
    with pytest.raises(SwarmError, match="bad-evidence"):
        decode_evidence(msgpack.packb(data, use_bin_type=True), claim.digest())
    for junk in (b"", b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"format": "x"})):
        with pytest.raises(SwarmError, match="bad-evidence"):
            decode_evidence(junk, claim.digest())
    # A checkpoint whose content is not the claimed hash.
    ckpt = capture.checkpoint_blob(claim.ckpt_before)
    with pytest.raises(SwarmError, match="bad-checkpoint"):
        tensors_from_blob(ckpt, b"\x02" * 32)
    with pytest.raises(SwarmError, match="bad-checkpoint"):
        tensors_from_blob(b"not safetensors", claim.ckpt_before)
    assert capture.evidence_blob(b"short") is None and capture.checkpoint_blob(b"\x03" * 32) is None


def test_records_round_trip_their_digest(learner, tmp_path):
    from swarmclient.sapo.batch import batch_digest
    from swarmclient.verify.evidence import record_from_plain

    capture = UpdateCapture(learner, tmp_path)
    claim = run_round(learner, 0).to_claim()
    _, records = decode_evidence(capture.evidence_blob(claim.digest()), claim.digest())
    again = [record_from_plain(record_to_plain(r)) for r in records]
    assert batch_digest(again) == claim.batch_digest.hex()
    assert checkpoint.checkpoint_hash(tensors_from_blob(capture.checkpoint_blob(claim.ckpt_before), claim.ckpt_before)) == claim.ckpt_before
