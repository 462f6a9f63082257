"""GossipSub configured for swarm, and the small subclasses that make its losses visible.

py-libp2p 0.8.1 drops messages silently in several places; each is handled here and the
reason is written next to the code (file and the line's code in site-packages/libp2p):

- pubsub/pubsub.py `notify_subscriptions`: `send_nowait` into a 32-slot channel
  (`SUBSCRIPTION_CHANNEL_SIZE = 32`), `except trio.WouldBlock: ... ignore this message`.
  We override `notify_subscriptions` to hand each accepted message straight to the node,
  which puts it in its own bounded channel and counts any overflow.
- pubsub/rpc_queue.py `OutBoundQueueSize = 32`, used by `queue = RpcQueue()` in
  `Pubsub._handle_new_peer` with no way to configure it; a full queue makes
  `GossipSub.send_rpc` call `drop_rpc`, which only logs. `peer_queues` is replaced by a
  dict that enlarges every new queue and counts each rejected push.
- pubsub/gossipsub.py `GossipSub.__init__(..., heartbeat_interval: int = 120, ...)`: with
  a two-minute heartbeat a mesh that loses a peer is not repaired for two minutes and the
  scorer never decays. We use 1 s.
- pubsub/gossipsub.py `_check_spam_protection` (`max_messages_per_topic_per_second = 10.0`)
  runs in `GossipSub.publish` with `msg_forwarder` = ourselves for our own messages, so
  our 11th message in a second is never sent to anyone. It is switched off
  (`spam_protection_enabled=False`); the topic validator and peer scoring judge peers.
- pubsub/pubsub.py `Pubsub.validate_msg` caches each verdict by message id
  (`self.validation_cache`), so a re-sent invalid message is rejected without our
  validator seeing it and without being counted. The cache is disabled: our validator is
  cheap and must see every message.
"""

from __future__ import annotations

import contextvars
import random
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator

import trio
from google.protobuf.message import DecodeError
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub, ValidationCache, ValidationResult
from libp2p.pubsub.rpc_queue import PriorityQueue, RpcQueue
from libp2p.pubsub.score import ScoreParams, TopicScoreParams

# (where, peer, count): "where" names a counter of NodeStats.dropped (or of .events for
# the names in node.py's EVENT_NAMES).
DropHook = Callable[[str, ID | None, int], None]

# Per-peer outbound queue bounds. Our own publishes wait for room (Node.publish), so the
# queue mostly absorbs relayed traffic and control bursts; it only fills behind a stalled
# peer, whose refused RPCs are counted (`dropped["queue-full"]`).
OUTBOUND_QUEUE_SIZE = 4096
OUTBOUND_QUEUE_BYTES = 64 * 1024 * 1024

# Under load a peer's outbound queue holds several message RPCs; they go out as one RPC
# of up to this size (one frame, one encryption, one read at the other end instead of
# one each). Nothing waits to be batched: only what is already queued is merged.
SEND_BATCH_BYTES = 128 * 1024

