"""GossipSub topic names, versioned, and rollout sharding.

    /swarm/<swarm-id>/caps/1
    /swarm/<swarm-id>/rollouts/1                 unsharded full batches (small swarms)
    /swarm/<swarm-id>/rollouts/shard-<k>/1       full batches of shard k
    /swarm/<swarm-id>/announce/1                 unsharded announcements
    /swarm/<swarm-id>/announce/shard-<k>/1       announcements of shard k
    /swarm/<swarm-id>/claims/1
    /swarm/<swarm-id>/disputes/1
"""

from __future__ import annotations

import hashlib
import re

from protocol.errors import ProtocolError
from protocol.wire.bodies import MAX_ROLLOUT_SHARDS, Kind
from protocol.wire.reasons import WireReason

TOPIC_VERSION = 1
SWARM_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
TOPIC_NAMES: dict[Kind, str] = {
    Kind.CAPS: "caps",
    Kind.ROLLOUTS: "rollouts",
    Kind.ROLLOUT_ANNOUNCE: "announce",
    Kind.CLAIM: "claims",
    Kind.DISPUTE: "disputes",
}
SHARDED_KINDS = frozenset({Kind.ROLLOUTS, Kind.ROLLOUT_ANNOUNCE})
_KIND_BY_NAME = {name: kind for kind, name in TOPIC_NAMES.items()}
_TOPIC = re.compile(r"/swarm/([A-Za-z0-9._-]{1,64})/([a-z]+)(?:/shard-(0|[1-9][0-9]{0,3}))?/([0-9]+)")


def _check_swarm_id(swarm_id: object) -> str:
    if not isinstance(swarm_id, str) or not SWARM_ID_PATTERN.fullmatch(swarm_id):
        raise ProtocolError(WireReason.BAD_VALUE, "swarm id must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return swarm_id


def _check_shard(shard: object) -> int:
    if type(shard) is not int or not 0 <= shard < MAX_ROLLOUT_SHARDS:
        raise ProtocolError(WireReason.BAD_VALUE, f"shard must be an int in [0, {MAX_ROLLOUT_SHARDS})")
    return shard


def topic_for(swarm_id: str, kind: Kind, shard: int | None = None) -> str:
    """The topic a message of `kind` is published on (see the module docstring)."""
    _check_swarm_id(swarm_id)
    if not isinstance(kind, Kind):
        raise ProtocolError(WireReason.UNKNOWN_KIND, f"not a Kind: {type(kind).__name__}")
    name = TOPIC_NAMES[kind]
    if shard is None:
        return f"/swarm/{swarm_id}/{name}/{TOPIC_VERSION}"
    if kind not in SHARDED_KINDS:
        raise ProtocolError(WireReason.BAD_VALUE, f"{kind.value} topics are not sharded")
    return f"/swarm/{swarm_id}/{name}/shard-{_check_shard(shard)}/{TOPIC_VERSION}"


def parse_topic(topic: str) -> tuple[str, Kind, int | None]:
    """(swarm id, kind, shard or None) of a topic name; WRONG_TOPIC if it is not one of ours."""
    match = _TOPIC.fullmatch(topic) if isinstance(topic, str) else None
    if match is None:
        raise ProtocolError(WireReason.WRONG_TOPIC, "not a swarm topic name")
    swarm_id, name, shard, version = match.groups()
    if int(version) != TOPIC_VERSION:
        raise ProtocolError(WireReason.WRONG_TOPIC, f"topic version {version}, this peer speaks {TOPIC_VERSION}")
    kind = _KIND_BY_NAME.get(name)
    if kind is None:
        raise ProtocolError(WireReason.WRONG_TOPIC, f"unknown topic kind {name!r}")
    if shard is not None and kind not in SHARDED_KINDS:
        raise ProtocolError(WireReason.WRONG_TOPIC, f"{name} topics are not sharded")
    shard_no = int(shard) if shard is not None else None
    if shard_no is not None and shard_no >= MAX_ROLLOUT_SHARDS:
        raise ProtocolError(WireReason.WRONG_TOPIC, f"shard {shard_no} >= {MAX_ROLLOUT_SHARDS}")
    return swarm_id, kind, shard_no


def shard_for_task(task: str, shard_count: int) -> int:
    """The rollout shard of a task name: first 8 bytes of sha256(b"swarm-shard/1\\0" || task), big-endian, mod shard_count."""
    if type(shard_count) is not int or not 1 <= shard_count <= MAX_ROLLOUT_SHARDS:
        raise ProtocolError(WireReason.BAD_VALUE, f"shard_count must be in [1, {MAX_ROLLOUT_SHARDS}]")
    if not isinstance(task, str):
        raise ProtocolError(WireReason.WRONG_TYPE, "task name must be a str")
    try:
        raw = task.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(WireReason.BAD_VALUE, "task name is not valid Unicode text") from None
    digest = hashlib.sha256(b"swarm-shard/1\0" + raw).digest()
    return int.from_bytes(digest[:8], "big") % shard_count
