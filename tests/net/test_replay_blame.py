"""Regression: a replayed message must never get its honest origin banned.

Bug: Node._reject struck the *origin* for every rejection reason, so anyone who captured
an honest peer's signed messages could replay them (stale, or as replays) to a victim more
times than the ban threshold and get the honest peer banned. Timing reasons now strike
nobody, except a grossly stale replay, which strikes the forwarder that dug it up.
"""

from __future__ import annotations

import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.pubsub.pb import rpc_pb2

from protocol.wire import Kind, WireReason
from swarmclient.net import Node, NodeConfig, now_ms
from swarmclient.net.reputation import Blame, TIMING_REASONS, blame_for

from netutil import Hostile, claim

SWARM = "replay-blame"
MAX_AGE_MS, MAX_FUTURE_MS, GRACE_MS = 1000, 1000, 3000  # grossly stale after 5 s
BAN_THRESHOLD = 5


def test_only_timing_reasons_spare_the_origin():
    for reason in WireReason:
        if reason in TIMING_REASONS:
            assert blame_for(reason) is Blame.NOBODY
        else:
            assert blame_for(reason) is Blame.ORIGIN
    assert blame_for(WireReason.STALE, grossly_stale=True) is Blame.FORWARDER
    assert {WireReason.STALE, WireReason.FUTURE, WireReason.REPLAY, WireReason.SEQ_TOO_OLD} == TIMING_REASONS


async def _wait_for(predicate, timeout=10.0):
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


async def _replay(attacker: Hostile, victim: Node, captured: list[rpc_pb2.Message], copies: int) -> None:
    """Write each captured pubsub message (origin's own signature intact) `copies` times."""
    stream = attacker.pubsub.peers[victim.peer_id]
    for _ in range(copies):
        for msg in captured:
            rpc = rpc_pb2.RPC()
            rpc.publish.append(msg)
            await attacker.pubsub.write_msg(stream, rpc)


async def test_replaying_an_honest_peers_messages_does_not_get_it_banned():
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            honest = Node(create_new_key_pair(), NodeConfig(swarm_id=SWARM))
            victim = Node(
                create_new_key_pair(),
                NodeConfig(
                    swarm_id=SWARM, max_age_ms=MAX_AGE_MS, max_future_ms=MAX_FUTURE_MS,
                    relay_grace_ms=GRACE_MS, ban_threshold=BAN_THRESHOLD,
                ),
            )
            await nursery.start(honest.serve)
            await nursery.start(victim.serve)
            topic = victim.topic(Kind.CLAIM)

            # An eavesdropper listens to the honest peer (the victim is not connected to
            # it, so it never sees the originals) and keeps its signed pubsub messages; its
            # accomplice, already in the victim's mesh, replays them. (Two identities: the
            # eavesdropper's router would itself hand its recent messages to a new peer.)
            eavesdropper, attacker = Hostile(), Hostile()
            await nursery.start(eavesdropper.serve)
            await nursery.start(attacker.serve)
            await attacker.join(victim, [topic])
            subscription = await eavesdropper.pubsub.subscribe(topic)
            await eavesdropper.join(honest, [topic])
            captured = []
            for i in range(8):
                await honest.publish(claim(i))
                with trio.fail_after(10):
                    captured.append(await subscription.get())
            assert all(m.from_id == honest.peer_id.to_bytes() for m in captured)
            # An ignored message is seen from then on, so each stage replays its own half.
            captured, captured_later = captured[:4], captured[4:]
            published_at = now_ms()
            hid, aid = honest.peer_id, attacker.peer_id

            # 1. Stale in flight (older than max_age, younger than the relay grace): counted,
            #    nobody struck, and later copies are duplicates of an ignored message.
            await trio.sleep(max(0.0, (MAX_AGE_MS + 300 - (now_ms() - published_at)) / 1000))
            await _replay(attacker, victim, captured, copies=3)
            await _wait_for(lambda: victim.stats().dropped.get("repeat-of-ignored", 0) >= 2 * len(captured))
            stats = victim.stats()
            assert now_ms() - published_at < MAX_AGE_MS + MAX_FUTURE_MS + GRACE_MS, "test too slow to mean anything"
            assert stats.rejected == {"stale": len(captured)}
            assert stats.rejected_by_sender == {aid.to_base58(): {"stale": len(captured)}}
            assert stats.dropped["repeat-of-ignored"] == 2 * len(captured)
            assert victim.reputation.strikes(hid.to_base58()) == 0
            assert victim.reputation.strikes(aid.to_base58()) == 0
            assert victim.stats().peer_scores[aid.to_base58()] >= 0  # ignored: no GossipSub penalty

            # 2. Grossly stale: no honest relay could have delivered that; the forwarder
            #    is struck (and graylisted by GossipSub), never the origin. More copies than
            #    the ban threshold.
            await trio.sleep(max(0.0, (MAX_AGE_MS + MAX_FUTURE_MS + GRACE_MS + 300 - (now_ms() - published_at)) / 1000))
            await _replay(attacker, victim, captured_later, copies=3)
            refused = 3 * len(captured_later)
            await _wait_for(
                lambda: victim.is_banned(aid)
                or victim.stats().rejected.get("stale", 0)
                + victim.stats().dropped.get("from-graylisted-peer", 0)
                + victim.stats().dropped.get("from-banned-peer", 0)
                >= len(captured) + refused
            )
            stats = victim.stats()
            assert stats.rejected["stale"] > len(captured)
            assert set(stats.rejected_by_sender) == {aid.to_base58()}
            assert not victim.is_banned(hid)
            assert hid.to_base58() not in stats.banned_peers
            assert victim.reputation.strikes(hid.to_base58()) == 0
            assert victim.reputation.strikes(aid.to_base58()) > 0 or victim.is_banned(aid)
            assert victim.router.scorer.is_graylisted(aid, [topic])
            assert stats.received == {}

            # The honest peer, meeting the victim now, is neither banned nor graylisted,
            # and its new messages are delivered.
            await honest.connect(victim.listen_addrs[0])
            await honest.wait_for_peers(1, kind=Kind.CLAIM, in_mesh=True)
            assert not victim.router.scorer.is_graylisted(hid, [topic])
            sent = await honest.publish(claim(99))
            with trio.fail_after(10):
                env = await victim.inbox.receive()
            assert env.sender == hid.to_bytes() and env.seq == sent.seq
            assert not victim.is_banned(hid)
            nursery.cancel_scope.cancel()