# GossipSub mesh degrees: D=4, D_lo=3, D_hi=6 (the spec's defaults are 6/4/12). With
# 8 fully connected peers D=6 puts every peer in every mesh, and each message crossed the
# wire 49 times for 7 deliveries; CPU per message then sets the latency of a 2-core
# machine. With flood publishing (SwarmGossipSub._get_peers_to_send: our own messages
# reach every directly connected peer in one hop) the mesh only has to carry messages
# onward, and 4/3/6 sends 26-27 copies per message (3/2/4: 23). Measured in one process
# with 8 peers at 50 msg/s of 2 KB: 18-19.5 ms CPU per message at 6/4/12, 14-15 at 4/3/6.
# Smaller meshes used to lose messages here: py-libp2p 0.8.1 leaves a peer that all its
# neighbours PRUNEd (common when all join at once) with an empty mesh for the minute of
# backoff, and sent it no gossip either; see SwarmGossipSub.gossip_heartbeat for the fix,
# and tests/net/test_mesh_repair.py.
DEGREE, DEGREE_LOW, DEGREE_HIGH = 4, 3, 6
HEARTBEAT_INTERVAL_S = 1.0
# Gossip emission (IHAVE) per heartbeat: the spec's D_lazy and gossip factor.
GOSSIP_LAZY, GOSSIP_FACTOR = 6, 0.25
_GOSSIPSUB_PROTOCOLS = frozenset({PROTOCOL_ID_V11, PROTOCOL_ID_V12})
# go-libp2p sends IDONTWANT for messages over 1 KiB to save bandwidth. In Python the cost
# that matters is per RPC, and one IDONTWANT per mesh peer costs about what the duplicate
# it prevents does: with 6 in-process peers (devnet topology) at 50 msg/s of 2 KB, 1 KiB
# gave 20-24 ms CPU per message and p95 4-6 s, 16 KiB 11-13 ms and p95 0.6-1.7 s; for
# 200 KB messages the two were the same. So only large messages get IDONTWANT.
IDONTWANT_MIN_BYTES = 16 * 1024
# Message ids stay in the seen cache this long; must exceed the wire's freshness window
# so a duplicate arriving late is dropped as a duplicate, never flagged as a replay.
SEEN_TTL_S = 600

# Peer scoring (libp2p/pubsub/score.py). Only P4 (invalid messages) is weighted: each
# invalid message costs 10 points, decaying by 1% per heartbeat (half-life ~70 s).
# py-libp2p applies `allow_publish` (publish_threshold) to *incoming* messages
# (pubsub/pubsub.py push_msg: "Rejecting message from %s by publish score gate"), before
# validation, so a peer under the publish threshold can never sink further through our
# validator; the graylist threshold is therefore set equal to it (the spec wants it lower)
# so that the third invalid message on a topic both graylists the peer there (no gossip
# to or from it, pruned first) and stops its messages at the gate.
INVALID_MESSAGE_WEIGHT = 10.0
GOSSIP_THRESHOLD = -5.0  # 1 invalid message: no more IHAVE gossip with them
PUBLISH_THRESHOLD = -25.0  # 3: their messages are refused unvalidated, ours not sent
GRAYLIST_THRESHOLD = -25.0  # 3: graylisted


def score_params() -> ScoreParams:
    return ScoreParams(
        p4_invalid_messages=TopicScoreParams(weight=INVALID_MESSAGE_WEIGHT, cap=1000.0, decay=0.99),
        publish_threshold=PUBLISH_THRESHOLD,
        gossip_threshold=GOSSIP_THRESHOLD,
        graylist_threshold=GRAYLIST_THRESHOLD,
        accept_px_threshold=0.0,
        # P5 takes the router's own behaviour penalties (IWANT/IHAVE spam, equivocation).
        p5_behavior_penalty_weight=1.0,
        p5_behavior_penalty_decay=0.99,
    )


