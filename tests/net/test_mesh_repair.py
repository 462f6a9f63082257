"""Small meshes that cannot lose messages: flood publishing, and gossip to peers in PRUNE
backoff (swarmclient/net/gossip.py SwarmGossipSub). Real py-libp2p nodes on loopback."""

from __future__ import annotations

from contextlib import asynccontextmanager

import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.wire import Kind
from swarmclient.net import DEGREE_HIGH, Node, NodeConfig

from netutil import claim, star


@asynccontextmanager
async def nodes_joined(n: int, edges: list[tuple[int, int]]):
    """n nodes dialled along `edges` (i dials j), each waiting until its neighbours have
    joined the claims topic."""
    async with trio.open_nursery() as nursery:
        nodes = []
        for _ in range(n):
            node = Node(create_new_key_pair(), NodeConfig(swarm_id="repair"))
            await nursery.start(node.serve)
            nodes.append(node)
        degree = [0] * n
        for i, j in edges:
            await nodes[i].connect(nodes[j].listen_addrs[0])
            degree[i] += 1
            degree[j] += 1
        for node, d in zip(nodes, degree):
            await node.wait_for_peers(d, kind=Kind.CLAIM)
        try:
            yield nodes
        finally:
            nursery.cancel_scope.cancel()


def _peers_to_send(node: Node, forwarder, origin) -> set:
    topic = node.topic(Kind.CLAIM)
    return set(node.router._get_peers_to_send([topic], msg_forwarder=forwarder, origin=origin))


async def test_own_messages_go_to_every_topic_peer_not_only_the_mesh():
    """Flood publishing: a spoke left out of the hub's mesh still gets the hub's own
    messages directly; messages the hub only forwards follow the mesh."""
    with trio.fail_after(30):
        async with star(DEGREE_HIGH + 2, swarm_id="flood") as (hub, *spokes):
            topic = hub.topic(Kind.CLAIM)
            outsider = spokes[0]
            # Take it out of the hub's mesh the way a heartbeat PRUNE does, with backoff on
            # both sides, so that no heartbeat puts it back during the test.
            await hub.router.emit_prune(topic, outsider.peer_id, False, False)
            hub.router.mesh[topic].discard(outsider.peer_id)
            hub.router._add_back_off(outsider.peer_id, topic, False)
            with trio.fail_after(5):
                while hub.peer_id in outsider.router.mesh.get(topic, ()):
                    await trio.sleep(0.02)

            own = _peers_to_send(hub, hub.peer_id, hub.peer_id)
            assert own == {s.peer_id for s in spokes}
            forwarded = _peers_to_send(hub, spokes[1].peer_id, spokes[1].peer_id)
            assert outsider.peer_id not in forwarded
            assert forwarded <= hub.router.mesh[topic]

            env = await hub.publish(claim(1))
            for spoke in spokes:
                with trio.fail_after(5):
                    got = await spoke.inbox.receive()
                assert (got.sender, got.seq) == (env.sender, env.seq)


async def test_a_peer_every_neighbour_pruned_still_gets_messages_by_gossip():
    """Regression: py-libp2p 0.8.1 sends IHAVE only to peers outside PRUNE backoff, so a
    peer that all its neighbours have pruned (whose mesh stays empty for the minute of
    backoff) heard nothing at all. Line origin - relay - isolated: the isolated peer is
    taken out of the relay's mesh with backoff both ways; the origin's messages must
    still reach it (IHAVE from the relay, then IWANT)."""
    with trio.fail_after(40):
        async with nodes_joined(3, [(1, 0), (2, 1)]) as (origin, relay, isolated):
            topic = relay.topic(Kind.CLAIM)
            with trio.fail_after(10):
                while isolated.peer_id not in relay.router.mesh.get(topic, ()):
                    await trio.sleep(0.05)
            await relay.router.emit_prune(topic, isolated.peer_id, False, False)
            relay.router.mesh[topic].discard(isolated.peer_id)
            relay.router._add_back_off(isolated.peer_id, topic, False)
            with trio.fail_after(5):
                while isolated.router.mesh.get(topic):
                    await trio.sleep(0.02)
            assert relay.router._check_back_off(isolated.peer_id, topic)
            assert isolated.router._check_back_off(relay.peer_id, topic)

            sent = [await origin.publish(claim(i)) for i in range(3)]
            got = []
            with trio.fail_after(10):  # a few heartbeats (1 s each)
                while len(got) < len(sent):
                    got.append(await isolated.inbox.receive())
            assert {(e.sender, e.seq) for e in got} == {(e.sender, e.seq) for e in sent}
            assert not isolated.router.mesh.get(topic)  # it came by gossip, not by mesh
            assert isolated.stats().events["gossip-iwant-sent"] >= len(sent)  # and is counted
            assert relay.stats().events["gossip-iwant-received"] >= len(sent)
            assert isolated.stats().dropped == {}


async def test_eight_peers_joining_at_once_all_get_every_message():
    """All-to-all dials at once (the devnet's start) with the small mesh: every message
    reaches every peer, however the meshes settle."""
    n = 8
    edges = [(i, j) for i in range(n) for j in range(i)]
    with trio.fail_after(60):
        async with nodes_joined(n, edges) as nodes:
            await trio.sleep(2.5)  # let the heartbeats GRAFT and PRUNE down to D_hi
            topic = nodes[0].topic(Kind.CLAIM)
            assert all(len(node.router.mesh.get(topic, ())) <= DEGREE_HIGH for node in nodes)
            sent = []
            for node in nodes:
                for i in range(3):
                    sent.append(await node.publish(claim(i)))
            for node in nodes:
                expected = {(e.sender, e.seq) for e in sent if e.sender != node.peer_id.to_bytes()}
                got = set()
                with trio.fail_after(10):
                    while len(got) < len(expected):
                        env = await node.inbox.receive()
                        got.add((env.sender, env.seq))
                assert got == expected
                assert node.stats().dropped == {}
