"""The I local + J external batch: sampling policy, rescoring, fallbacks, digest."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmclient.errors import SwarmError
from swarmclient.sapo import (
    BatchPolicy,
    ExternalSampling,
    RolloutGroup,
    batch_digest,
    build_batch,
    rescore_group,
    verify_records,
)
from swarmclient.tasks import regenerate

ROOT = Path(__file__).resolve().parents[2]


def group(peer: str, seed: int, task: str = "add", right: int = 1, size: int = 4, params=None) -> RolloutGroup:
    """`right` of `size` completions are the true answer, the rest a wrong one."""
    problem = regenerate(task, params or {}, seed)
    wrong = "x" if task != "add" else "-1"
    return RolloutGroup(peer, task, params or {}, seed, tuple([problem.answer + "\n"] * right + [wrong + "\n"] * (size - right)))


def locals_(n: int, start: int = 0) -> list[RolloutGroup]:
    return [group("me", 1000 + start + i) for i in range(n)]


def externals(counts: dict[str, int]) -> list[RolloutGroup]:
    return [group(peer, 10_000 * (k + 1) + i) for k, (peer, n) in enumerate(sorted(counts.items())) for i in range(n)]


def build(local, external, seed=0, **policy):
    return build_batch(local, external, own_peer="me", policy=BatchPolicy(**policy), seed=seed)


def test_counts_and_rescoring():
    batch = build(locals_(4), externals({"a": 3, "b": 3}), local_groups=4, external_groups=4)
    assert (batch.n_local, batch.n_external, batch.n_fill) == (4, 4, 0)
    assert len(batch.records) == 8 and not batch.rejected
    for record in batch.records:
        assert record.rewards == (1.0, 0.0, 0.0, 0.0)
        assert record.local == (record.peer == "me")


def test_uniform_across_distinct_peers_whatever_their_volume():
    pool = externals({"a": 1, "b": 10, "c": 40})
    picks = Counter(build([], pool, seed=s, external_groups=1).external_peers[0] for s in range(600))
    assert all(150 <= picks[p] <= 250 for p in "abc"), picks
    # Uniform over groups instead: the flooding peer takes most slots.
    flood = Counter(
        build([], pool, seed=s, external_groups=1, sampling=ExternalSampling.UNIFORM_GROUPS).external_peers[0]
        for s in range(300)
    )
    assert flood["c"] > 180, flood


def test_every_peer_once_before_any_twice():
    pool = externals({"a": 1, "b": 10, "c": 40})
    for seed in range(30):
        assert build([], pool, seed=seed, external_groups=3).external_peers == ("a", "b", "c")
        five = build([], pool, seed=seed, external_groups=5)
        # a has one group: after one pass over a, b, c, the second pass has b and c left.
        assert Counter(r.peer for r in five.records) == {"a": 1, "b": 2, "c": 2}


def test_deterministic_from_seed_not_arrival_order():
    pool = externals({"a": 5, "b": 5, "c": 5, "d": 5})
    first = build(locals_(4), pool, seed=7, external_groups=3)
    shuffled = build(locals_(4), pool[::-1], seed=7, external_groups=3)
    assert first.digest == shuffled.digest and first.records == shuffled.records
    digests = {build(locals_(4), pool, seed=s, external_groups=3).digest for s in range(20)}
    assert len(digests) > 10


def test_fewer_externals_than_j_are_filled_with_spare_locals():
    pool = externals({"a": 2})
    filled = build(locals_(8), pool, local_groups=4, external_groups=4)
    assert (filled.n_local, filled.n_external, filled.n_fill) == (6, 2, 2)
    assert len(filled.records) == 8
    # Not enough spare locals: the batch is as large as it can be.
    short = build(locals_(5), pool, local_groups=4, external_groups=4)
    assert (short.n_local, short.n_external, short.n_fill) == (5, 2, 1)
    # Fill disabled: I and what externals there are.
    bare = build(locals_(8), pool, local_groups=4, external_groups=4, fill_with_local=False)
    assert (bare.n_local, bare.n_external, bare.n_fill) == (4, 2, 0)
    none = build(locals_(2), [], local_groups=4, external_groups=4)
    assert (none.n_local, none.n_external) == (2, 0)


def test_poisoned_rollouts_gain_nothing():
    """A peer fills its group with the answer of another problem (a false ground truth) and
    would like it rewarded; the receiver regenerates the truth and scores it wrong."""
    seed, other = 555, 556
    false_answer = regenerate("add", {"digits": 5}, other).answer
    poisoned = RolloutGroup("evil", "add@1", {"digits": 5}, seed, (false_answer + "\n",) * 4)
    record = rescore_group(poisoned)
    assert max(record.rewards) < 0.5 and len(set(record.rewards)) == 1
    assert record.advantages == (0.0,) * 4
    batch = build([], [poisoned, *externals({"a": 3})], external_groups=2, drop_zero_advantage=True)
    assert "evil" not in batch.external_peers and batch.dropped_zero_advantage >= 1


def test_invalid_groups_are_rejected_with_reasons_and_take_no_slot():
    good = externals({"a": 2})
    bad = [
        RolloutGroup("m1", "nope", {}, 1, ("1\n",)),
        RolloutGroup("m2", "add@9", {}, 1, ("1\n",)),
        RolloutGroup("m3", "add", {"digits": 10**9}, 1, ("1\n",)),
        RolloutGroup("m4", "add", {}, -5, ("1\n",)),
        RolloutGroup("m5", "add", {}, 1, ("1\n",) * 1000),
        RolloutGroup("m6", "add", {}, 1, ("ÄÖÜ\n",)),
        RolloutGroup("m7", "add", {}, 1, ()),
        RolloutGroup("", "add", {}, 1, ("1\n",)),
        RolloutGroup("me", "add", {}, 1, ("1\n", "2\n")),
        dataclasses.replace(good[0], peer="copycat"),
        "not a group",
    ]
    batch = build([], good + bad, external_groups=4)
    assert batch.n_external == 2 and batch.external_peers == ("a",)
    reasons = Counter(r.reason for r in batch.rejected)
    assert reasons == {
        "unknown-task": 1, "task-version": 1, "bad-params": 1, "bad-seed": 1, "bad-group": 4,
        "out-of-vocab": 1, "from-self": 1, "duplicate": 1,
    }, reasons


def test_drop_zero_advantage_groups():
    flat = [group("z", 20 + i, right=0) for i in range(5)] + [group("y", 40 + i, right=4) for i in range(5)]
    informative = externals({"a": 1, "b": 1})
    kept = build(locals_(2) + [group("me", 3, right=0)], flat + informative, local_groups=3,
                 external_groups=4, drop_zero_advantage=True)
    assert kept.external_peers == ("a", "b") and kept.dropped_zero_advantage >= 11 - 2
    assert kept.n_local == 2
    assert all(len(set(r.rewards)) > 1 for r in kept.records)
    plain = build([], flat + informative, external_groups=4)
    assert plain.n_external == 4


def test_prefer_own_specialties():
    sorts = [group(p, 70 + i, task="sort") for i, p in enumerate("pq")]
    adds = externals({"a": 3, "b": 3, "c": 3})
    preferred = without = 0
    for seed in range(10):
        batch = build_batch([], adds + sorts, own_peer="me", seed=seed, specialties=frozenset({"sort"}),
                            policy=BatchPolicy(external_groups=3, prefer_specialties=True))
        assert batch.n_external == 3
        preferred += sum(r.task == "sort@1" for r in batch.records)
        without += sum(r.task == "sort@1" for r in build([], adds + sorts, seed=seed, external_groups=3).records)
    assert preferred == 20  # both sort groups, every time
    assert without < 18  # about 3 x 2/5 per batch when peers are drawn uniformly


def test_digest_is_canonical_and_verifiable():
    batch = build(locals_(3), externals({"a": 2, "b": 2}), local_groups=3, external_groups=3)
    assert batch.digest == batch_digest(batch.records[::-1]) == batch_digest(list(batch.records))
    assert verify_records(batch.records) == []
    tampered = list(batch.records)
    tampered[0] = dataclasses.replace(tampered[0], rewards=(1.0,) * 4)
    assert batch_digest(tampered) != batch.digest
    assert len(verify_records(tampered)) == 1
    flipped = dataclasses.replace(batch.records[0], advantages=tuple(-a for a in batch.records[0].advantages))
    malformed = dataclasses.replace(batch.records[0], params=(("digits",),))
    unknown = dataclasses.replace(batch.records[0], task="add@7")
    assert [p.split(":")[0] for p in verify_records([flipped, malformed, unknown])] == ["record 0", "record 1", "record 2"]
    changed = dataclasses.replace(tampered[1], completions=("0\n",) * 4)
    assert batch_digest([changed, *batch.records[2:]]) != batch_digest(batch.records[1:])


CHILD = """
import sys
from swarmclient.sapo import BatchPolicy, RolloutGroup, build_batch
from swarmclient.tasks import regenerate
groups = []
for peer in ("a", "b", "c"):
    for i in range(3):
        p = regenerate("sort", {}, 100 * ord(peer) + i)
        groups.append(RolloutGroup(peer, "sort", {}, 100 * ord(peer) + i, (p.answer + "\\n", p.answer[::-1] + "\\n")))
