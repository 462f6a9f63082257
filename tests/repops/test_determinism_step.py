"""The determinism suite of issue 3: a full training step of the tiny policy (forward,
backward, AdamW) gives the same checkpoint hash and trace root with 1 or 2 threads, in a fresh
process; rows give the same bits in any batch grouping
(test_model.py); every op record of a step (forward, backward, AdamW) agrees bit for bit with
the numpy reference (repops.reference) re-run on its recorded inputs. Plus replay and openings."""

from __future__ import annotations

import json
import os
from dataclasses import replace
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from repops import checkpoint, merkle, reference, trace
from repops.errors import RepOpsError
from numpy_replay import reference_outputs
from repops.model import Policy, PolicyConfig
from repops.step import Batch, StepConfig, make_optimizer, replay, state_tensors, train_step

CFG = StepConfig(model=PolicyConfig(context=16, d_model=32, n_layer=2, n_head=4, d_mlp=64), lr=1e-2, weight_decay=0.01)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_batch(rows: int = 8, t: int = 16, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(0, CFG.model.vocab_size, (rows, t + 1), generator=g)
    mask = torch.ones(rows, t)
    mask[:, :3] = 0  # a prompt that is not trained on
    weights = torch.randn(rows, generator=g)  # advantages of both signs
    return Batch(toks[:, :-1].contiguous(), toks[:, 1:].contiguous(), mask, weights)


def run_steps(threads: int, micro_batches: int = 1) -> list[dict]:
    """Two consecutive steps (the second starts from non-zero AdamW moments)."""
    torch.set_num_threads(threads)
    model = Policy(CFG.model, seed=5)
    opt = make_optimizer(model, CFG)
    out = []
    for k in range(2):
        r = train_step(model, opt, make_batch(seed=k), micro_batches=micro_batches)
        out.append({"before": r.ckpt_before.hex(), "after": r.ckpt_after.hex(), "trace": r.trace_root.hex(),
                    "ops": r.op_count, "loss": float(np.float32(r.loss).view(np.uint32))})
    return out


HERE = Path(__file__).parent


def run_in_fresh_process(threads: int) -> dict:
    code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); sys.path.insert(0, {os.getcwd()!r}); "
            f"from test_determinism_step import run_steps; "
            f"print(json.dumps({{'whole': run_steps({threads}), 'micro': run_steps({threads}, micro_batches=2)}}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_same_hashes_with_one_or_two_threads_and_in_a_fresh_process():
    """In this process with 1 thread vs a fresh process with 2 threads, for the whole-batch
    step and for a micro-batched one (micro_batches = k is a committed hyperparameter: a
    different op sequence, as reproducible as the whole-batch step)."""
    whole, micro = run_steps(1), run_steps(1, micro_batches=2)
    assert whole[0]["after"] == whole[1]["before"] and whole[0]["trace"] != whole[1]["trace"]
    assert micro[0]["ops"] > whole[0]["ops"]
    assert run_in_fresh_process(2) == {"whole": whole, "micro": micro}


def test_same_hashes_with_two_threads_in_process():
    assert run_steps(2) == run_steps(1)


def test_the_step_learns_and_commits_to_every_tensor():
    model = Policy(CFG.model, seed=1)
    opt = make_optimizer(model, CFG)
    rows = make_batch()
    batch = Batch(rows.tokens, rows.targets, torch.ones(8, 16), torch.ones(8))
    losses = [train_step(model, opt, batch, trace_ops=False).loss for _ in range(4)]
    assert losses[-1] < losses[0]  # supervised (all weights 1): the loss goes down
    state = state_tensors(model, opt)
    assert state["step"].item() == 4 and state["step"].dtype == torch.int64
    n_params = len(list(model.named_parameters()))
    assert len(state) == 3 * n_params + 1
    assert any(k.endswith(".exp_avg_sq") for k in state)


