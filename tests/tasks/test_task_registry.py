"""Registry, regeneration of received rollouts, specialties and round sampling."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmclient.errors import SwarmError
from swarmclient.tasks import (
    CHAR_TASKS,
    SPECIALTIES,
    TASKS,
    TaskRng,
    derive_key,
    get_task,
    regenerate,
    round_seed_material,
    sample_instances,
    score_completion,
    specialty_tasks,
)


def test_registry_names_and_refs():
    assert {"add", "sub", "mul", "count", "reverse", "sort", "max"} <= set(CHAR_TASKS)
    for name, task in TASKS.items():
        assert task.name == name
        assert get_task(name) is task and get_task(task.ref) is task
        assert task.description and task.reward_doc


@pytest.mark.parametrize(
    "ref, reason",
    [
        ("nope", "unknown-task"),
        ("add@2", "task-version"),
        ("add@", "task-version"),
        ("", "unknown-task"),
        ("x" * 1000, "unknown-task"),
        (None, "unknown-task"),
        (7, "unknown-task"),
        ("rg.coin_flip", "task-denied"),
        ("rg.binary_matrix", "task-denied"),
        ("rg.not_a_dataset", "unknown-task"),
    ],
)
def test_unknown_or_refused_tasks(ref, reason):
    with pytest.raises(SwarmError) as err:
        regenerate(ref, {}, 1)
    assert err.value.reason == reason and err.value.detail


def test_receiver_regenerates_the_sender_problem():
    # A sender and a receiver share nothing but (task, params, seed).
    for name in CHAR_TASKS:
        sent = get_task(name).generate({}, 99)
        received = regenerate(sent.task, dict(sent.params), sent.seed)
        assert (received.prompt, received.answer) == (sent.prompt, sent.answer)
        assert score_completion(sent.task, dict(sent.params), sent.seed, sent.answer + "\n") == 1.0


def test_poisoned_completion_gains_nothing():
    """A peer 'answers' its rollout with the answer of a different problem (a false truth):
    the receiver scores against the truth it regenerates, so the reward is that of a wrong
    answer. Nothing on the wire can carry a ground truth or a reward."""
    task = get_task("add")
    real = task.generate({"digits": 4}, 1)
    false = task.generate({"digits": 4}, 2)
    assert false.answer != real.answer
    assert score_completion("add@1", {"digits": 4}, 1, false.answer + "\n") < 0.5
    assert score_completion("add@1", {"digits": 4}, 1, real.answer + "\n") == 1.0


def test_specialties():
    assert specialty_tasks(["arithmetic"]) == {"add", "sub", "mul"}
    assert specialty_tasks(["strings", "max"]) == {"reverse", "sort", "max"}
    for names in SPECIALTIES.values():
        assert all(name in TASKS for name in names)
    with pytest.raises(SwarmError) as err:
        specialty_tasks(["poetry"])
    assert err.value.reason == "unknown-specialty"


def test_round_sampling_is_deterministic_and_uses_every_task():
    key = round_seed_material("peer-a", 3)
    first = sample_instances(CHAR_TASKS, 200, key)
    assert first == sample_instances(CHAR_TASKS, 200, key)
    assert {inst.task.split("@")[0] for inst in first} == set(CHAR_TASKS)
    assert first != sample_instances(CHAR_TASKS, 200, round_seed_material("peer-a", 4))
    assert first != sample_instances(CHAR_TASKS, 200, round_seed_material("peer-b", 3))
    assert len({inst.seed for inst in first}) == 200
    inst = sample_instances(["reverse"], 1, key, params={"reverse": {"length": 9}})[0]
    assert len(inst.problem().answer) == 9
    with pytest.raises(SwarmError):
        sample_instances(["reverse"], 1, key, params={"reverse": {"length": 999}})
    with pytest.raises(SwarmError):
        sample_instances([], 1, key)


@given(st.binary(min_size=32, max_size=32), st.integers(1, 2**64))
def test_rng_below_matches_its_definition(key, n):
    rng = TaskRng(key)
    value = rng.below(n)
    assert 0 <= value < n
    # Redo the draw from the definition in the module docstring.
    limit = 2**64 - 2**64 % n
    counter = 0
    while True:
        block = hashlib.sha256(key + counter.to_bytes(8, "big")).digest()
        words = [int.from_bytes(block[i : i + 8], "big") for i in range(0, 32, 8)]
        accepted = [w for w in words if w < limit]
        if accepted:
            assert value == accepted[0] % n
            break
        counter += 1


def test_rng_is_roughly_uniform():
    rng = TaskRng(derive_key("uniformity"))
    counts = [0] * 7
    for _ in range(7000):
        counts[rng.below(7)] += 1
    assert all(850 < c < 1150 for c in counts), counts


def test_derive_key_is_unambiguous():
    assert derive_key("ab", "c") != derive_key("a", "bc")
    assert derive_key("1") != derive_key(1) != derive_key(b"1")
    with pytest.raises(ValueError):
        derive_key(-1)
