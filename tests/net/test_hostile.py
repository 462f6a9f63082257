"""Invalid gossip from a real hostile libp2p peer is rejected before relay, counted by
reason, lowers the peer's score, and ends with it graylisted and banned."""

from __future__ import annotations

import os

import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.wire import Kind, Signer
from swarmclient.net import Node, NodeConfig, now_ms

from netutil import Hostile, caps, claim

SWARM = "hostile"


async def _victim_and_bystander(nursery, **config):
    victim = Node(create_new_key_pair(), NodeConfig(swarm_id=SWARM, **config))
    bystander = Node(create_new_key_pair(), NodeConfig(swarm_id=SWARM))
    await nursery.start(victim.serve)
    await nursery.start(bystander.serve)
    await bystander.connect(victim.listen_addrs[0])
    await victim.wait_for_peers(1, kind=Kind.CLAIM)
    await bystander.wait_for_peers(1, kind=Kind.CLAIM)
    return victim, bystander


async def _wait_for(predicate, timeout=10.0):
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


async def test_invalid_gossip_is_rejected_by_reason_counted_and_not_relayed():
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            victim, bystander = await _victim_and_bystander(nursery, ban_threshold=1000)
            hostile = Hostile()
            await nursery.start(hostile.serve)
            claims, rollouts, disputes, caps_topic = (
                victim.topic(k) for k in (Kind.CLAIM, Kind.ROLLOUTS, Kind.DISPUTE, Kind.CAPS)
            )
            await hostile.join(victim, [claims, rollouts, disputes, caps_topic])

            # One valid message first: it proves the relay path to the bystander works.
            valid = hostile.envelope(claim(1))
            await hostile.pubsub.publish(claims, valid)
            for node in (victim, bystander):
                with trio.fail_after(10):
                    env = await node.inbox.receive()
                assert env.sender == hostile.peer_id.to_bytes()

            def bad_sig(body):
                good = hostile.envelope(body)
                return good[:-1] + bytes([good[-1] ^ 1])

            stranger = Signer(create_new_key_pair())
            junk = [
                (claims, bad_sig(claim(2)), "bad_signature"),
                (claims, bad_sig(claim(4)), "bad_signature"),
                # Same envelope, new pubsub message: counted, but a timing reason blames
                # nobody (tests/net/test_replay_blame.py), so no score change.
                (claims, valid, "replay"),
                (claims, hostile.envelope(claim(3), ts=now_ms() - 3_600_000), "stale"),
                (rollouts, os.urandom(400 * 1024), "oversize"),
                (rollouts, os.urandom(300), "malformed"),
                (caps_topic, hostile.envelope(caps(), signer=stranger), "sender_mismatch"),
                (disputes, hostile.envelope(caps()), "wrong_topic"),
            ]
            for topic, data, _ in junk:
                await hostile.pubsub.publish(topic, data)
            expected = {}
            for _, _, reason in junk:
                expected[reason] = expected.get(reason, 0) + 1
            await _wait_for(lambda: sum(victim.stats().rejected.values()) >= len(junk))
            stats = victim.stats()
            assert dict(stats.rejected) == expected
            assert dict(stats.rejected_by_sender) == {hostile.peer_id.to_base58(): expected}
            assert stats.received == {"claim": 1}

            # Three invalid messages on a topic (two bad signatures, one grossly stale) put
            # the hostile peer under the publish and graylist thresholds there: GossipSub now refuses its messages before validation.
            assert victim.stats().peer_scores[hostile.peer_id.to_base58()] < 0
            assert victim.router.scorer.is_graylisted(hostile.peer_id, [claims])
            await hostile.pubsub.publish(claims, hostile.envelope(claim(5)))
            await _wait_for(lambda: victim.stats().dropped.get("from-graylisted-peer", 0) >= 1)

            await trio.sleep(1.0)
            seen_by_bystander = bystander.stats()
            assert seen_by_bystander.received == {"claim": 1}
            assert seen_by_bystander.rejected == {}
            assert victim.stats().received == {"claim": 1}
            nursery.cancel_scope.cancel()


async def test_a_peer_that_keeps_sending_invalid_gossip_is_banned_and_disconnected():
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            victim, bystander = await _victim_and_bystander(nursery)  # default ban threshold (5)
            hostile = Hostile()
            await nursery.start(hostile.serve)
            topics = [victim.topic(k) for k in (Kind.CLAIM, Kind.ROLLOUTS)]
            await hostile.join(victim, topics)
            for i in range(6):
                await hostile.pubsub.publish(topics[i % 2], os.urandom(64))
            hid = hostile.peer_id
            await _wait_for(lambda: victim.is_banned(hid))
            assert hid.to_base58() in victim.stats().banned_peers
            await _wait_for(lambda: hid not in victim.connected_peers())
            assert victim.stats().rejected.get("malformed", 0) >= 5

            # It may reconnect at the transport level, but gets no gossip through and is cut off again.
            from libp2p.peer.peerinfo import info_from_p2p_addr
            import multiaddr

            try:
                await hostile.host.connect(info_from_p2p_addr(multiaddr.Multiaddr(victim.listen_addrs[0])))
            except Exception:  # noqa: BLE001 - the victim may reset the dial outright
                pass
            await hostile.pubsub.publish(topics[0], hostile.envelope(claim(9)))
            await _wait_for(lambda: hid not in victim.connected_peers())
            assert victim.stats().received == {}
            # The honest peer is unaffected.
            await bystander.publish(claim(7))
            with trio.fail_after(10):
                env = await victim.inbox.receive()
            assert env.sender == bystander.peer_id.to_bytes()
            nursery.cancel_scope.cancel()
