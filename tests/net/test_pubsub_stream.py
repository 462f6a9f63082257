"""Regression tests for two py-libp2p pubsub stream bugs that crashed devnet peers:
interleaved concurrent writes of large RPCs, and an unparsable RPC killing the host."""

from __future__ import annotations

import trio
from libp2p.pubsub.pb import rpc_pb2
from libp2p.utils import encode_varint_prefixed

from libp2p.pubsub.validators import PUBSUB_SIGNING_PREFIX

from protocol.wire import Kind, encode_message
from swarmclient.net import now_ms

from netutil import Hostile, rollout_batch, star


async def test_concurrent_large_writes_on_one_stream_do_not_interleave():
    with trio.fail_after(60):
        async with star(2) as (a, b):
            stream = a.pubsub.peers[b.peer_id]
            topic = a.topic(Kind.ROLLOUTS)
            rpcs = []
            for i in range(8):
                data = encode_message(a._signer, rollout_batch(i, 300 * 1024), seq=a._seq.next(), ts=now_ms())
                msg = rpc_pb2.Message(data=data, topicIDs=[topic], from_id=a.peer_id.to_bytes(), seqno=i.to_bytes(8, "big"))
                # Signed as Pubsub.publish does: over the message without key and signature.
                signature = a.host.get_private_key().sign(PUBSUB_SIGNING_PREFIX.encode() + msg.SerializeToString())
                msg.key = a.host.get_public_key().serialize()
                msg.signature = signature
                rpcs.append(rpc_pb2.RPC(publish=[msg]))
            async with trio.open_nursery() as nursery:
                for rpc in rpcs:  # all at once, as the sending loop and a replay would
                    nursery.start_soon(a.pubsub.write_msg, stream, rpc)
            for _ in rpcs:
                env = await b.inbox.receive()
                assert env.kind is Kind.ROLLOUTS
            assert b.stats().received == {"rollouts": 8}
            assert "bad-rpc" not in b.stats().dropped


async def test_an_unparsable_rpc_is_counted_and_does_not_kill_the_node():
    with trio.fail_after(60):
        async with star(2) as (node, friend):
            async with trio.open_nursery() as nursery:
                hostile = Hostile()
                await nursery.start(hostile.serve)
                await hostile.join(node, [node.topic(Kind.CLAIM)])
                stream = hostile.pubsub.peers[node.peer_id]
                await stream.write(encode_varint_prefixed(b"\xff" * 40))
                with trio.fail_after(10):
                    while node.stats().dropped.get("bad-rpc", 0) < 1:
                        await trio.sleep(0.05)
                # The node is alive and gossiping with its honest peer.
                from netutil import claim

                await friend.publish(claim(1))
                env = await node.inbox.receive()
                assert env.sender == friend.peer_id.to_bytes()
                nursery.cancel_scope.cancel()