class PeerQueue(PriorityQueue):
    """A peer's outbound RPC queue bounded in count *and* bytes, counting what it refuses.

    `nbytes` is what flow control (Node.publish) looks at: 4096 queued 384 KiB rollout
    batches would be 1.5 GiB, so the byte bound is the one that matters for big messages.
    """

    def __init__(self, max_size: int, max_bytes: int, peer: ID, on_drop: DropHook) -> None:
        super().__init__(max_size)
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._peer = peer
        self._on_drop = on_drop

    def push(self, rpc: rpc_pb2.RPC, priority: bool = False) -> bool:
        size = rpc.ByteSize()
        ok = self.nbytes + size <= self.max_bytes and super().push(rpc, priority)
        if ok:
            self.nbytes += size
        else:
            self._on_drop("queue-full" if rpc.publish else "queue-full-control", self._peer, 1)
        return ok

    def pop(self) -> rpc_pb2.RPC | None:
        rpc = super().pop()
        if rpc is not None:
            self.nbytes = max(0, self.nbytes - rpc.ByteSize())
        return rpc

    def pop_more_messages(self, rpc: rpc_pb2.RPC, max_bytes: int) -> rpc_pb2.RPC:
        """`rpc` plus the message-only RPCs queued right behind it, as one RPC of at
        most `max_bytes` (see SwarmPubsub.handle_sending_messages). Stops at the first
        control or subscription RPC, so the order of everything sent is kept."""
        if not _messages_only(rpc):
            return rpc
        size = rpc.ByteSize()
        merged: rpc_pb2.RPC | None = None
        while not self._priority and self._non_priority:
            following = self._non_priority[0]
            extra = following.ByteSize()
            if not _messages_only(following) or size + extra > max_bytes:
                break
            self.pop()
            if merged is None:
                # A new RPC: GossipSub hands the same RPC object to every peer's queue.
                merged = rpc_pb2.RPC()
                merged.publish.extend(rpc.publish)
            merged.publish.extend(following.publish)
            size += extra
        return merged if merged is not None else rpc


def _messages_only(rpc: rpc_pb2.RPC) -> bool:
    return bool(rpc.publish) and not rpc.subscriptions and not rpc.HasField("control") and not rpc.senderRecord


class _SizedQueues(dict):
    """`Pubsub.peer_queues`, enlarging and instrumenting each queue as it is added.

    `_handle_new_peer` stores the fresh (empty) queue before anything is pushed to it, so
    swapping its inner queue here cannot lose an item.
    """

    def __init__(self, size: int, max_bytes: int, on_drop: DropHook) -> None:
        super().__init__()
        self._size = size
        self._max_bytes = max_bytes
        self._on_drop = on_drop

    def __setitem__(self, peer: ID, queue: RpcQueue) -> None:
        if len(queue) == 0:
            queue._queue = PeerQueue(self._size, self._max_bytes, peer, self._on_drop)
        super().__setitem__(peer, queue)

    def queued_bytes(self, peer: ID) -> int:
        queue = self.get(peer)
        inner = getattr(queue, "_queue", None)
        return inner.nbytes if isinstance(inner, PeerQueue) else 0


class IgnoreMessage(Exception):
    """Raised by a topic validator for a message to drop without penalising anyone.

    libp2p's validation has three outcomes (accept, reject, ignore), py-libp2p 0.8.1's
    only two: a validator returning False makes `Pubsub.push_msg` lower the forwarder's
    score (`scorer.on_invalid_message`). A message that is merely late or a replay
    (reputation.TIMING_REASONS) is ignored instead: `SwarmPubsub.push_msg` catches this
    (a sync validator's exception passes through `validate_msg` untouched), marks the
    message seen so that further copies are dropped as duplicates before any signature
    check, and counts those copies as `dropped["repeat-of-ignored"]`.
    """


# How many ignored message ids to remember for counting their repeats.
IGNORED_IDS_KEPT = 4096

# Received messages waiting for validation (see SwarmPubsub._is_subscribed_to_msg).
INBOUND_QUEUE_SIZE = 4096

# The peer whose pubsub stream the current task is reading (set in stream_handler; trio
# gives every task its own context, so each reading loop sees its own peer).
_READING_FROM: contextvars.ContextVar[ID | None] = contextvars.ContextVar("swarm_pubsub_reading_from", default=None)


# How much of a pubsub stream _ReadAhead takes from Yamux at once.
READ_AHEAD_BYTES = 64 * 1024


