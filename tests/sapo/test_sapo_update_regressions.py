"""Regression tests for the bugs found while making the RL update improve the policy (issue 5):
which positions the loss trains, the sampling temperature, the warm-start cache key, the
direction of an update and the optimizer state across rounds."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from repops.step import sampling_logps
from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import RolloutGroup
from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.policy import encode, pack_fixed, pack_records
from swarmclient.sapo.update import SapoLearner
from swarmclient.sapo.warmstart import warm_start_key
from swarmclient.tasks.registry import get_task


def test_loss_covers_the_sampled_decisions_only(small_cfg):
    # Bug: pack_rows also trained the EOS appended after a final newline, a token the
    # sampler never chose (the canonical rule cuts everything after the newline).
    prompt = encode("max 3,9=")
    completions = ["9\n", "9", "", "12\n"]
    batch = pack_fixed([prompt] * 4, [encode(c) for c in completions], [1.0, -1.0, 0.5, -0.5], small_cfg.model)
    first = len(prompt) - 1  # the position whose target is the first completion token
    for row, text in enumerate(completions):
        trained = [t for t in range(small_cfg.model.context) if batch.mask[row, t] == 1]
        stop = 0 if text.endswith("\n") else 1  # an EOS the sampler chose is a decision
        assert trained == list(range(first, first + len(text) + stop))
        targets = [int(batch.targets[row, t]) for t in trained]
        assert targets == encode(text) + ([0] if stop else [])
    assert int(batch.mask[:, :first].sum()) == 0  # never the prompt


def test_temperature_other_than_one_is_refused():
    # Bug: sampling at temperature t while the update scored softmax(logits) trained on a
    # distribution that did not produce the samples.
    with pytest.raises(SwarmError) as err:
        SapoConfig(temperature=0.7)
    assert err.value.reason == "bad-config"


def test_warm_start_key_follows_task_order_and_weights(small_cfg):
    # Bug: the key sorted the task list, but the data depends on its order and repeats, so
    # two different warm starts shared one cache file.
    swapped = replace(small_cfg, tasks=tuple(reversed(small_cfg.tasks)))
    weighted = replace(small_cfg, tasks=small_cfg.tasks + ("max",))
    keys = {warm_start_key(small_cfg), warm_start_key(swapped), warm_start_key(weighted)}
    assert len(keys) == 3


def _sequence_logps(learner: SapoLearner, group: RolloutGroup) -> list[float]:
    records = learner.build(0, [group], []).records
    tensors = pack_records(records, learner.cfg.model)
    logps = sampling_logps(learner.model, tensors)
    by_text = {}
    row = 0
    for record in records:
        for text in record.completions:
            by_text[text] = float((logps[row] * tensors.mask[row]).sum())
            row += 1
    return [by_text[t] for t in group.completions]


def _mixed_group() -> RolloutGroup:
    """A group of `max` with one right and three wrong answers: a non-zero advantage."""
    task = get_task("max")
    truth = task.generate({}, 5).answer
    wrong = "0" if truth != "0" else "1"
    return RolloutGroup("me", task.ref, {}, 5, (truth + "\n", wrong + "\n", wrong + "\n", wrong + "\n"))


def test_an_update_raises_the_good_completion_and_lowers_the_bad(small_cfg, warm_model):
    group = _mixed_group()
    cfg = replace(small_cfg, local_groups=1, external_groups=0, lr=1e-3)
    learner = SapoLearner("me", cfg, warm_model)
    before = _sequence_logps(learner, group)
    for r in range(3):
        learner.update(r, [group], [])
    after = _sequence_logps(learner, group)
    assert after[0] > before[0] and after[1] < before[1]


def test_optimizer_state_carries_over_rounds(small_cfg, warm_model):
    cfg = replace(small_cfg, local_groups=1, external_groups=0)
    learner = SapoLearner("me", cfg, warm_model)
    first = learner.update(0, [_mixed_group()], [])
    second = learner.update(1, [_mixed_group()], [])
    assert second.ckpt_before == first.ckpt_after  # the same checkpoint, moments included
    # One AdamW across rounds: a fresh one per round would restart its step count and
    # moments and take full-size sign steps again (Adam's first steps are ~lr per weight).
    assert learner.optimizer.step_count == 2 * cfg.epochs
    assert any(bool((learner.optimizer.moments(p)[1] > 0).any()) for p in learner.model.parameters())
