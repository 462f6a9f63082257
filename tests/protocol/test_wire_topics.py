"""Topic names, their parsing, and the rollout shard rule."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.wire import MAX_ROLLOUT_SHARDS, Kind, WireReason, parse_topic, shard_for_task, topic_for

SWARM_IDS = st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True)


def test_topic_names():
    assert topic_for("dev", Kind.CAPS) == "/swarm/dev/caps/1"
    assert topic_for("dev", Kind.ROLLOUTS) == "/swarm/dev/rollouts/1"
    assert topic_for("dev", Kind.ROLLOUTS, 7) == "/swarm/dev/rollouts/shard-7/1"
    assert topic_for("dev", Kind.ROLLOUT_ANNOUNCE) == "/swarm/dev/announce/1"
    assert topic_for("dev", Kind.ROLLOUT_ANNOUNCE, 0) == "/swarm/dev/announce/shard-0/1"
    assert topic_for("dev", Kind.CLAIM) == "/swarm/dev/claims/1"
    assert topic_for("dev", Kind.DISPUTE) == "/swarm/dev/disputes/1"


@given(swarm_id=SWARM_IDS, kind=st.sampled_from(list(Kind)), shard=st.none() | st.integers(0, MAX_ROLLOUT_SHARDS - 1))
def test_topics_parse_back(swarm_id, kind, shard):
    if shard is not None and kind not in (Kind.ROLLOUTS, Kind.ROLLOUT_ANNOUNCE):
        with pytest.raises(ProtocolError):
            topic_for(swarm_id, kind, shard)
        return
    assert parse_topic(topic_for(swarm_id, kind, shard)) == (swarm_id, kind, shard)


@pytest.mark.parametrize("swarm_id, shard", [("", None), ("a/b", None), ("x" * 65, None), ("ok", -1), ("ok", 1024), ("ok", True)])
def test_bad_topic_arguments(swarm_id, shard):
    with pytest.raises(ProtocolError) as err:
        topic_for(swarm_id, Kind.ROLLOUTS, shard)
    assert err.value.reason is WireReason.BAD_VALUE


@pytest.mark.parametrize(
    "topic",
    [
        "/swarm/dev/caps/2",  # other version
        "/swarm/dev/caps",
        "/swarm/dev/gossip/1",
        "/swarm/dev/claims/shard-1/1",  # claims are not sharded
        "/swarm/dev/rollouts/shard-01/1",  # not the canonical spelling
        "/swarm/dev/rollouts/shard-1024/1",
        "/swarm//caps/1",
        "swarm/dev/caps/1",
        b"/swarm/dev/caps/1",
    ],
)
def test_foreign_topics_are_refused(topic):
    with pytest.raises(ProtocolError) as err:
        parse_topic(topic)
    assert err.value.reason is WireReason.WRONG_TOPIC


def test_shard_rule_matches_its_definition():
    for task in ["arith", "sort", "é-task", "reasoning_gym:chain_sum"]:
        digest = hashlib.sha256(b"swarm-shard/1\0" + task.encode()).digest()
        for count in (1, 2, 16, 1024):
            assert shard_for_task(task, count) == int.from_bytes(digest[:8], "big") % count
    assert shard_for_task("arith", 1) == 0
    with pytest.raises(ProtocolError):
        shard_for_task("arith", 0)
