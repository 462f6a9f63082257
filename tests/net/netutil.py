"""Helpers for tests of swarmclient.net: real py-libp2p nodes on 127.0.0.1 (no mocks)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.wire import Capabilities, Claim, Kind
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
        for kind in (Kind.ROLLOUTS, Kind.CLAIM):
            await nodes[0].wait_for_peers(n - 1, kind=kind, in_mesh=True)
            for node in nodes[1:]:
                await node.wait_for_peers(1, kind=kind, in_mesh=True)
        try:
            yield nodes
        finally:
            nursery.cancel_scope.cancel()


class Hostile:
    """A real libp2p peer running py-libp2p's plain Pubsub/GossipSub: it can put any bytes
    on any topic (it does not run swarm's validator), signed at the pubsub layer with its
    own key as every py-libp2p peer does."""

    def __init__(self) -> None:
        from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
        from libp2p.pubsub.pubsub import Pubsub

        from protocol.wire import SeqCounter, Signer
        from swarmclient.net.host import make_host

        self.keypair = create_new_key_pair()
        self.signer = Signer(self.keypair)
        self.seq = SeqCounter()
        self.host = make_host(self.keypair, ["/ip4/127.0.0.1/tcp/0"])
        self.router = GossipSub(
            protocols=[PROTOCOL_ID_V11], degree=6, degree_low=4, degree_high=12, heartbeat_interval=1
        )
        self.pubsub = Pubsub(self.host, self.router)

    @property
    def peer_id(self):
        return self.host.get_id()

    def envelope(self, body, *, ts: int | None = None, signer=None) -> bytes:
        from protocol.wire import encode_message
        from swarmclient.net import now_ms

        return encode_message(signer or self.signer, body, seq=self.seq.next(), ts=now_ms() if ts is None else ts)

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        import multiaddr
        from libp2p.tools.anyio_service import background_trio_service

        async with self.host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            async with background_trio_service(self.pubsub), background_trio_service(self.router):
                await self.pubsub.wait_until_ready()
                task_status.started(self)
                await trio.sleep_forever()

    async def join(self, victim: Node, topics: list[str]) -> None:
        from libp2p.peer.peerinfo import info_from_p2p_addr
        import multiaddr

        for topic in topics:
            await self.pubsub.subscribe(topic)
        await self.host.connect(info_from_p2p_addr(multiaddr.Multiaddr(victim.listen_addrs[0])))
        for topic in topics:
            await self.pubsub.wait_for_subscription(victim.peer_id, topic, timeout=10)
            await self.pubsub.wait_for_mesh(victim.peer_id, topic, timeout=10)


def rollout_batch(round_no: int, size_bytes: int):
    """A RolloutBatch whose encoding is about `size_bytes` long."""
    import random

    from protocol.wire import Rollout, RolloutBatch, RolloutGroup

    rng = random.Random(round_no)
    per_text = 8 * 1024
    n = max(1, size_bytes // (per_text + 16))
    texts = ["".join(rng.choice("abcdefghij0123456789 +=") for _ in range(per_text)) for _ in range(min(n, 8))]
    completions = [Rollout(text=texts[i % len(texts)], tokens=per_text) for i in range(n)]
    groups = tuple(
        RolloutGroup(task="arith", params={"digits": 3}, seed=round_no * 1000 + g, completions=tuple(completions[g::4]))
        for g in range(min(4, n))
    )
    return RolloutBatch(round=round_no, checkpoint=b"\x07" * 32, groups=groups)


async def eof_within(sock: trio.SocketStream, seconds: float) -> bool:
    """True when the other end closes `sock` (EOF or reset) within `seconds`."""
    with trio.move_on_after(seconds):
        try:
            while await sock.receive_some(4096):
                pass
        except trio.BrokenResourceError:
            pass
        return True
    return False
