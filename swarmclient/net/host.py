"""Build the libp2p host: TCP, Noise only, Yamux only.

py-libp2p's `new_swarm` (libp2p/__init__.py, the `sec_opt or {...}` default in new_swarm)
offers Noise, TLS, SECIO and *plaintext* to every inbound dialer when `sec_opt` is left
out, so a peer could talk to us unauthenticated and unencrypted. We pass exactly one
security transport and exactly one muxer, so nothing else can be negotiated.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence

import multiaddr
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux, YamuxStream
from libp2p.transport.tcp.tcp import TCP

from swarmclient.errors import SwarmError
from swarmclient.net.admission import (
    DEFAULT_MAX_ESTABLISHED_PER_IP,
    DEFAULT_MAX_PENDING_PER_IP,
    AdmissionLimits,
    guard_inbound,
)

# py-libp2p's Yamux sends a WINDOW_UPDATE frame after *every* read when
# PY_YAMUX_RELEASE_ON_READ is on, its default (stream_muxer/yamux/yamux.py
# `_yamux_release_on_read`, used in `_auto_tune_and_send_window_update`). Pubsub reads
# each message's varint length one byte at a time, so one gossip message cost dozens of
# extra frames each way: at 20 msg/s between two peers p50 latency was 350 ms with it on
# and 20 ms with it off. Off, credit is returned in batches of half a window, as go-yamux
# does. The variable is read at call time, so setting it here (before any stream exists)
# is enough; an operator can still override it from the environment.
os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")

# A connection that opens TCP and then never completes the Noise handshake holds one of
# the resource manager's connection slots until `inbound_upgrade_timeout` fires
# (network/swarm.py, `with trio.fail_after(inbound_timeout)` in the inbound upgrade;
# default 10 s in network/config.py INBOUND_UPGRADE_TIMEOUT). With 300 slots
# (network/config.py MAX_CONNECTIONS) 300 silent sockets lock real peers out for the
# whole 10 s. A Noise handshake on loopback or a LAN takes milliseconds and a few
# hundred ms across the world, so 3 s frees a squatted slot three times sooner without
# failing honest peers. Per-address limits (swarmclient/net/admission.py) keep one
# address from squatting more than a few slots in the first place.
HANDSHAKE_TIMEOUT_S = 3.0


class _CreditOnHalfWindowStream(YamuxStream):
    """A Yamux stream that returns receive credit only once half its window is used up.

    py-libp2p 0.8.1's `_auto_tune_and_send_window_update` (stream_muxer/yamux/yamux.py)
    has a "partial slack" branch (`elif 0 < delta < threshold and bytes_read > 0`) that
    sends a WINDOW_UPDATE after nearly every read whatever PY_YAMUX_RELEASE_ON_READ says:
    one extra frame (Noise encryption, a socket write, a frame for the peer to decrypt and
    parse) for every gossip message received. Measured with 8 in-process peers at 20 msg/s
    of 2 KB: 5.3-5.5 window updates and 13.5 frames per delivery; with this class 0.3 and
    7.5, and CPU per delivery down from 4.4-4.5 ms to 3.2-3.6 ms. This is go-yamux's rule:
    credit goes back when the unacknowledged part reaches half the target window, and
    the window still auto-tunes (grows) when updates come faster than 4 RTTs.
    """

    async def _auto_tune_and_send_window_update(self, *, bytes_read: int = 0) -> None:
        async with self.window_lock:
            buffered = len(self.conn.stream_buffers.get(self.stream_id, b""))
            delta = self.target_recv_window - (self.recv_window + buffered)
            if delta <= 0 or delta < self._grow_threshold():
                return
            self.recv_window += delta
            delta += self._apply_autotune_epoch(buffered)
        await self.send_window_update(delta, skip_lock=True)


class _Streams(dict):
    """`Yamux.streams`, turning each stream it is given into a _CreditOnHalfWindowStream
    (Yamux builds them by name in open_stream and handle_incoming, with no hook; the
    subclass adds no state, so switching the class before first use is safe)."""

    def __setitem__(self, stream_id: int, stream: YamuxStream) -> None:
        if type(stream) is YamuxStream:
            stream.__class__ = _CreditOnHalfWindowStream
        super().__setitem__(stream_id, stream)


class _HalfWindowCredit(INotifee):
    """Gives every new connection's Yamux a _Streams table. (py-libp2p builds Yamux by
    name in stream_muxer/muxer_multistream.py `new_conn`, ignoring the class given in
    `muxer_opt`, so the muxer itself cannot be subclassed.)"""

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        muxed = getattr(conn, "muxed_conn", None)
        if isinstance(muxed, Yamux) and not isinstance(muxed.streams, _Streams):
            streams = _Streams()
            for stream_id, stream in list(muxed.streams.items()):
                streams[stream_id] = stream
            muxed.streams = streams

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


def parse_multiaddrs(addrs: Sequence[str]) -> list[multiaddr.Multiaddr]:
    out = []
    for text in addrs:
        try:
            out.append(multiaddr.Multiaddr(text))
        except Exception as exc:  # noqa: BLE001 - multiaddr raises several unrelated types
            raise SwarmError("bad-multiaddr", f"{text!r} is not a multiaddr ({exc})") from exc
    return out


def make_host(
    keypair: KeyPair,
    listen: Sequence[str],
    *,
    mdns: bool = False,
    max_pending_per_ip: int = DEFAULT_MAX_PENDING_PER_IP,
    max_established_per_ip: int = DEFAULT_MAX_ESTABLISHED_PER_IP,
    events: Counter[str] | None = None,
) -> IHost:
    """A host for `keypair` that will listen on `listen` once run (see Node.serve).

    Inbound connections are admitted per remote address (swarmclient.net.admission);
    refusals are counted in `events` (a node's NodeStats.events counter). The guard is
    `host.admission`.
    """
    limits = AdmissionLimits(max_pending_per_ip, max_established_per_ip)
    listen_addrs = parse_multiaddrs(listen)
    for addr in listen_addrs:
        names = {p.name for p in addr.protocols()}
        if "tcp" not in names or names & {"ws", "wss", "quic", "quic-v1"}:
            raise SwarmError("bad-multiaddr", f"{addr} is not a plain TCP address (only TCP is supported)")
    noise = NoiseTransport(keypair, noise_privkey=create_x25519_key_pair().private_key)
    config = ConnectionConfig(
        inbound_upgrade_timeout=HANDSHAKE_TIMEOUT_S,
        outbound_upgrade_timeout=HANDSHAKE_TIMEOUT_S * 2,
    )
    host = new_host(
        key_pair=keypair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        listen_addrs=listen_addrs,
        transports=[TCP()],
        enable_mDNS=mdns,
        connection_config=config,
    )
    _cache_addrs(host)
    host.get_network().register_notifee(_HalfWindowCredit())
    host.admission = guard_inbound(host.get_network(), limits, events)  # type: ignore[attr-defined]
    return host


def _cache_addrs(host: IHost) -> None:
    """Memoise host.get_addrs for a second.

    GossipSub calls it for every message it publishes or forwards (via
    peer/peerstore.py env_to_send_in_RPC, from GossipSub.publish), and it rebuilds and
    re-parses every multiaddr each time: about 0.7 ms per message here. Our listen
    addresses only change when the node starts listening, so a one-second memo of a
    non-empty answer loses nothing.
    """
    compute = host.get_addrs
    memo: list = [0.0, []]

    def get_addrs() -> list[multiaddr.Multiaddr]:
        now = time.monotonic()
        if not memo[1] or now - memo[0] > 1.0:
            memo[0], memo[1] = now, compute()
        return list(memo[1])

    host.get_addrs = get_addrs  # type: ignore[method-assign]