class _ReadAhead:
    """A peer's inbound pubsub stream, read through a buffer.

    Pubsub.continuously_read_stream reads each RPC's varint length one byte at a time
    and then its body (utils/varint.py read_varint_prefixed_bytes_limited: `await
    reader.read(1)` per byte): three or more trips per RPC through NetStream.read,
    YamuxStream.read and Yamux.read_stream, each taking locks and formatting several
    debug f-strings (with the peer id in base58) whether or not debug logging is on. Here
    one trip takes whatever Yamux has buffered for the stream (up to READ_AHEAD_BYTES;
    YamuxStream.read(n) returns what is there, it does not wait for n bytes) and the
    small reads are served from it. Everything else is the stream itself.
    """

    def __init__(self, stream: INetStream) -> None:
        self._stream = stream
        self._buffer = b""
        self._offset = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)

    async def read(self, n: int | None = None) -> bytes:
        if self._offset >= len(self._buffer):
            self._buffer, self._offset = await self._stream.read(READ_AHEAD_BYTES), 0
            if not self._buffer:
                return b""
        start = self._offset
        end = len(self._buffer) if n is None or n < 0 else min(len(self._buffer), start + n)
        self._offset = end
        return self._buffer[start:end]


class _NoValidationCache(ValidationCache):
    def get(self, msg_id: bytes) -> ValidationResult | None:
        return None

    def put(self, msg_id: bytes, result: ValidationResult) -> None:
        return None


