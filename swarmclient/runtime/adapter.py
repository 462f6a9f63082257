"""The runtime's seams to the wire format (protocol.wire) and the node (swarmclient.net).

Kept in one place so the round loop reads as rounds, not as library calls.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
from typing import Any

from protocol.wire import Capabilities, Envelope, Kind, Rollout, RolloutBatch, RolloutGroup
from swarmclient.runtime.synthetic import TASKS, synthetic_groups

# Until a policy exists, batches name a fixed placeholder checkpoint: the hash of this tag.
SYNTHETIC_CHECKPOINT = hashlib.sha256(b"swarm-synthetic-policy/0").digest()


def make_batch(peer_id: str, round_index: int, target_bytes: int | None = None) -> RolloutBatch:
    """The synthetic batch of a round. With a fixed `target_bytes` (benchmarks) the groups
    are generated once and reused, so generation cost does not throttle the offered rate."""
    if target_bytes is not None:
        return RolloutBatch(round=round_index, checkpoint=SYNTHETIC_CHECKPOINT, groups=_fixed_groups(peer_id, target_bytes))
    return RolloutBatch(round=round_index, checkpoint=SYNTHETIC_CHECKPOINT, groups=_groups(peer_id, round_index, None))


@functools.lru_cache(maxsize=4)
def _fixed_groups(peer_id: str, target_bytes: int) -> tuple[RolloutGroup, ...]:
    return _groups(peer_id, 0, target_bytes)


def _groups(peer_id: str, round_index: int, target_bytes: int | None) -> tuple[RolloutGroup, ...]:
    return tuple(
        RolloutGroup(
            task=g.task,
            params=dict(g.params),
            seed=g.seed,
            completions=tuple(Rollout(text=c, tokens=len(c.split())) for c in g.completions),
        )
        for g in synthetic_groups(peer_id, round_index, target_bytes)
    )


def batch_text_bytes(batch: RolloutBatch) -> int:
    return sum(len(r.text.encode()) for g in batch.groups for r in g.completions)


def as_rollout_batch(envelope: Envelope) -> tuple[str, int, int, int] | None:
    """(sender peer id, round, text bytes, sent ts ms) of a rollout batch; None otherwise."""
    if envelope.kind is not Kind.ROLLOUTS or not isinstance(envelope.body, RolloutBatch):
        return None
    return envelope.peer_text, envelope.body.round, batch_text_bytes(envelope.body), envelope.ts


def make_node(
    identity: Any, config: Any, home: Any, *, overrides: dict[str, Any] | None = None, device: Any = None,
    model: str = "synthetic",
) -> Any:
    """The runtime's libp2p node; `overrides` replace NodeConfig fields for this run
    (swarm join's --bootstrap/--listen/--swarm-id), `device` (runtime.device.DeviceInfo) and
    `model` (the training profile) go into the capability advert."""
    from swarmclient.net import Node, node_config_from

    node_config = node_config_from(config, home, **(overrides or {}))
    node: Any = None

    def capabilities() -> Capabilities:
        return peer_capabilities(
            identity.address, node.listen_addrs if node is not None else [], device=device, model=model
        )

    node = Node(identity.keypair, node_config, capabilities=capabilities)
    return node


def peer_capabilities(address: str, listen_addrs: list[str], *, device: Any = None, model: str = "synthetic") -> Capabilities:
    """What this peer can honestly advertise: its device and memory (when detected), the
    model profile it trains (`synthetic` without training), no throughput figure (no
    generation benchmark yet)."""
    kind, name, memory = "cpu", (platform.processor() or platform.machine() or "unknown"), _memory_bytes()
    if device is not None:
        kind, name = device.kind, device.name
        memory = device.accel_total if device.accel_total else device.ram_total
    return Capabilities(
        device_kind=kind,
        device_name=name[:128],
        memory_bytes=memory,
        throughput=0.0,
        model=model[:128],
        software=f"swarm/{_version()}",
        chain_address=bytes.fromhex(address[2:]),
        # 0.0.0.0 is where we listen, not where anyone can dial us.
        listen_addrs=tuple(a for a in listen_addrs if 0 < len(a) <= 256 and "/0.0.0.0/" not in a)[:16],
        specialties=tuple(sorted(TASKS)),
        rollout_mode="broadcast",
        shards=(),
    )


def synthetic_capabilities(address: str, listen_addrs: list[str]) -> Capabilities:
    """What a peer without a policy can honestly advertise."""
    return peer_capabilities(address, listen_addrs)


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _version() -> str:
    try:
        return importlib.metadata.version("swarm-rl")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


def received(node: Any) -> Any:
    """The node's channel of verified envelopes from other peers."""
    return node.inbox


def rollout_mesh_size(stats: Any) -> int:
    """Mesh peers on the rollouts topic (the topic the round loop depends on)."""
    for topic, count in stats.mesh_peers.items():
        if topic.endswith("/rollouts/1"):
            return count
    return 0
