"""Policy glue, generation, warm start, the update and its claim record, poisoning."""

from __future__ import annotations

from protocol.wire.codec import unpack


def _roundtrip(kind, body):
    """Through the real wire codec: canonical bytes and back."""
    return kind.load(unpack(body.encode(), 1 << 20))

import pytest
import torch

from repops.model import CHARSET as MODEL_CHARSET
from repops.model import Policy
from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import RolloutGroup
from swarmclient.sapo.policy import (
    END_ID,
    completion_text,
    encode,
    estimate_step_bytes,
    memory_guard,
    pack_records,
    pick_device,
    task_charset_fits_model,
)
from swarmclient.sapo.update import ZERO_ROOT, SapoLearner, mean_reward
from swarmclient.sapo.warmstart import warm_start, warm_start_key
from swarmclient.tasks.registry import get_task
from swarmclient.tasks.vocab import CHARSET as TASK_CHARSET


def test_task_charset_is_in_the_model_vocabulary():
    assert task_charset_fits_model()
    assert set(TASK_CHARSET) <= set(MODEL_CHARSET)
    assert encode("add 1+2=") == [MODEL_CHARSET.index(c) for c in "add 1+2="]
    with pytest.raises(SwarmError):
        encode("ADD")


def test_canonical_completion_rule():
    ids = encode("12\n34")
    assert completion_text(ids, 10) == "12\n"  # up to and including ANSWER_END
    assert completion_text(encode("1234"), 3) == "123"  # at most max_new
    assert completion_text(encode("12") + [0] + encode("3"), 9) == "12"  # EOS ends it
    assert completion_text(encode("7") + [MODEL_CHARSET.index("A")] + encode("8"), 9) == "7"  # foreign char
    assert END_ID == MODEL_CHARSET.index("\n")


def test_memory_guard_refuses_oversized_steps(small_cfg):
    assert memory_guard(small_cfg.model, 16, 32).fits
    assert estimate_step_bytes(small_cfg.model, 2 * 16, 32) > estimate_step_bytes(small_cfg.model, 16, 32)
    with pytest.raises(SwarmError, match="memory"):
        memory_guard(small_cfg.model, 10**9, 32)
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(SwarmError):
        pick_device("tpu")


def test_warm_start_is_cached_by_content(small_cfg, warm_cache, warm_model):
    again = warm_start(small_cfg, warm_cache, "cpu")
    for (n, a), (_, b) in zip(warm_model.named_parameters(), again.named_parameters()):
        assert torch.equal(a, b), n
    assert len(list(warm_cache.glob("warmstart-*.safetensors"))) == 1
    from dataclasses import replace

    assert warm_start_key(replace(small_cfg, warm_steps=21)) != warm_start_key(small_cfg)
    assert warm_start_key(replace(small_cfg, lr=1.0)) == warm_start_key(small_cfg)  # RL knobs do not matter
    # Not a random init: the warm start has learned something of the task format.
    assert any(not torch.equal(a, b) for (_, a), (_, b) in zip(warm_model.named_parameters(), Policy(small_cfg.model).named_parameters()))


def test_generation_is_reproducible_and_records_logp_old(small_cfg, warm_model):
    a = SapoLearner("peer-a", small_cfg, warm_model)
    b = SapoLearner("peer-a", small_cfg, warm_model)
    ga, gb = a.generate(3), b.generate(3)
    assert [g.group for g in ga] == [g.group for g in gb]
    assert [g.group for g in a.generate(4)] != [g.group for g in ga]
    other = SapoLearner("peer-b", small_cfg, warm_model).generate(3)
    assert [g.group for g in other] != [g.group for g in ga]
    for g in ga:
        assert len(g.group.completions) == small_cfg.group_size
        for text, logps in zip(g.group.completions, g.logp_old):
            # Every sampled character, and the EOS only where the sampler chose to stop there
            # (after a final newline the next token is cut off, never a decision).
            assert len(logps) == len(text) + (0 if text.endswith("\n") else 1) and all(v <= 0 for v in logps)
    # The update's old_logp of a local row equals what generation recorded (same checkpoint).
    locals_ = [g.group for g in ga]
    batch = a.build(3, locals_, [])
    tensors = pack_records(batch.records, small_cfg.model)
    from repops.step import sampling_logps

    logps = sampling_logps(a.model, tensors)
    recorded = {(g.group.seed, c): lp for g in ga for c, lp in zip(g.group.completions, g.logp_old)}
    row = 0
    for record in batch.records:
        for c in record.completions:
            got = tuple(float(v) for v in logps[row][tensors.mask[row] == 1])
            assert got == recorded[(record.seed, c)]
            row += 1


def test_update_is_deterministic_and_yields_a_claim(small_cfg, warm_model):
    peers = [SapoLearner(f"p{k}", small_cfg, warm_model) for k in range(3)]
    groups = {p.peer_id: [g.group for g in p.generate(0)] for p in peers}
    external = groups["p1"] + groups["p2"]
    twin = SapoLearner("p0", small_cfg, warm_model)
    r1 = peers[0].update(0, groups["p0"], external)
    r2 = twin.update(0, groups["p0"], list(reversed(external)))  # arrival order does not matter
    assert r1 == r2
    assert r1.ckpt_before != r1.ckpt_after and r1.ckpt_after == peers[0].checkpoint_hash()
    assert r1.steps == small_cfg.epochs
    assert r1.local_groups == 2 and r1.external_groups == 2
    assert r1.local_samples == 2 * small_cfg.group_size and r1.external_samples == 2 * small_cfg.group_size
    assert len(r1.batch_digest) == 32 and len(r1.hparams_digest) == 32
    claim = r1.to_claim()
    assert claim.trace_root == ZERO_ROOT and claim.batch_digest == r1.batch_digest
    assert claim.hparams["digest"] == r1.hparams_digest.hex()
    from protocol.wire import Claim

    assert _roundtrip(Claim, claim) == claim


def _lying_group(peer: str) -> RolloutGroup:
    """A group whose completions are the truths of OTHER seeds, sent as if correct."""
    task = get_task("max")
    wrong = []
    seed = 11
    truth = task.generate({}, seed).answer
    s = 100
    while len(wrong) < 4:
        other = task.generate({}, s).answer
        if other != truth:
            wrong.append(other + "\n")
        s += 1
    return RolloutGroup(peer, "max@1", {}, seed, tuple(wrong))


def test_poisoned_rollouts_are_rescored_and_gain_nothing(small_cfg, warm_model):
    learner = SapoLearner("honest", small_cfg, warm_model)
    local = [g.group for g in learner.generate(0)]
    liar = _lying_group("liar")
    assert mean_reward([liar]) == 0.0
    batch = learner.build(0, local, [liar])
    record = next(r for r in batch.records if r.peer == "liar")
    assert record.rewards == (0.0,) * 4 and record.advantages == (0.0,) * 4
    tensors = pack_records(batch.records, small_cfg.model)
    start = sum(len(r.completions) for r in batch.records[: batch.records.index(record)])
    assert torch.equal(tensors.weights[start : start + 4], torch.zeros(4))  # no push towards the lie
    # A group carrying a reward or answer field is refused outright, not trusted.
    forged = RolloutGroup("liar2", "max@1", {"reward": 1}, 12, ("9\n",) * 4)
    again = learner.build(0, local, [forged])
    assert [r.reason for r in again.rejected] == ["bad-params"] and again.n_external == 0
