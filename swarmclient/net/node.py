"""A swarm peer's network node: libp2p host + GossipSub on the swarm's versioned topics.

Start it with `await nursery.start(node.serve)` (or `async with open_node(...)`); it then
listens, joins the topics, dials bootstrap and cached peers, advertises capabilities,
and hands every verified message to the app through `node.inbox`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from types import MappingProxyType

import trio
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.tools.anyio_service import background_trio_service

from protocol.errors import ProtocolError
from protocol.wire import (
    DEFAULT_MAX_FUTURE_MS,
    Body,
    Capabilities,
    Envelope,
    Kind,
    ReplayGuard,
    SeqCounter,
    WIRE_VERSION,
    WireReason,
    Signer,
    decode_message,
    encode_message,
    peer_text,
    topic_for,
)
from swarmclient.errors import SwarmError
from swarmclient.net.admission import DEFAULT_MAX_ESTABLISHED_PER_IP, DEFAULT_MAX_PENDING_PER_IP
from swarmclient.net.discovery import PeerCache
from swarmclient.net.gossip import IgnoreMessage, SwarmGossipSub, SwarmPubsub
from swarmclient.net.host import make_host, parse_multiaddrs
from swarmclient.net.peers import PeerMixin
from swarmclient.net.reputation import Blame, Reputation, blame_for
from swarmclient.net.rpc import Provider, RpcService
from swarmclient.net.stats import GossipCounters, NodeStats, PeerCapability

if TYPE_CHECKING:
    from swarmclient.config import Config
    from swarmclient.home import Home

log = logging.getLogger(__name__)

# GossipSub's outbound RPC limit (pubsub/rpc_queue.py DefaultMaxMessageSize = 1 MiB):
# `GossipSub.send_rpc` drops a bigger RPC with only a debug log. Our per-kind caps are far
# below it; this guard keeps it that way if a cap is ever raised.
GOSSIPSUB_MAX_RPC_BYTES = 1024 * 1024
RPC_OVERHEAD_BYTES = 16 * 1024  # topic, ids, pubsub signature and key, sender record


# Hook names from gossip.py that are peer events rather than lost messages.
EVENT_NAMES = frozenset({"pubsub-peer-lost", "gossip-iwant-sent", "gossip-iwant-received"})


# Connections a node tops itself up to from peers it learns of (cache, adverts).
DEFAULT_TARGET_PEERS = 8


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class NodeConfig:
    swarm_id: str
    listen: tuple[str, ...] = ("/ip4/127.0.0.1/tcp/0",)
    bootstrap: tuple[str, ...] = ()
    peer_cache: Path | None = None
    mdns: bool = False
    shards: tuple[int, ...] = ()  # rollout/announce shards to join besides the unsharded topics
    inbox_size: int = 4096  # verified messages waiting for the app; overflow is counted
    caps_interval_s: float = 30.0
    # Publish flow control: wait while a peer's outbound queue holds this many RPCs or bytes...
    outbound_high_water: int = 256
    outbound_high_water_bytes: int = 8 * 1024 * 1024
    # ...but at most this long; then that peer counts as stalled (see _await_outbound_room).
    outbound_wait_s: float = 5.0
    stalled_disconnect_s: float = 30.0
    redial_interval_s: float = 5.0  # how often to re-dial bootstrap/cached peers we lost
    target_peers: int = DEFAULT_TARGET_PEERS  # below this many connections, dial peers learnt from the cache/adverts
    cache_save_interval_s: float = 30.0
    max_age_ms: int = 5 * 60 * 1000
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS  # tolerated clock skew of an origin ahead of us
    # A message older than max_age + max_future + this cannot have come from an honest relay
    # (it validates before forwarding and serves only its last few heartbeats): replaying
    # it is the forwarder's fault. See reputation.blame_for.
    relay_grace_ms: int = 60 * 1000
    ban_threshold: int = 5
    ban_duration_s: float = 600.0
    # Inbound connections admitted per remote address (swarmclient.net.admission).
    max_pending_per_ip: int = DEFAULT_MAX_PENDING_PER_IP
    max_established_per_ip: int = DEFAULT_MAX_ESTABLISHED_PER_IP


@dataclass
class _Pending:
    """An envelope the validator accepted, waiting for pubsub to deliver it."""

    envelope: Envelope
    forwarder: ID
    topic: str


class Node(PeerMixin):
    """One peer's gossip node. See the package docstring for the API."""

    def __init__(
        self,
        keypair: KeyPair,
        config: NodeConfig,
        *,
        capabilities: Callable[[], Capabilities] | None = None,
    ) -> None:
        self.config = config
        self.keypair = keypair
        self._signer = Signer(keypair)
        self._seq = SeqCounter()
        self._replay = ReplayGuard(max_age_ms=config.max_age_ms, max_future_ms=config.max_future_ms)
        self.counters = GossipCounters()
        self.reputation = Reputation(threshold=config.ban_threshold, ban_s=config.ban_duration_s)
        self.host = make_host(
            keypair, config.listen, mdns=config.mdns, max_pending_per_ip=config.max_pending_per_ip,
            max_established_per_ip=config.max_established_per_ip, events=self.counters.events,
        )
        self.router = SwarmGossipSub(on_drop=self._on_drop)
        self.pubsub = SwarmPubsub(self.host, self.router, deliver=self._deliver, on_drop=self._on_drop)
        self.rpc = RpcService(self.host, self.counters, is_banned=self.is_banned)
        self.peer_cache = PeerCache(config.peer_cache)
        self._capabilities = capabilities
        self._caps_table: dict[str, PeerCapability] = {}
        self._inbox_send, self.inbox = trio.open_memory_channel[Envelope](config.inbox_size)
        self._pending: OrderedDict[bytes, _Pending] = OrderedDict()
        self._topics: dict[str, Kind] = {}
        self._nursery: trio.Nursery | None = None
        self._known_addrs: dict[str, list[str]] = {}  # bootstrap + cache: peer id -> dial addrs
        self._dialing: set[str] = set()
        self._stalled: dict[ID, float] = {}  # peer -> when it was found congested
        self._stopping = False
        self.started = trio.Event()

    # ---- identity and addresses ----

    @property
    def peer_id(self) -> ID:
        return self.host.get_id()

    @property
    def listen_addrs(self) -> list[str]:
        """Full dialable multiaddrs (with /p2p/<id>), real ports once serving."""
        return [str(a) for a in self.host.get_addrs()]

    def topic(self, kind: Kind, shard: int | None = None) -> str:
        return topic_for(self.config.swarm_id, kind, shard)

    # ---- lifecycle ----

    async def serve(self, *, task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled. `task_status.started(self)` once listening and subscribed.

        On cancellation the node first closes its connections while libp2p is still fully
        running, then stops libp2p. py-libp2p's own shutdown path (network/swarm.py,
        Swarm.run's `finally`) awaits `conn.close()` inside the already-cancelled scope, so
        the first await raises Cancelled and the sockets stay open: peers would keep us
        "connected" forever. Running libp2p under a shielded scope that we cancel only
        after `host.close()` avoids that.
        """
        self.peer_cache.load()
        if self.peer_cache.load_error:
            self.counters.on_dropped("peer-cache-unreadable")
        libp2p_scope = trio.CancelScope(shield=True)
        async with trio.open_nursery() as nursery:
            await nursery.start(self._run_libp2p, libp2p_scope)
            task_status.started(self)
            try:
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self._shutdown()
                libp2p_scope.cancel()

    async def _run_libp2p(self, scope: trio.CancelScope, *, task_status: trio.TaskStatus[None]) -> None:
        try:
            with scope:
                await self._run_libp2p_inner(task_status)
        except* RuntimeError as group:
            # py-libp2p's teardown races itself: a connection still being read when the
            # Pubsub service has stopped calls `manager.run_task` on its closed nursery
            # (pubsub.py continuously_read_stream -> "Nursery is closed to new arrivals").
            # Harmless once we are stopping; a real error at any other time.
            if not self._stopping:
                raise
            log.debug("ignored during shutdown: %r", group.exceptions)

    async def _run_libp2p_inner(self, task_status: trio.TaskStatus[None]) -> None:
        async with self.host.run(parse_multiaddrs(self.config.listen)):
            # py-libp2p's AutoConnector (network/auto_connector.py, started in
            # Swarm.run) dials every peer in the peerstore every 30 s while below 150
            # connections: banned peers and stale ephemeral addresses included, with an
            # INFO log line per cycle. Discovery is ours (bootstrap, cache, adverts).
            await self.host.get_network().auto_connector.stop()
            async with background_trio_service(self.pubsub), background_trio_service(self.router):
                await self.pubsub.wait_until_ready()
                await self._join_topics()
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self.rpc.start(nursery)
                    self._plan_dials()
                    for peer_id in list(self._known_addrs):
                        nursery.start_soon(self._keep_dialling, peer_id)
                    nursery.start_soon(self._housekeeping)
                    self._fill_connections()
                    if self._capabilities is not None:
                        nursery.start_soon(self._advertise_loop)
                    self.started.set()
                    task_status.started()
                    await trio.sleep_forever()

    async def _shutdown(self) -> None:
        self._stopping = True
        nursery, self._nursery = self._nursery, None
        if nursery is not None:
            nursery.cancel_scope.cancel()
        self._remember_connected()
        self._save_cache()
        await self.host.close()

    async def _join_topics(self) -> None:
        for kind in Kind:
            self._topics[self.topic(kind)] = kind
        for shard in self.config.shards:
            for kind in (Kind.ROLLOUTS, Kind.ROLLOUT_ANNOUNCE):
                self._topics[self.topic(kind, shard)] = kind
        for topic, kind in self._topics.items():
            self.pubsub.set_topic_validator(topic, self._validator_for(topic, kind), False)
            await self.pubsub.subscribe(topic)

    # ---- publishing ----

    async def publish(self, body: Body, *, shard: int | None = None) -> Envelope:
        """Sign `body` and gossip it on its kind's topic; returns the envelope sent.

        Raises ProtocolError (OVERSIZE, BAD_VALUE, ...) for a body peers would reject, and
        SwarmError("not-running") before `serve` has started. Waits (bounded by
        `outbound_wait_s`) while a peer's outbound queue is congested, so a burst of
        publishes slows down instead of overflowing it.
        """
        if not self.started.is_set() or self._nursery is None:
            raise SwarmError("not-running", "node.publish before node.serve has started")
        seq, ts = self._seq.next(), now_ms()
        data = encode_message(self._signer, body, seq=seq, ts=ts)
        kind = body.KIND
        if len(data) + RPC_OVERHEAD_BYTES > GOSSIPSUB_MAX_RPC_BYTES:
            raise SwarmError(
                "oversize", f"{kind.value} message of {len(data)} bytes would be dropped by GossipSub's 1 MiB limit"
            )
        topic = self.topic(kind, shard)
        if topic not in self._topics:
            self._topics[topic] = kind  # publishing to a shard we don't read: fanout, no validator needed
        await self._await_outbound_room()
        await self.pubsub.publish(topic, data)
        self.counters.on_published(kind.value)
        # The canonical encoding ends with the 64-byte signature (protocol/wire/envelope.py).
        return Envelope(v=WIRE_VERSION, kind=kind, sender=self._signer.peer_id, seq=seq, ts=ts, body=body, sig=data[-64:])

    async def _await_outbound_room(self) -> None:
        """Flow control: wait while a peer's outbound queue is above the high-water mark.

        A peer still congested after `outbound_wait_s` is marked stalled and no longer
        waited for (one slow peer must not throttle the swarm); what its full queue then
        refuses is counted as `dropped["queue-full"]`, and it is disconnected if it stays
        stalled for `stalled_disconnect_s`.
        """
        deadline = trio.current_time() + self.config.outbound_wait_s
        while True:
            congested = [p for p in self._congested_peers() if p not in self._stalled]
            if not congested:
                return
            now = trio.current_time()
            if now >= deadline:
                for peer in congested:
                    self._stalled[peer] = now
                    self.counters.events["peer-stalled"] += 1
                return
            await trio.sleep(0.005)

    def _congested_peers(self, fraction: float = 1.0) -> list[ID]:
        queues = self.pubsub.peer_queues
        max_len = self.config.outbound_high_water * fraction
        max_bytes = self.config.outbound_high_water_bytes * fraction
        return [p for p, q in list(queues.items()) if len(q) >= max_len or queues.queued_bytes(p) >= max_bytes]

    def _check_stalled(self, now: float) -> None:
        still = set(self._congested_peers(0.5))
        for peer, since in list(self._stalled.items()):
            if peer not in still:
                del self._stalled[peer]  # drained (or gone)
            elif now - since >= self.config.stalled_disconnect_s and self._nursery is not None:
                del self._stalled[peer]
                self.counters.events["stalled-peer-disconnected"] += 1
                self._nursery.start_soon(self._disconnect_quietly, peer)

    # ---- receiving ----

    def _validator_for(self, topic: str, kind: Kind) -> Callable[[ID, rpc_pb2.Message], bool]:
        def validate(forwarder: ID, msg: rpc_pb2.Message) -> bool:
            return self._validate(topic, kind, forwarder, msg)

        return validate

    def _validate(self, topic: str, kind: Kind, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        """Pubsub topic validator (sync: runs before relay, see gossip.py)."""
        if forwarder == self.peer_id:
            return True  # our own publish: built and size-checked by Node.publish
        origin = msg.from_id
        if self.reputation.is_banned(peer_text(origin)):
            self.counters.on_rejected("banned_sender", forwarder.to_base58())
            return False  # already banned: nothing more to strike
        cfg = self.config
        now = now_ms()
        try:
            # Decoded with the widest window an honest relay could deliver in (see
            # reputation.blame_for), so that STALE from decode_message means "grossly
            # stale"; the real freshness window is applied just below.
            envelope = decode_message(
                msg.data,
                now_ms=now,
                max_age_ms=cfg.max_age_ms + cfg.max_future_ms + cfg.relay_grace_ms,
                max_future_ms=cfg.max_future_ms,
                expected_kind=kind,
                expected_sender=origin,
            )
        except ProtocolError as exc:
            return self._refuse(exc.reason, forwarder, origin, grossly_stale=exc.reason is WireReason.STALE)
        if now - envelope.ts > cfg.max_age_ms:
            return self._refuse(WireReason.STALE, forwarder, origin)  # became stale in flight
        try:
            self._replay.check(envelope)
        except ProtocolError as exc:
            return self._refuse(exc.reason, forwarder, origin)
        key = msg.from_id + msg.seqno
        self._pending[key] = _Pending(envelope, forwarder, topic)
        while len(self._pending) > 1024:  # accepted but never delivered (e.g. equivocation drop)
            self._pending.popitem(last=False)
        return True

    def _refuse(self, reason: WireReason, forwarder: ID, origin: bytes, *, grossly_stale: bool = False) -> bool:
        """The validator's verdict on a message it cannot accept: False (reject, the
        forwarder's GossipSub score drops), or IgnoreMessage when nobody is to blame."""
        blame = blame_for(reason, grossly_stale=grossly_stale)
        self._reject(reason.value, blame, forwarder, ID(origin) if origin else None)
        if blame is Blame.NOBODY:
            raise IgnoreMessage(reason.value)
        return False

    def _reject(self, reason: str, blame: Blame, forwarder: ID, origin: ID | None) -> None:
        """Count a rejection (by reason and forwarder) and strike whoever is to blame.

        Blame.ORIGIN: content the origin signed (see reputation.blame_for); the
        forwarder that relayed it is also penalised by GossipSub's own score
        (Pubsub.push_msg calls scorer.on_invalid_message(forwarder, topic)), not banned.
        Blame.FORWARDER: a grossly stale replay; the forwarder is struck, never the origin.
        Blame.NOBODY: counted only (the validator then ignores the message: no score change).
        """
        self.counters.on_rejected(reason, forwarder.to_base58())
        if blame is Blame.NOBODY:
            return
        target = origin if blame is Blame.ORIGIN and origin is not None else forwarder
        if target != self.peer_id and self.reputation.strike(target.to_base58()):
            self._ban(target)

    def _deliver(self, msg: rpc_pb2.Message) -> None:
        """Called by SwarmPubsub for every accepted message on a subscribed topic."""
        if msg.from_id == self.peer_id.to_bytes():
            return
        pending = self._pending.pop(msg.from_id + msg.seqno, None)
        if pending is None:
            self.counters.on_dropped("delivered-unvalidated")  # cannot happen: all topics have validators
            return
        env = pending.envelope
        sender = env.peer_text
        self.counters.on_received(env.kind.value, sender, float(now_ms() - env.ts))
        if env.kind is Kind.CAPS:
            self._on_capabilities(sender, env)
        try:
            self._inbox_send.send_nowait(env)
        except trio.WouldBlock:
            self.counters.on_dropped("inbox-overflow")
        except trio.ClosedResourceError:
            self.counters.on_dropped("inbox-closed")

    def _on_capabilities(self, sender: str, env: Envelope) -> None:
        caps = env.body
        assert isinstance(caps, Capabilities)
        self._caps_table[sender] = PeerCapability(sender, caps, now_ms())
        addrs = [a for a in caps.listen_addrs if "/tcp/" in a]
        if addrs:
            self.peer_cache.remember(sender, addrs)
            # A peer we are not connected to, while we are short of target_peers: dial it
            # now rather than at the next housekeeping pass (up to redial_interval_s away),
            # so a swarm's connections settle while it starts, not in its first rounds.
            if ID(env.sender) not in self.host.get_connected_peers():
                self._fill_connections()

    def _on_drop(self, where: str, peer: ID | None, count: int = 1) -> None:
        if where == "bad-rpc" and peer is not None and self.reputation.strike(peer.to_base58()):
            self._ban(peer)
        if where in EVENT_NAMES:
            self.counters.events[where] += count
        else:
            self.counters.on_dropped(where, count)

    async def _advertise_loop(self) -> None:
        """Advertise capabilities every `caps_interval_s`, and soon after a new peer joins
        the caps topic (an advert published before anyone listens reaches no one)."""
        assert self._capabilities is not None
        topic = self.topic(Kind.CAPS)
        advertised_to: set[ID] = set()
        next_periodic = trio.current_time()
        while True:
            listeners = set(self.pubsub.peer_topics.get(topic, ()))
            now = trio.current_time()
            if now >= next_periodic or listeners - advertised_to:
                try:
                    await self.publish(self._own_capabilities())
                    advertised_to = listeners
                except (ProtocolError, SwarmError) as exc:
                    log.warning("capability advert not sent: %s", exc)
                    self.counters.on_dropped("caps-advert-failed")
                next_periodic = now + self.config.caps_interval_s
            # New subscribers are noticed within half a second; GossipSub needs a moment
            # after the subscription to graft them, which this delay also covers.
            await trio.sleep(0.5)

    def _own_capabilities(self) -> Capabilities:
        """The app's advert, with our listen addresses filled in if it left them empty
        (peers use them to dial us: see _fill_connections)."""
        assert self._capabilities is not None
        caps = self._capabilities()
        if not caps.listen_addrs:
            addrs = tuple(a for a in self.listen_addrs if "/0.0.0.0/" not in a)[:16]
            caps = dataclasses.replace(caps, listen_addrs=addrs)
        return caps

    # ---- bulk data ----

    def provide(self, resource: str, provider: Provider) -> None:
        """Serve `resource` ("ckpt", "batch", "trace") from `provider(key, query) -> bytes | None`."""
        self.rpc.provide(resource, provider)

    async def fetch(
        self, peer: ID | str, resource: str, key: bytes, *, query: dict | None = None, timeout: float = 30.0,
        max_bytes: int | None = None,
    ) -> bytes:
        """Fetch a blob by key from `peer` over the resource's stream protocol."""
        if isinstance(peer, str):
            try:
                pid = ID.from_base58(peer)
            except ValueError as exc:
                raise SwarmError("bad-peer-id", f"{peer[:60]!r} is not a peer id ({exc})") from exc
        else:
            pid = peer
        if self.is_banned(pid):
            raise SwarmError("peer-banned", f"{pid} is banned")
        return await self.rpc.fetch(pid, resource, key, query=query or {}, timeout=timeout, max_bytes=max_bytes)

    # ---- observation ----

    def capabilities(self) -> dict[str, PeerCapability]:
        return dict(self._caps_table)

    def stats(self) -> NodeStats:
        connected = self.host.get_connected_peers()
        topics = list(self._topics)
        scorer = self.router.scorer
        scores = {}
        if scorer is not None:
            for peer in connected:
                scores[peer.to_base58()] = scorer.score(peer, topics)
        return NodeStats(
            peer_id=self.peer_id.to_base58(),
            listen_addrs=tuple(self.listen_addrs),
            connected_peers=tuple(sorted(p.to_base58() for p in connected)),
            mesh_peers=MappingProxyType({t: len(p) for t, p in self.router.mesh.items()}),
            banned_peers=tuple(self.reputation.banned()),
            peer_scores=MappingProxyType(scores),
            capabilities=MappingProxyType(dict(self._caps_table)),
            **self.counters.frozen_parts(),
        )


@asynccontextmanager
async def open_node(
    keypair: KeyPair, config: NodeConfig, *, capabilities: Callable[[], Capabilities] | None = None
) -> AsyncIterator[Node]:
    """`async with open_node(...) as node:` runs a node for the block's duration."""
    node = Node(keypair, config, capabilities=capabilities)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.serve)
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()


def node_config_from(config: "Config", home: "Home", **overrides: object) -> NodeConfig:
    """A NodeConfig from the operator's config.toml and state directory."""
    net = config.network
    values: dict[str, object] = {
        "swarm_id": config.swarm_id,
        "listen": tuple(net.listen),
        "bootstrap": tuple(net.bootstrap),
        "peer_cache": home.peer_cache if net.peer_cache else None,
        "mdns": net.mdns,
        "max_pending_per_ip": net.max_pending_per_ip,
        "max_established_per_ip": net.max_established_per_ip,
    }
    values.update(overrides)
    return NodeConfig(**values)  # type: ignore[arg-type]
