"""Garbage on the TCP port, silent sockets, killed peers: the node keeps working."""

from __future__ import annotations

import os

import multiaddr
import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from swarmclient.errors import SwarmError
from swarmclient.net import Node, NodeConfig
from swarmclient.net.host import HANDSHAKE_TIMEOUT_S

from netutil import claim, eof_within, star

# More than py-libp2p's 300 connection slots (network/config.py MAX_CONNECTIONS).
IDLE_SOCKETS = 320


def _tcp_port(node: Node) -> int:
    return int(multiaddr.Multiaddr(node.listen_addrs[0]).value_for_protocol("tcp"))


async def test_garbage_half_open_and_silent_connections_do_not_stall_the_node():
    with trio.fail_after(60):
        async with star(2) as (target, friend):
            port = _tcp_port(target)
            # Random bytes, then hang up.
            for _ in range(10):
                sock = await trio.open_tcp_stream("127.0.0.1", port)
                await sock.send_all(os.urandom(2048))
                await sock.aclose()
            # A valid multistream header followed by garbage, left open.
            half_open = await trio.open_tcp_stream("127.0.0.1", port)
            await half_open.send_all(b"\x13/multistream/1.0.0\n" + os.urandom(64))
            # Many connections that never say anything.
            silent = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(IDLE_SOCKETS)]

            # The silent sockets come from the newcomer's own address (127.0.0.1), so they
            # fill that address's pending slots (net/admission.py, 16 by default) and the
            # newcomer is refused until the handshake timeout frees them; retrying as the
            # node's dial loop does, it gets in, and gossip flows both ways. (An attacker on
            # another address does not delay it at all: tests/net/test_admission.py.)
            newcomer = Node(create_new_key_pair(), NodeConfig(swarm_id="test"))
            async with trio.open_nursery() as nursery:
                await nursery.start(newcomer.serve)
                started = trio.current_time()
                while True:
                    try:
                        await newcomer.connect(target.listen_addrs[0], timeout=5)
                        break
                    except SwarmError:
                        assert trio.current_time() - started < HANDSHAKE_TIMEOUT_S + 5
                        await trio.sleep(0.25)
                await newcomer.wait_for_peers(1)
                await friend.publish(claim(1))
                with trio.fail_after(10):
                    env = await newcomer.inbox.receive()
                assert env.sender == friend.peer_id.to_bytes()
                await newcomer.publish(claim(2))
                with trio.fail_after(10):
                    env = await friend.inbox.receive()
                assert env.sender == newcomer.peer_id.to_bytes()
                nursery.cancel_scope.cancel()

            # Silent sockets are cut off by the handshake timeout, freeing their slots.
            assert await eof_within(silent[0], HANDSHAKE_TIMEOUT_S + 5)
            assert await eof_within(half_open, HANDSHAKE_TIMEOUT_S + 5)
            for sock in silent + [half_open]:
                await sock.aclose()


async def test_a_killed_peer_does_not_stall_the_others():
    with trio.fail_after(60):
        async with trio.open_nursery() as outer:
            nodes = []
            scopes = []
            for _ in range(4):
                node = Node(create_new_key_pair(), NodeConfig(swarm_id="test"))
                scope = trio.CancelScope()

                async def run(node=node, scope=scope, *, task_status=trio.TASK_STATUS_IGNORED):
                    with scope:
                        await node.serve(task_status=task_status)

                await outer.start(run)
                nodes.append(node)
                scopes.append(scope)
            for node in nodes[1:]:
                await node.connect(nodes[0].listen_addrs[0])
            for node in nodes[2:]:
                await node.connect(nodes[1].listen_addrs[0])
            await nodes[0].wait_for_peers(3)
            await nodes[1].wait_for_peers(3)

            scopes[1].cancel()  # node 1 dies mid-swarm (its sockets close)
            survivors = [nodes[0], nodes[2], nodes[3]]
            for i in range(20):
                for node in survivors:
                    await node.publish(claim(i))
            for node in survivors:
                for _ in range(20 * 2):
                    with trio.fail_after(15):
                        await node.inbox.receive()
                assert node.stats().received == {"claim": 40}
            dead = nodes[1].peer_id.to_base58()
            with trio.fail_after(15):
                while any(dead in node.stats().connected_peers for node in survivors):
                    await trio.sleep(0.1)
            outer.cancel_scope.cancel()


async def test_a_peer_that_stops_reading_does_not_stall_publishing_or_lose_messages_silently():
    from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11

    from protocol.wire import Kind

    from netutil import Hostile, rollout_batch

    with trio.fail_after(90):
        async with star(2, outbound_wait_s=1.0, outbound_high_water_bytes=2 * 1024 * 1024) as (node, honest):
            async with trio.open_nursery() as nursery:
                stalled = Hostile()

                async def never_read(stream):
                    await trio.sleep_forever()

                # Subscribes like any peer, but never reads what we send it.
                stalled.host.set_stream_handler(PROTOCOL_ID_V11, never_read)
                await nursery.start(stalled.serve)
                from libp2p.peer.peerinfo import info_from_p2p_addr

                topic = node.topic(Kind.ROLLOUTS)
                await stalled.pubsub.subscribe(topic)
                await stalled.host.connect(info_from_p2p_addr(multiaddr.Multiaddr(node.listen_addrs[0])))
                await node.pubsub.wait_for_subscription(stalled.peer_id, topic, timeout=10)
                await node.pubsub.wait_for_mesh(stalled.peer_id, topic, timeout=10)

                batches = [rollout_batch(i, 200 * 1024) for i in range(40)]
                started = trio.current_time()
                for batch in batches:
                    await node.publish(batch)
                publish_time = trio.current_time() - started
                for batch in batches:
                    with trio.fail_after(20):
                        assert (await honest.inbox.receive()).body == batch
                stats = node.stats()
                # Flow control waited for the stalled peer once (outbound_wait_s), marked
                # it stalled, and went on publishing for everyone else; or, on a slow
                # machine, py-libp2p's Yamux gave up writing to it first (5 s without
                # window) and dropped its stream. Either way it is counted.
                noticed = stats.events.get("peer-stalled", 0) + stats.events.get("pubsub-peer-lost", 0)
                assert noticed >= 1, (
                    stats.events, stats.dropped, stalled.peer_id in node.pubsub.peers,
                    {t[-12:]: len(p) for t, p in node.router.mesh.items()}, publish_time,
                )
                assert publish_time < 15
                assert honest.stats().received == {"rollouts": 40}
                nursery.cancel_scope.cancel()