class SwarmPubsub(Pubsub):
    """Pubsub that hands accepted messages to `deliver` and reports every drop it sees."""

    def __init__(
        self,
        host: IHost,
        router: GossipSub,
        *,
        deliver: Callable[[rpc_pb2.Message], None],
        on_drop: DropHook,
        outbound_queue_size: int = OUTBOUND_QUEUE_SIZE,
        outbound_queue_bytes: int = OUTBOUND_QUEUE_BYTES,
    ) -> None:
        super().__init__(host, router, seen_ttl=SEEN_TTL_S, strict_signing=True)
        self._deliver = deliver
        self._on_drop = on_drop
        self.validation_cache = _NoValidationCache()
        # Message ids are (origin, seqno), and Pubsub seeds its seqno counter with
        # int(time.time()) (pubsub.py `self.counter = int(time.time())`) then adds one per
        # message: a peer that restarts after publishing more messages than seconds have
        # passed reuses seqnos, and every peer drops its new messages as already seen (or
        # as equivocations, penalised). Seed with microseconds instead, as SeqCounter does.
        self.counter = time.time_ns() // 1000
        self._write_locks: weakref.WeakKeyDictionary[INetStream, trio.Lock] = weakref.WeakKeyDictionary()
        self.peer_queues: _SizedQueues = _SizedQueues(outbound_queue_size, outbound_queue_bytes, on_drop)
        self._ignored: OrderedDict[bytes, None] = OrderedDict()
        self._inbound_send, self._inbound_recv = trio.open_memory_channel[tuple[ID, rpc_pb2.Message]](
            INBOUND_QUEUE_SIZE
        )

    async def run(self) -> None:
        self.manager.run_daemon_task(self._process_inbound)
        await super().run()

    def _is_subscribed_to_msg(self, msg: rpc_pb2.Message) -> bool:
        """Pubsub.continuously_read_stream asks this of every received message, then
        spawns one `push_msg` task per message through its service manager
        (`self.manager.run_task(self.push_msg, peer_id, msg)`). That spawn costs more
        than the message when most messages are duplicates (each peer receives each
        message from several mesh peers), and `run_task` walks the manager's whole task
        tree to find the parent (anyio_service trio_manager.py `_find_parent_task`), so
        under a backlog its cost grows with the backlog. Here duplicates are dropped at
        once (what push_msg would do first), and new messages go to one long-lived task
        (`_process_inbound`) in arrival order. Answering False tells the reading loop
        the message is handled. When that queue is full the message takes pubsub's own
        path (True): nothing is lost, only the old cost paid."""
        if not super()._is_subscribed_to_msg(msg):
            return False
        forwarder = _READING_FROM.get()
        if forwarder is None:
            return True
        if self._is_msg_seen(msg):
            self._count_repeat(forwarder, msg)
            return False
        try:
            self._inbound_send.send_nowait((forwarder, msg))
        except trio.WouldBlock:
            return True
        return False

    async def _process_inbound(self) -> None:
        async for forwarder, msg in self._inbound_recv:
            await self.push_msg(forwarder, msg)

    def _count_repeat(self, forwarder: ID, msg: rpc_pb2.Message) -> None:
        if self._ignored and self._msg_id_constructor(msg) in self._ignored:
            self._on_drop("repeat-of-ignored", forwarder, 1)

    def notify_subscriptions(self, publish_message: rpc_pb2.Message) -> None:
        if any(topic in self.topic_ids for topic in publish_message.topicIDs):
            self._deliver(publish_message)

    async def write_msg(self, stream: INetStream, rpc_msg: rpc_pb2.RPC) -> bool:
        # Several tasks write to the same pubsub stream: the per-peer sending loop, and
        # GossipSub's flush_pending_messages / send_recent_messages, which call write_msg
        # directly. Yamux's stream.write holds its lock per *frame*, not per call
        # (stream_muxer/yamux/yamux.py YamuxStream.write), so two large RPCs written at
        # once interleave their frames and the receiver reads garbage. One lock per stream.
        lock = self._write_locks.get(stream)
        if lock is None:
            lock = self._write_locks[stream] = trio.Lock()
        async with lock:
            return await super().write_msg(stream, rpc_msg)

    async def handle_sending_messages(self, peer_id: ID, stream: INetStream, queue: RpcQueue) -> None:
        # Pubsub's per-peer sending loop (pubsub.py handle_sending_messages) writes one
        # RPC per queued item; this one merges queued message RPCs (PeerQueue.
        # pop_more_messages). Ending the same way: a failed write ends the loop, an
        # error marks the peer dead (whose queued RPCs _handle_dead_peer counts).
        try:
            while True:
                rpc = await queue.pop()
                if rpc is None:
                    return
                inner = getattr(queue, "_queue", None)
                if isinstance(inner, PeerQueue):
                    rpc = inner.pop_more_messages(rpc, SEND_BATCH_BYTES)
                if not await self.write_msg(stream, rpc):
                    return
        except Exception:  # noqa: BLE001 - as Pubsub's loop: any stream error ends this peer
            self._handle_dead_peer(peer_id)

    async def stream_handler(self, stream: INetStream) -> None:
        # Pubsub catches stream and parse errors of its own, but not protobuf's
        # DecodeError (pubsub.py continuously_read_stream: `rpc_incoming.ParseFromString`),
        # so one malformed RPC from a peer would tear down the whole host.
        peer_id = stream.muxed_conn.peer_id
        _READING_FROM.set(peer_id)
        try:
            await super().stream_handler(_ReadAhead(stream))  # type: ignore[arg-type]
        except DecodeError:
            self._on_drop("bad-rpc", peer_id, 1)
            try:
                await stream.reset()
            except Exception:  # noqa: BLE001 - the stream may already be gone
                pass
            self._handle_dead_peer(peer_id)

    async def _handle_new_peer(self, peer_id: ID) -> None:
        # When a peer's connection dies, Pubsub keeps its entry in `self.peers` unless the
        # dead-peer notification happens to find no connection left, and
        # `_handle_new_peer` then skips a reconnecting peer ("already has pubsub stream"):
        # no hello is sent on the new connection, the peer never learns our topics, and
        # a restarted peer is cut off from gossip for good. Drop the stale entry first.
        stream = self.peers.get(peer_id)
        if stream is not None and self._is_stale(peer_id, stream):
            self._on_drop("pubsub-peer-lost", peer_id, 1)
            queue = self.peer_queues.pop(peer_id, None)
            if queue is not None:
                if len(queue):
                    self._on_drop("queued-for-lost-peer", peer_id, len(queue))
                queue.close()
            del self.peers[peer_id]
            self.router.remove_peer(peer_id)
            self._replayed_recent_topics.pop(peer_id, None)
        await super()._handle_new_peer(peer_id)

    def _is_stale(self, peer_id: ID, stream: INetStream) -> bool:
        muxed = getattr(stream, "muxed_conn", None)
        if muxed is None or getattr(muxed, "is_closed", False):
            return True
        live = self.host.get_network().get_connections(peer_id)
        return all(getattr(conn, "muxed_conn", None) is not muxed for conn in live)

    def _handle_dead_peer(self, peer_id: ID) -> None:
        # A peer's pubsub stream died (reset, Yamux's 5 s zero-window write timeout, or
        # disconnect): py-libp2p closes its queue and whatever was still queued for it is
        # gone. Count both, so that loss is visible.
        queue = self.peer_queues.get(peer_id)
        if queue is not None and peer_id in self.peers:
            self._on_drop("pubsub-peer-lost", peer_id, 1)
            if len(queue):
                self._on_drop("queued-for-lost-peer", peer_id, len(queue))
        super()._handle_dead_peer(peer_id)

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        if msg_forwarder == self.my_id and msg.from_id == self.my_id.to_bytes():
            # Our own publish (Pubsub.publish calls push_msg with ourselves as forwarder):
            # Pubsub would verify the signature it has just made and run our validator on
            # the envelope Node.publish has just encoded, two Ed25519 verifications per
            # message for nothing. The rest is what Pubsub.push_msg does for it.
            if self._is_msg_seen(msg):
                return
            self._mark_msg_seen(msg)
            self.notify_subscriptions(msg)
            await self.router.publish(msg_forwarder, msg)
            return
        if msg_forwarder != self.my_id:
            if self._is_msg_seen(msg):
                self._count_repeat(msg_forwarder, msg)
                return  # an ordinary duplicate
            origin = ID(msg.from_id)
            if self.is_peer_blacklisted(msg_forwarder) or self.is_peer_blacklisted(origin):
                self._on_drop("from-banned-peer", msg_forwarder, 1)
                return
            scorer = getattr(self.router, "scorer", None)
            if scorer is not None and not scorer.allow_publish(msg_forwarder, list(msg.topicIDs)):
                self._on_drop("from-graylisted-peer", msg_forwarder, 1)
                return
        try:
            await super().push_msg(msg_forwarder, msg)
        except IgnoreMessage:
            # Counted by the validator that raised it. Seen from now on: a flood of copies
            # of this message costs a dict lookup each, not a signature check.
            self._mark_msg_seen(msg)
            self._ignored[self._msg_id_constructor(msg)] = None
            while len(self._ignored) > IGNORED_IDS_KEPT:
                self._ignored.popitem(last=False)


