"""The local ban list and the outbound queue accounting, on the real classes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.rpc_queue import RpcQueue

from swarmclient.net.gossip import PeerQueue, _SizedQueues
from swarmclient.net.reputation import Reputation
from swarmclient.net.stats import LatencySummary


def test_strikes_within_the_window_ban_and_the_ban_expires():
    rep = Reputation(threshold=3, window_s=10.0, ban_s=100.0)
    assert not rep.strike("p", now=0.0)
    assert not rep.strike("p", now=20.0)  # the first strike has left the window
    assert not rep.strike("p", now=21.0)
    assert rep.strike("p", now=22.0)  # third within 10 s: banned
    assert rep.is_banned("p", now=50.0)
    assert not rep.strike("p", now=51.0)  # already banned: no double ban
    assert rep.expired(now=121.0) == []
    assert rep.expired(now=123.0) == ["p"]
    assert not rep.is_banned("p", now=123.0)
    assert rep.strikes("p") == 0


def _peer() -> ID:
    return ID.from_pubkey(create_new_key_pair().public_key)


def _rpc(size: int) -> rpc_pb2.RPC:
    return rpc_pb2.RPC(publish=[rpc_pb2.Message(data=b"x" * size, topicIDs=["t"])])


def test_peer_queues_are_enlarged_byte_bounded_and_count_what_they_refuse():
    drops = []
    queues = _SizedQueues(size=5, max_bytes=10_000, on_drop=lambda where, peer, n: drops.append((where, peer, n)))
    peer = _peer()
    queue = RpcQueue()  # what Pubsub._handle_new_peer creates: 32 slots, silent drops
    queues[peer] = queue
    assert isinstance(queue._queue, PeerQueue)
    assert all(queue.push(_rpc(1000)) for _ in range(5))
    assert not queue.push(_rpc(10))  # count bound
    assert queues.queued_bytes(peer) == sum(_rpc(1000).ByteSize() for _ in range(5))
    assert drops == [("queue-full", peer, 1)]
    queue._queue.pop()
    assert not queue.push(_rpc(9_000))  # byte bound
    assert drops[-1] == ("queue-full", peer, 1)
    assert queue.push(rpc_pb2.RPC(control=rpc_pb2.ControlMessage()))


@given(st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=30))
def test_queue_byte_count_matches_its_contents(sizes):
    queue = PeerQueue(max_size=16, max_bytes=40_000, peer=_peer(), on_drop=lambda *a: None)
    kept = []
    for size in sizes:
        rpc = _rpc(size)
        if queue.push(rpc):
            kept.append(rpc.ByteSize())
        if len(kept) > 8:
            queue.pop()
            kept.pop(0)
        assert queue.nbytes == sum(kept)
        assert queue.nbytes <= 40_000 and len(queue) <= 16


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
def test_latency_percentiles_are_observed_values_in_order(samples):
    s = LatencySummary.of(samples)
    assert s.count == len(samples)
    assert s.p50_ms in samples and s.p95_ms in samples and s.max_ms == max(samples)
    assert s.p50_ms <= s.p95_ms <= s.max_ms
    assert sum(1 for x in samples if x <= s.p95_ms) >= 0.95 * len(samples)
