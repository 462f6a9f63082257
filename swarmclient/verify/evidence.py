"""What a claimant keeps to answer for its claims, and the blobs watchers fetch to check them.

For every update the peer makes, `UpdateCapture` records the checkpoint the update started
from (params and optimizer state, as safetensors under `$SWARM_HOME/verify/ckpt/`) and the
scored records it trained on, in training order (`verify/claims/<claim digest>.json`). Both
survive a restart, so a game in flight can still be answered. Watchers fetch them over the
node's request/response streams: `/swarm/ckpt/1` by checkpoint hash, `/swarm/batch/1` by
claim digest (the blob carries the claim itself, so the watcher checks both digests).

The capture wraps the learner's `build` and `update` (instance attributes, set once before
round 0): the round loop stays as it is and the wrapped calls still run in its worker thread.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path
from typing import Any

import msgpack

from protocol.wire import Claim as WireClaim
from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import BatchRecord, batch_digest, verify_records
from swarmclient.verify.settings import Fault

BLOB_FORMAT = "swarm-claim-evidence/1"
# RepOps tracing is process-wide (one active tracer; repops.trace): a traced re-execution
# (Verde keeps every op's tensors) must not overlap the peer's own generation or update in
# another worker thread. Everything here that runs torch holds this lock.
TORCH_LOCK = threading.Lock()
# Added to one weight by the CORRUPT_UPDATE fault: far above rounding, so it is never lost.
PERTURBATION = 0.01


def record_to_plain(record: BatchRecord) -> list:
    return [record.peer, record.task, [list(kv) for kv in record.params], record.seed, list(record.completions),
            [float(r) for r in record.rewards], [float(a) for a in record.advantages]]


def record_from_plain(item: Any) -> BatchRecord:
    if not isinstance(item, (list, tuple)) or len(item) != 7:
        raise SwarmError("bad-evidence", "a batch record is a list of 7 fields")
    peer, task, params, seed, completions, rewards, advantages = item
    if not (isinstance(peer, str) and isinstance(task, str) and isinstance(seed, int) and not isinstance(seed, bool)):
        raise SwarmError("bad-evidence", "record peer/task/seed have the wrong types")
    try:
        pairs = tuple((str(k), int(v)) for k, v in params)
        texts = tuple(c if isinstance(c, str) else _bad("completion") for c in completions)
        rews = tuple(float(r) for r in rewards)
        advs = tuple(float(a) for a in advantages)
    except (TypeError, ValueError) as exc:
        raise SwarmError("bad-evidence", f"record fields: {exc}") from None
    return BatchRecord(peer, task, pairs, seed, texts, rews, advs)


def _bad(what: str):
    raise TypeError(f"{what} is not a string")


def encode_evidence(claim: WireClaim, records: list[BatchRecord]) -> bytes:
    return msgpack.packb({"format": BLOB_FORMAT, "claim": claim.encode(),
                          "records": [record_to_plain(r) for r in records]}, use_bin_type=True)


def decode_evidence(blob: bytes, claim_digest: bytes) -> tuple[WireClaim, list[BatchRecord]]:
    """The claim and its batch from a fetched blob, checked against the digest the chain
    holds: the claim's digest, the records' digest, and every reward rescored here."""
    from protocol.errors import ProtocolError
    from protocol.wire.codec import unpack

    try:
        data = msgpack.unpackb(blob, raw=False)
    except (ValueError, msgpack.exceptions.ExtraData) as exc:
        raise SwarmError("bad-evidence", f"not msgpack: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != BLOB_FORMAT or not isinstance(data.get("claim"), bytes):
        raise SwarmError("bad-evidence", f"not a {BLOB_FORMAT} blob")
    try:
        claim = WireClaim.load(unpack(data["claim"], 64 * 1024))
    except (ProtocolError, ValueError, TypeError) as exc:
        raise SwarmError("bad-evidence", f"claim does not decode: {exc}") from None
    if claim.digest() != claim_digest:
        raise SwarmError("bad-evidence", "the claim's digest is not the one posted on chain")
    items = data.get("records")
    if not isinstance(items, list) or not items:
        raise SwarmError("bad-evidence", "no records")
    records = [record_from_plain(x) for x in items]
    if batch_digest(records) != claim.batch_digest.hex():
        raise SwarmError("bad-evidence", "the records' digest is not the claim's batch digest")
    problems = verify_records(records)
    if problems:
        raise SwarmError("bad-evidence", f"records do not rescore: {problems[0]}")
    return claim, records


class UpdateCapture:
    """Keeps, per update, the checkpoint before and the batch; applies a fault if told to."""

    def __init__(self, learner: Any, root: Path, fault: Fault = Fault.NONE) -> None:
        self.learner = learner
        self.root = root
        self.fault = fault
        self.ckpt_dir = root / "ckpt"
        self.claims_dir = root / "claims"
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.claims_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._built: dict[int, list[BatchRecord]] = {}
        self.faults_injected = 0
        self._orig_build = learner.build
        self._orig_update = learner.update
        self._orig_generate = learner.generate
        learner.build = self._build
        learner.update = self._update
        learner.generate = self._generate

    # -- the wrapped learner calls (worker thread) ------------------------------------------

    def _build(self, round_index: int, local: Any, external: Any) -> Any:
        batch = self._orig_build(round_index, local, external)
        with self._lock:
            self._built[round_index] = list(batch.records)
        return batch

    def _generate(self, round_index: int) -> Any:
        with TORCH_LOCK:
            return self._orig_generate(round_index)

    def _update(self, round_index: int, local: Any, external: Any) -> Any:
        with TORCH_LOCK:
            return self._locked_update(round_index, local, external)

    def _locked_update(self, round_index: int, local: Any, external: Any) -> Any:
        from repops import checkpoint
        from repops.step import state_tensors

        before = {k: v.detach().cpu().clone() for k, v in state_tensors(self.learner.model, self.learner.optimizer).items()}
        record = self._orig_update(round_index, local, external)
        with self._lock:
            records = self._built.pop(round_index, None)
        if records is None:  # build raised inside update: update raised too, so not reached
            raise SwarmError("capture", f"round {round_index}: no batch was built")
        checkpoint.save(before, self.ckpt_dir)
        if self.fault is Fault.CORRUPT_UPDATE:
            record = dataclasses.replace(record, ckpt_after=self._corrupt())
            self.faults_injected += 1
        claim = record.to_claim()
        self._write_claim(claim, records)
        return record

    def _corrupt(self) -> bytes:
        import torch

        from repops import checkpoint
        from repops.step import state_tensors

        name, param = sorted(self.learner.model.named_parameters())[0]
        with torch.no_grad():
            flat = param.view(-1)
            flat[0] = flat[0] + PERTURBATION
        return checkpoint.checkpoint_hash({k: v.cpu() for k, v in state_tensors(self.learner.model, self.learner.optimizer).items()})

    def _write_claim(self, claim: WireClaim, records: list[BatchRecord]) -> None:
        path = self.claims_dir / (claim.digest().hex() + ".msgpack")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(encode_evidence(claim, records))
        os.replace(tmp, path)

    # -- serving and reading back ------------------------------------------------------------

    def evidence_blob(self, claim_digest: bytes) -> bytes | None:
        if len(claim_digest) != 32:
            return None
        path = self.claims_dir / (claim_digest.hex() + ".msgpack")
        try:
            return path.read_bytes()
        except OSError:
            return None

    def checkpoint_blob(self, ckpt_hash: bytes) -> bytes | None:
        if len(ckpt_hash) != 32:
            return None
        try:
            return (self.ckpt_dir / (ckpt_hash.hex() + ".safetensors")).read_bytes()
        except OSError:
            return None

    def own_evidence(self, claim_digest: bytes) -> tuple[WireClaim, list[BatchRecord], dict] | None:
        """Our own claim, batch and starting checkpoint (after a restart too), or None."""
        from repops import checkpoint

        blob = self.evidence_blob(claim_digest)
        if blob is None:
            return None
        claim, records = decode_evidence(blob, claim_digest)
        path = self.ckpt_dir / (claim.ckpt_before.hex() + ".safetensors")
        if not path.exists():
            return None
        return claim, records, checkpoint.load(path, claim.ckpt_before)


def tensors_from_blob(blob: bytes, expected: bytes) -> dict:
    """A fetched checkpoint, rejected unless its Merkle root is `expected`."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from repops import checkpoint

    try:
        tensors = load(blob)
    except (SafetensorError, ValueError, OSError) as exc:
        raise SwarmError("bad-checkpoint", f"not a safetensors blob: {exc}") from None
    if checkpoint.checkpoint_hash(tensors) != expected:
        raise SwarmError("bad-checkpoint", "the checkpoint's hash is not the claimed one")
    return tensors


def settle_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


__all__ = ["UpdateCapture", "decode_evidence", "encode_evidence", "tensors_from_blob"]