print(build_batch(groups[:2], groups[2:], own_peer="a", policy=BatchPolicy(2, 3), seed=9).digest)
"""


def test_same_batch_same_digest_in_another_process():
    env = dict(os.environ, PYTHONHASHSEED="0" if sys.flags.hash_randomization else "77", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    namespace: dict = {}
    lines = CHILD.replace("print(build_batch", "digest = (build_batch")
    exec(compile(lines, "child", "exec"), namespace)  # the same program, in this process
    assert done.stdout.strip() == namespace["digest"]


@pytest.mark.parametrize("bad", [dict(local_groups=-1), dict(external_groups=10**6), dict(max_group_size=0),
                                 dict(sampling="uniform")])
def test_bad_policy_refused(bad):
    with pytest.raises(SwarmError) as err:
        BatchPolicy(**bad)
    assert err.value.reason == "bad-policy"


@settings(max_examples=40)
@given(
    st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 6), min_size=0, max_size=8),
    st.integers(0, 12),
    st.integers(0, 2**32),
    st.randoms(use_true_random=False),
)
def test_sampling_invariants(counts, j, seed, shuffler):
    pool = externals(counts)
    batch = build([], pool, seed=seed, local_groups=0, external_groups=j, fill_with_local=False)
    assert batch.n_external == min(j, len(pool))
    per_peer = Counter(r.peer for r in batch.records)
    # Round-robin fairness: a peer gets one more slot than another only if that other ran out.
    for p, n in per_peer.items():
        for q in counts:
            if per_peer[q] < n - 1:
                assert per_peer[q] == counts[q], (per_peer, counts)
    shuffler.shuffle(pool)
    assert build([], pool, seed=seed, local_groups=0, external_groups=j, fill_with_local=False).digest == batch.digest