class SwarmGossipSub(GossipSub):
    """GossipSub with swarm's settings; equivocations are counted, not just logged."""

    def __init__(self, on_drop: DropHook) -> None:
        super().__init__(
            protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11],
            degree=DEGREE,
            degree_low=DEGREE_LOW,
            degree_high=DEGREE_HIGH,
            heartbeat_interval=HEARTBEAT_INTERVAL_S,  # type: ignore[arg-type]  # trio.sleep takes floats
            score_params=score_params(),
            spam_protection_enabled=False,
            # Every devnet peer shares 127.0.0.1; eclipse protection's "3 distinct IPs"
            # rule would keep re-grafting and colocation scoring would penalise them.
            eclipse_protection_enabled=False,
            # The adaptive mode rewrites the heartbeat interval (to 30-60 s or back to
            # the base) and the mesh degrees from a health estimate; we want the fixed,
            # documented values above.
            adaptive_gossip_enabled=False,
        )
        self._on_drop = on_drop

    def _get_peers_to_send(
        self, topic_ids: Iterable[str], msg_forwarder: ID, origin: ID, msg_id: bytes | None = None
    ) -> Iterator[ID]:
        # Flood publishing (GossipSub v1.1, on by default in go-libp2p; py-libp2p 0.8.1
        # has none): a message we originate goes to every peer on the topic whose score
        # passes the publish threshold, not only to our mesh. Every directly connected
        # peer then has it after one hop, whatever state the meshes are in, and the mesh
        # only carries it further; so the mesh can be small (see DEGREE) without a peer
        # whose mesh is empty missing what its neighbours publish.
        # (GossipSub.publish applies the publish threshold to every peer this yields.)
        peers = set(super()._get_peers_to_send(topic_ids, msg_forwarder, origin, msg_id))
        pubsub = self.pubsub
        if pubsub is not None and msg_forwarder == pubsub.my_id and origin == pubsub.my_id:
            for topic in topic_ids:
                peers.update(self._gossipsub_peers(topic))
            peers.discard(pubsub.my_id)
        yield from peers

    def _gossipsub_peers(self, topic: str) -> list[ID]:
        """The peers subscribed to `topic` that speak GossipSub with us."""
        if self.pubsub is None:
            return []
        return [p for p in self.pubsub.peer_topics.get(topic, ()) if self.peer_protocol.get(p) in _GOSSIPSUB_PROTOCOLS]

    def gossip_heartbeat(self) -> defaultdict[ID, dict[str, list[bytes]]]:
        # Who gets IHAVE this heartbeat. py-libp2p 0.8.1 picks them with
        # `_get_in_topic_gossipsub_peers_from_minus(..., backoff_check=True)` (gossipsub.py
        # `_handle_topic_heartbeat`), which leaves out every peer in PRUNE backoff. Backoff
        # only forbids re-GRAFTing; a peer that every neighbour has pruned (it happens in
        # a small swarm when all join at once: measured with 8 in-process peers and D=3,
        # one peer in 3 runs out of 5 ended with an empty mesh and backoff towards all 7)
        # then got no gossip either and received nothing for the whole minute of backoff,
        # silently. Here, as in the spec and go-libp2p: IHAVE goes to up to
        # max(GOSSIP_LAZY, GOSSIP_FACTOR x candidates) topic peers outside our mesh (or
        # fanout) whose score passes the gossip threshold, backoff or not.
        peers_to_gossip: defaultdict[ID, dict[str, list[bytes]]] = defaultdict(dict)
        for topic in [*self.mesh, *(t for t in self.fanout if t not in self.mesh)]:
            msg_ids = self.mcache.window(topic)
            if not msg_ids:
                continue
            direct = self.mesh.get(topic) if topic in self.mesh else self.fanout.get(topic, set())
            candidates = [
                peer
                for peer in self._gossipsub_peers(topic)
                if peer not in direct and (self.scorer is None or self.scorer.allow_gossip(peer, [topic]))
            ]
            count = max(GOSSIP_LAZY, int(len(candidates) * GOSSIP_FACTOR))
            for peer in random.sample(candidates, min(count, len(candidates))):
                peers_to_gossip[peer][topic] = list(msg_ids)
        return peers_to_gossip

    async def publish(self, msg_forwarder: ID, pubsub_msg: rpc_pb2.Message) -> None:
        # Read synchronously by _emit_idontwant_for_message, the first thing
        # GossipSub.publish awaits.
        self._current = (msg_forwarder, len(pubsub_msg.data))
        await super().publish(msg_forwarder, pubsub_msg)

    async def _emit_idontwant_for_message(self, msg_id: bytes, topic_ids) -> None:  # type: ignore[no-untyped-def]
        # py-libp2p sends IDONTWANT to every v1.2 mesh peer for *every* message, before
        # forwarding it, even for messages we publish ourselves (gossipsub.py
        # `_emit_idontwant_for_message`, awaited in `publish`): one extra control RPC per
        # peer per message. go-libp2p only does it for received messages above a size
        # threshold (IDontWantMessageThreshold); so do we (IDONTWANT_MIN_BYTES, above).
        forwarder, size = getattr(self, "_current", (None, 0))
        if self.pubsub is None or forwarder == self.pubsub.my_id or size < IDONTWANT_MIN_BYTES:
            return
        await super()._emit_idontwant_for_message(msg_id, topic_ids)

    def send_rpc(self, peer_id: ID, rpc: rpc_pb2.RPC, priority: bool = False) -> None:
        # GossipSub attaches our signed peer record to every message RPC
        # (GossipSub.publish: `rpc_msg.senderRecord = envelope_bytes`) and every control
        # RPC (emit_control_message), and every receiver verifies it again
        # (pubsub/utils.py maybe_consume_signed_record; a control RPC is even checked
        # twice, in continuously_read_stream and in GossipSub.handle_rpc): a signature
        # check per RPC per hop, for a record that the hello and subscription RPCs
        # already carry. Everything else goes out without it (these RPC objects are built
        # per call, so clearing it here affects nothing else).
        if not rpc.subscriptions and rpc.HasField("senderRecord"):
            rpc.ClearField("senderRecord")
        # GossipSub.send_rpc copies the RPC for every peer (`outbound.CopyFrom(rpc)`) and
        # runs split_rpc over the copy, so that deferred GRAFT/PRUNE retries can ride on
        # it. A message RPC for a peer with no retries pending, under the size limit,
        # needs neither: it is queued as it is, the same object for every peer (nothing
        # changes a queued RPC: PeerQueue.pop_more_messages merges into a new one).
        queue = self.pubsub.peer_queues.get(peer_id) if self.pubsub is not None else None
        if (
            queue is not None
            and _messages_only(rpc)
            and peer_id not in self._pending_control
            and rpc.ByteSize() <= queue.max_message_size
        ):
            if not queue.push(rpc, priority=priority):
                self._handle_dropped_rpc(peer_id, rpc, "queue_full")
            return
        super().send_rpc(peer_id, rpc, priority)

    async def handle_prune(self, prune_msg: rpc_pb2.ControlPrune, sender_peer_id: ID) -> None:
        # py-libp2p records the time a peer PRUNEd *us* as if *we* had pruned it
        # (gossipsub.py handle_prune: `self.graft_flood_tracking[sender_peer_id][topic] =
        # time.time()`), so when that peer GRAFTs us again within 10 s (its mesh fell below
        # D_lo, which it may do: the backoff binds us, not it) `handle_graft` calls it a
        # GRAFT flood, refuses it and takes 10 points off its score. In a small swarm the
        # mesh reshuffles often and honest peers end up graylisted. Keep only the tracking
        # of PRUNEs we sent.
        topic = prune_msg.topicID
        before = self.graft_flood_tracking.get(sender_peer_id, {}).get(topic)
        await super().handle_prune(prune_msg, sender_peer_id)
        tracked = self.graft_flood_tracking.get(sender_peer_id)
        if tracked is not None:
            if before is None:
                tracked.pop(topic, None)
            else:
                tracked[topic] = before

    async def emit_iwant(self, msg_ids, to_peer: ID) -> None:  # type: ignore[no-untyped-def]
        # Counted: each id asked for is a message our mesh did not bring us in time (or at
        # all), so these numbers say how much delivery leans on gossip repair.
        self._on_drop("gossip-iwant-sent", to_peer, len(msg_ids))
        await super().emit_iwant(msg_ids, to_peer)

    async def handle_iwant(self, iwant_msg: rpc_pb2.ControlIWant, sender_peer_id: ID) -> None:
        self._on_drop("gossip-iwant-received", sender_peer_id, len(iwant_msg.messageIDs))
        await super().handle_iwant(iwant_msg, sender_peer_id)

    def _check_equivocation(self, msg: rpc_pb2.Message) -> bool:
        ok = super()._check_equivocation(msg)
        if not ok:
            self._on_drop("equivocation", ID(msg.from_id), 1)
        return ok

