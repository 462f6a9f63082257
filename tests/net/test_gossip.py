"""Gossip between real py-libp2p nodes on loopback: delivery, counting, stats."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.wire import Kind
from swarmclient.errors import SwarmError
from swarmclient.net import Node, NodeConfig

from netutil import caps, claim, star

N_NODES = 4
PER_NODE = 15


async def test_every_message_reaches_every_other_peer_exactly_once():
    with trio.fail_after(40):
        async with star(N_NODES) as nodes:
            sent = {}
            for node in nodes:
                for i in range(PER_NODE):
                    env = await node.publish(claim(i))
                    sent[(node.peer_id.to_bytes(), env.seq)] = env
            got: dict[int, Counter] = {i: Counter() for i in range(N_NODES)}
            for i, node in enumerate(nodes):
                for _ in range(PER_NODE * (N_NODES - 1)):
                    env = await node.inbox.receive()
                    got[i][(env.sender, env.seq)] += 1
                    assert sent[(env.sender, env.seq)].body == env.body
            await trio.sleep(1.0)  # a duplicate would arrive within a heartbeat or two
            for i, node in enumerate(nodes):
                expected = {k for k in sent if k[0] != node.peer_id.to_bytes()}
                assert set(got[i]) == expected
                assert set(got[i].values()) == {1}
                with pytest.raises(trio.WouldBlock):
                    node.inbox.receive_nowait()
                stats = node.stats()
                assert stats.published == {"claim": PER_NODE}
                assert stats.received == {"claim": PER_NODE * (N_NODES - 1)}
                assert stats.rejected == {}
                assert stats.dropped == {}
                assert len(stats.received_by_sender) == N_NODES - 1
                assert stats.latency.count == PER_NODE * (N_NODES - 1)
                assert 0 <= stats.latency.p50_ms <= stats.latency.p95_ms <= stats.latency.max_ms


async def test_publish_before_serve_is_refused():
    node = Node(create_new_key_pair(), NodeConfig(swarm_id="t"))
    with pytest.raises(SwarmError) as info:
        await node.publish(caps())
    assert info.value.reason == "not-running"


async def test_capability_table_and_stats_snapshot_is_frozen():
    with trio.fail_after(30):
        async with star(3) as nodes:
            await nodes[1].publish(caps("alpha"))
            for node in (nodes[0], nodes[2]):
                env = await node.inbox.receive()
                assert env.kind is Kind.CAPS
            table = nodes[2].capabilities()
            assert set(table) == {nodes[1].peer_id.to_base58()}
            assert table[nodes[1].peer_id.to_base58()].capabilities.device_name == "alpha"
            snap = nodes[0].stats()
            with pytest.raises(Exception):
                snap.received["caps"] = 5  # type: ignore[index]
            report = snap.to_json()
            assert report["capabilities"][nodes[1].peer_id.to_base58()]["capabilities"]["device_name"] == "alpha"
            assert len(report["connected_peers"]) == 2


async def test_large_rollout_batches_are_delivered_and_oversize_refused_at_publish():
    from protocol.errors import ProtocolError
    from protocol.wire import MAX_MESSAGE_BYTES, WireReason

    from netutil import rollout_batch

    with trio.fail_after(60):
        async with star(3) as nodes:
            big = [rollout_batch(i, 200 * 1024) for i in range(6)]
            for batch in big:
                await nodes[1].publish(batch)
            for node in (nodes[0], nodes[2]):
                for batch in big:
                    env = await node.inbox.receive()
                    assert env.body == batch
                assert node.stats().dropped == {}
            too_big = rollout_batch(99, MAX_MESSAGE_BYTES[Kind.ROLLOUTS] + 10_000)
            with pytest.raises(ProtocolError) as info:
                await nodes[1].publish(too_big)
            assert info.value.reason is WireReason.OVERSIZE
            assert nodes[1].stats().published == {"rollouts": 6}


async def test_capabilities_are_advertised_to_peers_that_join_later():
    from netutil import caps as make_caps

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            early_caps = make_caps("early")
            early = Node(
                create_new_key_pair(), NodeConfig(swarm_id="caps", caps_interval_s=3600), capabilities=lambda: early_caps
            )
            await nursery.start(early.serve)
            await trio.sleep(0.6)  # its first advert reached nobody
            late = Node(create_new_key_pair(), NodeConfig(swarm_id="caps"))
            await nursery.start(late.serve)
            await late.connect(early.listen_addrs[0])
            env = await late.inbox.receive()
            # The node fills in its own listen addresses when the app leaves them empty.
            expected = dataclasses.replace(early_caps, listen_addrs=tuple(early.listen_addrs))
            assert env.kind is Kind.CAPS and env.body == expected
            assert late.stats().capabilities[early.peer_id.to_base58()].capabilities == expected
            nursery.cancel_scope.cancel()


async def test_inbox_overflow_is_counted_not_silent():
    with trio.fail_after(30):
        async with star(2, inbox_size=3) as (a, b):
            for i in range(10):
                await a.publish(claim(i))
            with trio.fail_after(10):
                while b.stats().received.get("claim", 0) < 10:
                    await trio.sleep(0.05)
            stats = b.stats()
            assert stats.dropped == {"inbox-overflow": 7}
            assert [ (await b.inbox.receive()).body.round for _ in range(3)] == [0, 1, 2]


async def test_a_restarted_peer_is_not_mistaken_for_a_replay_of_itself():
    """Regression: py-libp2p seeds pubsub seqnos with whole seconds (a quick restart
    reused message ids: dropped as seen), and kept the dead connection's pubsub stream (a
    reconnecting peer never got our subscriptions)."""
    keypair = create_new_key_pair()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            listener = Node(create_new_key_pair(), NodeConfig(swarm_id="restart"))
            await nursery.start(listener.serve)
            for life in range(2):
                talker = Node(keypair, NodeConfig(swarm_id="restart"))
                scope = trio.CancelScope()

                async def run(talker=talker, scope=scope, *, task_status=trio.TASK_STATUS_IGNORED):
                    with scope:
                        await talker.serve(task_status=task_status)

                await nursery.start(run)
                await talker.connect(listener.listen_addrs[0])
                await talker.wait_for_peers(1, kind=Kind.CLAIM)
                await listener.wait_for_peers(1, kind=Kind.CLAIM)
                for i in range(30):  # more messages than seconds between the two lives
                    await talker.publish(claim(life * 100 + i))
                for _ in range(30):
                    with trio.fail_after(10):
                        env = await listener.inbox.receive()
                    assert env.body.round // 100 == life
                scope.cancel()
                while talker.peer_id in listener.connected_peers():
                    await trio.sleep(0.05)
            assert listener.stats().received == {"claim": 60}
            assert listener.stats().dropped == {}
            nursery.cancel_scope.cancel()


async def test_sharded_rollout_topics_reach_only_their_subscribers():
    from netutil import rollout_batch

    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            nodes = []
            for shards in ((3,), (3,), (5,)):
                node = Node(create_new_key_pair(), NodeConfig(swarm_id="shards", shards=shards))
                await nursery.start(node.serve)
                nodes.append(node)
            sender, same, other = nodes
            for node in (same, other):
                await node.connect(sender.listen_addrs[0])
            topic = sender.topic(Kind.ROLLOUTS, 3)
            with trio.fail_after(10):
                while same.peer_id not in sender.pubsub.peer_topics.get(topic, ()):
                    await trio.sleep(0.05)
            await sender.wait_for_peers(2)
            batch = rollout_batch(1, 4096)
            await sender.publish(batch, shard=3)
            env = await same.inbox.receive()
            assert env.body == batch
            await trio.sleep(1.0)
            assert other.stats().received == {}
            with pytest.raises(trio.WouldBlock):
                other.inbox.receive_nowait()
            nursery.cancel_scope.cancel()
