"""The host speaks Noise only: a peer offering plaintext (which py-libp2p's default host
accepts) cannot connect."""

from __future__ import annotations

import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport

from swarmclient.errors import SwarmError
from swarmclient.net.host import make_host

from netutil import star


async def test_a_plaintext_only_peer_cannot_connect():
    with trio.fail_after(30):
        async with star(1) as (node,):
            kp = create_new_key_pair()
            plain = new_host(key_pair=kp, sec_opt={TProtocol(PLAINTEXT_PROTOCOL_ID): InsecureTransport(kp)})
            async with plain.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
                with pytest.raises(Exception):  # noqa: B017 - py-libp2p raises several dial error types
                    with trio.fail_after(10):
                        await plain.connect(info_from_p2p_addr(multiaddr.Multiaddr(node.listen_addrs[0])))
                assert plain.get_id() not in node.connected_peers()
                await plain.close()


def test_only_plain_tcp_listen_addresses_are_accepted():
    with pytest.raises(SwarmError) as info:
        make_host(create_new_key_pair(), ["/ip4/127.0.0.1/udp/4001/quic-v1"])
    assert info.value.reason == "bad-multiaddr"
    with pytest.raises(SwarmError):
        make_host(create_new_key_pair(), ["not a multiaddr"])
