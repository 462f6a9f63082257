"""Durable state benchmark: what one round's state writes cost, and how long a restart takes.

    .venv/bin/python -m bench.state [--params 1000000] [--rounds 20] [--dir DIR] [--json]

A checkpoint of `--params` float32 parameters plus AdamW's two moments (3x the tensors, as
repops.step.state_tensors gives) is saved per round. Per round: begin_round, checkpoint save
(hash + safetensors + fsync + rename), complete_round (one FULL-sync transaction with the
claim), two claim status updates. Then resume_point (open + quick_check + verify the latest
checkpoint) and gc. Medians over `--rounds`. fsync costs depend on the disk: pass --dir to
measure the disk a peer's $SWARM_HOME is on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from protocol.wire import Claim
from repops.checkpoint import checkpoint_hash
from swarmclient.state import CheckpointStore, ClaimStatus, RoundResult, StateDB, resume_point


def state_at(step: int, params: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    w = torch.randn(params, generator=g)
    return {"w": w, "w.exp_avg": w * 0.1, "w.exp_avg_sq": w * w, "step": torch.tensor(step, dtype=torch.int64)}


def run(root: Path, params: int, rounds: int) -> dict:
    db = StateDB.open(root / "state.sqlite")
    store = CheckpointStore(root / "checkpoints")
    db.set_initial_checkpoint(store.save(state_at(0, params)))
    phases: dict[str, list[float]] = {"begin_round": [], "checkpoint_save": [], "complete_round": [], "claim_status_x2": []}
    for r in range(rounds):
        tensors = state_at(r + 1, params)
        before = store.latest(db)
        t0 = time.perf_counter()
        db.begin_round(r, before)
        t1 = time.perf_counter()
        after = checkpoint_hash(tensors)
        claim = Claim(round=r, ckpt_before=before, ckpt_after=after, batch_digest=hashlib.sha256(b"%d" % r).digest(),
                      hparams={"lr": 0.001}, trace_root=bytes(32), op_count=0, local_samples=8, external_samples=4)
        t2 = time.perf_counter()
        store.save(tensors, round=r, ckpt_before=before, claim=claim)
        t3 = time.perf_counter()
        db.complete_round(r, RoundResult(after), claim)
        t4 = time.perf_counter()
        db.set_claim_status(claim.digest(), ClaimStatus.SUBMITTED, tx_hash="0x" + "00" * 32)
        db.set_claim_status(claim.digest(), ClaimStatus.POSTED, block=r)
        t5 = time.perf_counter()
        phases["begin_round"].append(t1 - t0)
        phases["checkpoint_save"].append(t3 - t2)
        phases["complete_round"].append(t4 - t3)
        phases["claim_status_x2"].append(t5 - t4)
    db.close()
    t0 = time.perf_counter()
    with StateDB.open(root / "state.sqlite") as again:
        t1 = time.perf_counter()
        point = resume_point(again, store)
        t2 = time.perf_counter()
        store.gc(again, keep_last=3)
        t3 = time.perf_counter()
    assert point.next_round == rounds
    size = store.path(point.checkpoint).stat().st_size
    return {
        "params": params,
        "checkpoint_bytes": size,
        "rounds": rounds,
        "median_ms": {k: round(statistics.median(v) * 1000, 2) for k, v in phases.items()},
        "restart_ms": {"open_and_quick_check": round((t1 - t0) * 1000, 2),
                       "resume_point_with_verify": round((t2 - t1) * 1000, 2), "gc": round((t3 - t2) * 1000, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--dir", help="directory to measure in (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        result = run(Path(tmp), args.params, args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"checkpoint: {args.params:,} params x 3 tensors = {result['checkpoint_bytes'] / 1e6:.1f} MB")
    for k, v in result["median_ms"].items():
        print(f"  {k:<18} {v:>9.2f} ms (median of {args.rounds})")
    for k, v in result["restart_ms"].items():
        print(f"  {k:<26} {v:>9.2f} ms")


if __name__ == "__main__":
    main()
