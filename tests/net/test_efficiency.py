"""Per-message costs that bench.gossip depends on: one validation per unique message,
queued messages sent as one RPC, and Yamux credit returned per half window, not per read."""

from __future__ import annotations

import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2

from protocol.wire import Kind
from swarmclient.net.gossip import PeerQueue

from netutil import claim, star


def _message_rpc(i: int, size: int = 100) -> rpc_pb2.RPC:
    return rpc_pb2.RPC(publish=[rpc_pb2.Message(data=bytes([i % 256]) * size, seqno=i.to_bytes(8, "big"))])


def test_queued_message_rpcs_go_out_as_one_and_order_is_kept():
    drops = []
    queue = PeerQueue(100, 1 << 20, ID(b"\x00\x01x"), lambda *a: drops.append(a))
    first = _message_rpc(0)
    for rpc in (first, _message_rpc(1), _message_rpc(2)):
        assert queue.push(rpc)
    control = rpc_pb2.RPC(control=rpc_pb2.ControlMessage(graft=[rpc_pb2.ControlGraft(topicID="t")]))
    queue.push(control)
    queue.push(_message_rpc(3))

    head = queue.pop()
    merged = queue.pop_more_messages(head, max_bytes=1 << 20)
    assert [m.seqno[-1] for m in merged.publish] == [0, 1, 2]
    assert len(first.publish) == 1  # the shared RPC object is not modified
    assert queue.pop() is control  # merging stops at a control RPC
    last = queue.pop()
    assert queue.pop_more_messages(last, max_bytes=1 << 20) is last
    assert queue.nbytes == 0 and len(queue) == 0 and not drops


def test_batches_respect_the_size_limit():
    queue = PeerQueue(100, 1 << 20, ID(b"\x00\x01x"), lambda *a: None)
    for i in range(10):
        queue.push(_message_rpc(i, size=1000))
    sizes = []
    while len(queue):
        rpc = queue.pop_more_messages(queue.pop(), max_bytes=3500)
        assert rpc.ByteSize() <= 3500
        sizes.append(len(rpc.publish))
    assert sum(sizes) == 10 and max(sizes) == 3


async def test_each_unique_message_is_validated_once_though_it_arrives_several_times():
    with trio.fail_after(60):
        async with star(4, swarm_id="once") as nodes:
            # Make it a full mesh: every message reaches each node over several paths.
            for i, a in enumerate(nodes[1:], start=1):
                for b in nodes[i + 1:]:
                    await a.connect(b.listen_addrs[0])
            for node in nodes:
                await node.wait_for_peers(3, kind=Kind.CLAIM, in_mesh=True)
            for round_no in range(10):
                for node in nodes:
                    await node.publish(claim(round_no))
            with trio.fail_after(20):
                while any(n.stats().received.get("claim", 0) < 30 for n in nodes):
                    await trio.sleep(0.05)
            await trio.sleep(0.5)
            for node in nodes:
                stats = node.stats()
                # A duplicate reaching the validator would be rejected as a replay.
                assert stats.received == {"claim": 30}
                assert stats.rejected == {}
                assert node._replay.stats().accepted == 30


async def test_yamux_credit_is_returned_per_half_window_not_per_read():
    with trio.fail_after(30):
        async with star(2, swarm_id="credit") as (a, b):
            updates = []
            for conn in b.host.get_network().get_connections(a.peer_id):
                for stream in conn.muxed_conn.streams.values():
                    original = stream.send_window_update

                    async def counting(increment, skip_lock=False, _original=original):
                        updates.append(increment)
                        await _original(increment, skip_lock)

                    stream.send_window_update = counting
            for round_no in range(40):  # 40 x ~250 B: far below half of the 256 KiB window
                await a.publish(claim(round_no))
            with trio.fail_after(10):
                for _ in range(40):
                    await b.inbox.receive()
            assert updates == []
