"""The peer side of a Node: connecting, keeping bootstrap and cached peers connected,
banning, and housekeeping. A mixin of `Node` (node.py), split out to keep modules small;
it uses the node's host, pubsub, config, counters, reputation and peer cache."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio
from libp2p.peer.id import ID

from protocol.wire import Kind
from swarmclient.errors import SwarmError
from swarmclient.net.discovery import Backoff, parse_peer_addr

if TYPE_CHECKING:
    from libp2p.abc import IHost

    from swarmclient.net.discovery import PeerCache
    from swarmclient.net.gossip import SwarmGossipSub, SwarmPubsub
    from swarmclient.net.node import NodeConfig
    from swarmclient.net.reputation import Reputation
    from swarmclient.net.stats import GossipCounters

log = logging.getLogger(__name__)


class PeerMixin:
    host: IHost
    pubsub: SwarmPubsub
    router: SwarmGossipSub
    config: NodeConfig
    counters: GossipCounters
    reputation: Reputation
    peer_cache: PeerCache
    _nursery: trio.Nursery | None
    _known_addrs: dict[str, list[str]]
    _dialing: set[str]

    if TYPE_CHECKING:  # provided by Node

        @property
        def peer_id(self) -> ID: ...

        def topic(self, kind: Kind, shard: int | None = None) -> str: ...

        def _check_stalled(self, now: float) -> None: ...

    def is_banned(self, peer: ID) -> bool:
        return self.reputation.is_banned(peer.to_base58())

    def _ban(self, peer: ID) -> None:
        log.warning("banning peer %s for invalid gossip", peer)
        self.counters.events["peer-banned"] += 1
        self.pubsub.add_to_blacklist(peer)
        self.peer_cache.forget(peer.to_base58())
        if self._nursery is not None:
            self._nursery.start_soon(self._disconnect_quietly, peer)

    async def _disconnect_quietly(self, peer: ID) -> None:
        with trio.move_on_after(5):
            try:
                await self.host.disconnect(peer)
            except Exception as exc:  # noqa: BLE001 - a half-closed connection raises many types
                log.debug("disconnect %s: %s", peer, exc)

    async def connect(self, addr: str, *, timeout: float = 10.0) -> ID:
        """Dial a peer multiaddr ending in /p2p/<id>; raises SwarmError on failure."""
        info = parse_peer_addr(addr)
        if info.peer_id == self.peer_id:
            raise SwarmError("dial-self", f"{addr} is this node")
        if self.is_banned(info.peer_id):
            raise SwarmError("peer-banned", f"{info.peer_id} is banned")
        # py-libp2p refuses to redial a peer for 60 s after a failed dial (network/swarm.py
        # _NegativePeerCache, "recently failed all addresses"), which would turn our
        # 0.5 s..30 s backoff into a flat minute and keep a restarted bootstrap peer away.
        # Our callers pace their retries themselves.
        unblock = getattr(self.host.get_network(), "unblock_peer", None)
        if unblock is not None:
            unblock(info.peer_id)
        try:
            with trio.fail_after(timeout):
                await self.host.connect(info)
        except trio.TooSlowError:
            raise SwarmError("dial-timeout", f"{addr}: no connection within {timeout} s") from None
        except Exception as exc:  # noqa: BLE001 - libp2p dial errors have no common base
            raise SwarmError("dial-failed", f"{addr}: {exc}") from exc
        self.peer_cache.remember(info.peer_id.to_base58(), [str(a) for a in info.addrs])
        return info.peer_id

    def connected_peers(self) -> list[ID]:
        return list(self.host.get_connected_peers())

    async def wait_for_peers(
        self, count: int, *, kind: Kind = Kind.ROLLOUTS, timeout: float = 20.0, in_mesh: bool = False
    ) -> None:
        """Wait until `count` peers have joined our topic for `kind`; with `in_mesh`, until
        that many are in our GossipSub mesh for it (we forward to them directly). A mesh
        settles between DEGREE_LOW and DEGREE_HIGH peers (gossip.py: 3 and 6), so ask for
        no more than DEGREE_LOW."""
        topic = self.topic(kind)
        with trio.fail_after(timeout):
            while True:
                peers = self.router.mesh.get(topic, ()) if in_mesh else self.pubsub.peer_topics.get(topic, ())
                if len(peers) >= count:
                    return
                await trio.sleep(0.05)

    def _plan_dials(self) -> None:
        """Bootstrap peers are kept connected for good; cached peers are only dialled
        while we are below `target_peers` (see _fill_connections)."""
        for text in self.config.bootstrap:
            info = parse_peer_addr(text)
            self._known_addrs.setdefault(info.peer_id.to_base58(), []).append(text)

    async def _keep_dialling(self, peer_id: str) -> None:
        """Stay connected to a bootstrap/cached peer: dial with backoff while it's down."""
        backoff = Backoff()
        pid = ID.from_base58(peer_id)
        while True:
            if pid in self.host.get_connected_peers() or self.is_banned(pid):
                backoff.reset()
                await trio.sleep(self.config.redial_interval_s)
                continue
            for addr in self._known_addrs.get(peer_id, []):
                try:
                    await self.connect(addr)
                    self.counters.events["dial-ok"] += 1
                    break
                except SwarmError as exc:
                    self.counters.events["dial-failed"] += 1
                    log.debug("dial %s failed: %s", addr, exc)
            else:
                await trio.sleep(backoff.next_delay())

    async def _housekeeping(self) -> None:
        last_save = last_fill = trio.current_time()
        while True:
            await trio.sleep(1.0)
            for peer in self.reputation.expired():
                self.pubsub.remove_from_blacklist(ID.from_base58(peer))
            for peer in self.host.get_connected_peers():
                if self.is_banned(peer):  # reconnected despite the ban
                    self._nursery.start_soon(self._disconnect_quietly, peer)  # type: ignore[union-attr]
            self._replay.forget_stale()
            now = trio.current_time()
            self._check_stalled(now)
            if now - last_fill >= self.config.redial_interval_s:
                self._fill_connections()
                last_fill = now
            if now - last_save >= self.config.cache_save_interval_s:
                self._remember_connected()
                self._save_cache()
                last_save = now

    def _fill_connections(self) -> None:
        """Below `target_peers`, dial a few peers we know of but are not connected to:
        cached and advertised ones, and (with mDNS on) those mDNS put in the peerstore.
        py-libp2p's mDNS only records addresses; its AutoConnector, which we stop, was
        what dialled them."""
        connected = {p.to_base58() for p in self.host.get_connected_peers()}
        missing = self.config.target_peers - len(connected)
        if missing <= 0 or self._nursery is None:
            return
        candidates = [(c.peer_id, c.dial_addrs()) for c in self.peer_cache.peers()]
        if self.config.mdns:
            store = self.host.get_peerstore()
            for peer in store.peers_with_addrs():
                pid = peer.to_base58()
                try:
                    addrs = [f"{a}/p2p/{pid}" for a in store.addrs(peer) if "/tcp/" in str(a)]
                except Exception:  # noqa: BLE001 - PeerStoreError when the addresses expired
                    continue
                candidates.append((pid, addrs))
        me = self.peer_id.to_base58()
        for pid, addrs in candidates:
            if missing <= 0:
                break
            if pid in connected or pid in self._known_addrs or pid in self._dialing or pid == me or not addrs:
                continue
            if self.is_banned(ID.from_base58(pid)):
                continue
            self._dialing.add(pid)
            self._nursery.start_soon(self._dial_once, pid, addrs)
            missing -= 1

    async def _dial_once(self, peer_id: str, addrs: list[str]) -> None:
        try:
            for addr in addrs:
                try:
                    await self.connect(addr, timeout=5)
                    self.counters.events["dial-ok"] += 1
                    return
                except SwarmError:
                    self.counters.events["dial-failed"] += 1
        finally:
            self._dialing.discard(peer_id)

    def _remember_connected(self) -> None:
        store = self.host.get_peerstore()
        for peer in self.host.get_connected_peers():
            if self.is_banned(peer):
                continue
            try:
                addrs = [str(a) for a in store.addrs(peer)]
            except Exception:  # noqa: BLE001 - PeerStoreError when it has none
                continue
            self.peer_cache.remember(peer.to_base58(), addrs)

    def _save_cache(self) -> None:
        try:
            self.peer_cache.save()
        except OSError as exc:
            log.warning("cannot write peer cache: %s", exc)
            self.counters.on_dropped("peer-cache-write-failed")

