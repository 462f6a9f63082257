"""Helpers for tests of swarmclient.net: real py-libp2p nodes on 127.0.0.1 (no mocks)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.wire import Capabilities, Claim
from swarmclient.net import Node, NodeConfig


def caps(name: str = "test") -> Capabilities:
    return Capabilities(
        device_kind="cpu",
        device_name=name,
        memory_bytes=1 << 30,
        throughput=1.5,
        model="tiny",
        software="swarm/test",
        chain_address=b"",
        listen_addrs=(),
        specialties=(),
        rollout_mode="broadcast",
        shards=(),
    )


def claim(round_no: int, op_count: int = 1) -> Claim:
    return Claim(
        round=round_no,
        ckpt_before=b"\x01" * 32,
        ckpt_after=b"\x02" * 32,
        batch_digest=b"\x03" * 32,
        hparams={"lr": 0.001},
        trace_root=b"\x04" * 32,
        op_count=op_count,
        local_samples=4,
        external_samples=4,
    )


@asynccontextmanager
async def star(n: int, *, swarm_id: str = "test", **config):
    """n nodes, nodes 1..n-1 dialled into node 0, all joined on every topic."""
    async with trio.open_nursery() as nursery:
        nodes = []
        for _ in range(n):
            node = Node(create_new_key_pair(), NodeConfig(swarm_id=swarm_id, **config))
            await nursery.start(node.serve)
            nodes.append(node)
        for node in nodes[1:]:
            await node.connect(nodes[0].listen_addrs[0])
        await nodes[0].wait_for_peers(n - 1)
        for node in nodes[1:]:
            await node.wait_for_peers(1)
        try:
            yield nodes
        finally:
            nursery.cancel_scope.cancel()