def test_replay_from_a_saved_checkpoint_opens_any_op(tmp_path):
    model = Policy(CFG.model, seed=2)
    opt = make_optimizer(model, CFG)
    train_step(model, opt, make_batch(seed=9), trace_ops=False)  # non-trivial optimizer state
    digest, path = checkpoint.save(state_tensors(model, opt), tmp_path)
    batch = make_batch(seed=3)
    claim = train_step(model, opt, batch)
    assert claim.ckpt_before == digest

    rep = replay(path, batch, CFG)
    assert (rep.result.ckpt_after, rep.result.trace_root, rep.result.op_count) == (claim.ckpt_after, claim.trace_root, claim.op_count)
    tracer = rep.tracer
    ops = [r.op for r in tracer.records]
    assert ops.count("adamw") == len(list(model.named_parameters()))
    for index in (0, ops.index("softmax"), ops.index("linear.backward"), claim.op_count - 1):
        opening = tracer.open(index)
        assert trace.verify_record(claim.trace_root, opening.proof)
        for side, tensors, roots in (("input", opening.inputs, opening.proof.record.input_roots),
                                     ("output", opening.outputs, opening.proof.record.output_roots)):
            for position, (t, root) in enumerate(zip(tensors, roots)):
                assert merkle.tensor_root(t) == root
                last = t.numel() - 1
                proof = tracer.prove_element(index, side, position, last)
                assert merkle.verify_element(root, proof) == t.reshape(-1)[last].item()

    # The last record is an AdamW update whose outputs are tensors of the checkpoint after.
    last = tracer.open(claim.op_count - 1)
    assert last.proof.record.op == "adamw"
    after = state_tensors(model, opt)
    assert any(torch.equal(last.outputs[0], after[name]) for name, _ in model.named_parameters())
    assert checkpoint.checkpoint_hash(checkpoint.load(checkpoint.save(after, tmp_path)[1])) == claim.ckpt_after

    with pytest.raises(RepOpsError, match="checkpoint_mismatch"):
        replay(path, batch, StepConfig(model=PolicyConfig(context=16, d_model=64, n_head=4)))
    other = replay(path, make_batch(seed=4), CFG)
    assert other.result.trace_root != claim.trace_root and other.result.ckpt_before == claim.ckpt_before


def test_bad_batches_are_rejected():
    model = Policy(CFG.model)
    opt = make_optimizer(model, CFG)
    good = make_batch()
    bad = [
        Batch(good.tokens.to(torch.int32), good.targets, good.mask, good.weights),
        Batch(good.tokens, good.targets.clamp(max=0) + CFG.model.vocab_size, good.mask, good.weights),
        Batch(good.tokens, good.targets, good.mask * 0.5, good.weights),
        Batch(good.tokens, good.targets, good.mask, good.weights * float("nan")),
        Batch(good.tokens, good.targets, good.mask, good.weights[:3]),
    ]
    for batch in bad:
        with pytest.raises(RepOpsError, match="bad_batch"):
            train_step(model, opt, batch)
    with pytest.raises(RepOpsError, match="bad_batch"):
        train_step(model, opt, good, micro_batches=3)
    assert opt.step_count == 0


# ------------------------------------------------------------------ numpy reference re-run


@pytest.mark.parametrize("micro_batches, activation", [(1, "relu"), (2, "relu"), (1, "gelu")])
def test_every_op_of_the_step_matches_the_numpy_reference(micro_batches, activation):
    """Forward, backward and AdamW: every record of a step (the second, from non-zero moments)
    recomputed by repops.reference from its recorded inputs gives the recorded outputs."""
    cfg = replace(CFG, model=replace(CFG.model, activation=activation))
    model = Policy(cfg.model, seed=6)
    opt = make_optimizer(model, cfg)
    train_step(model, opt, make_batch(seed=1), trace_ops=False)
    result = train_step(model, opt, make_batch(seed=2), keep_tensors=True, micro_batches=micro_batches)
    tracer = result.tracer
    unchecked = []
    for i, rec in enumerate(tracer.records):
        opening = tracer.open(i)
        got = [t.detach().numpy() for t in opening.outputs]
        expected = reference_outputs(rec.op, [t.detach().numpy() for t in opening.inputs], opening.attrs,
                                     [g.shape for g in got])
        if expected is None:
            unchecked.append(rec.op)
            continue
        assert len(expected) == len(got), rec.op
        for e, g in zip(expected, got):
            e = np.asarray(e, dtype=g.dtype)
            assert e.shape == g.shape, rec.op
            assert reference.same_bits(e, g), f"op {i} ({rec.op}) differs from the numpy reference"
    assert unchecked == []
    ops = {r.op for r in tracer.records}
    assert {"linear.backward", "softmax.backward", "layer_norm.backward", "adamw", "fanout.backward"} <= ops
    assert {activation, activation + ".backward"} <= ops


def test_pack_rows_marks_completion_targets_only():
    from repops.model import EOS, encode
    from repops.step import pack_rows

    batch = pack_rows([encode("1+2="), encode("123456789+1=")], [encode("3"), encode("123456790")], [0.5, -1.0], 12)
    assert batch.tokens.shape == (2, 12)
    # row 0: "1+2=3<eos>" -> targets "+2=3<eos>", trained on "3" and EOS
    assert batch.tokens[0, :5].tolist() == encode("1+2=3") and batch.targets[0, :5].tolist() == encode("+2=3") + [EOS]
    assert batch.mask[0].tolist() == [0, 0, 0, 1, 1] + [0] * 7
    # row 1: 22 tokens + EOS, keeps the last 13: the prompt's start is dropped
    row = encode("123456789+1=123456790") + [EOS]
    assert batch.tokens[1].tolist() == row[-13:-1] and batch.targets[1].tolist() == row[-12:]
    assert batch.mask[1].tolist() == [0, 0] + [1] * 10
    assert batch.weights.tolist() == [0.5, -1.0]
    batch.validate(CFG.model)
    with pytest.raises(RepOpsError, match="bad_batch"):
        pack_rows([[]], [[1]], [1.0], 8)
