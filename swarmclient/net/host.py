"""Build the libp2p host: TCP, Noise only, Yamux only.

py-libp2p's `new_swarm` (libp2p/__init__.py, the `sec_opt or {...}` default in new_swarm)
offers Noise, TLS, SECIO and *plaintext* to every inbound dialer when `sec_opt` is left
out, so a peer could talk to us unauthenticated and unencrypted. We pass exactly one
security transport and exactly one muxer, so nothing else can be negotiated.
"""

from __future__ import annotations

from collections.abc import Sequence

import multiaddr
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.transport.tcp.tcp import TCP

from swarmclient.errors import SwarmError

# A connection that opens TCP and then never completes the Noise handshake holds one of
# the resource manager's connection slots until `inbound_upgrade_timeout` fires
# (network/swarm.py, `with trio.fail_after(inbound_timeout)` in the inbound upgrade;
# default 10 s in network/config.py INBOUND_UPGRADE_TIMEOUT). With 300 slots
# (network/config.py MAX_CONNECTIONS) 300 silent sockets lock real peers out for the
# whole 10 s. A Noise handshake on loopback or a LAN takes milliseconds and a few
# hundred ms across the world, so 3 s frees a squatted slot three times sooner without
# failing honest peers.
HANDSHAKE_TIMEOUT_S = 3.0


def parse_multiaddrs(addrs: Sequence[str]) -> list[multiaddr.Multiaddr]:
    out = []
    for text in addrs:
        try:
            out.append(multiaddr.Multiaddr(text))
        except Exception as exc:  # noqa: BLE001 - multiaddr raises several unrelated types
            raise SwarmError("bad-multiaddr", f"{text!r} is not a multiaddr ({exc})") from exc
    return out


def make_host(keypair: KeyPair, listen: Sequence[str], *, mdns: bool = False) -> IHost:
    """A host for `keypair` that will listen on `listen` once run (see Node.serve)."""
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
    return new_host(
        key_pair=keypair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        listen_addrs=listen_addrs,
        transports=[TCP()],
        enable_mDNS=mdns,
        connection_config=config,
    )
