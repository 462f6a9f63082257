"""Why `swarm join` does not use py-libp2p's AutoNAT (swarmclient/runtime/reachability.py):
in py-libp2p 0.8.1 the server "dials back" with `host.connect`, which returns the connection
the request came in on, so it confirms even an address where nothing listens. If this test
starts failing, py-libp2p dials back for real and the reachability report should use it."""

from __future__ import annotations

import socket

import multiaddr
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.host.autonat.autonat import AutoNATService
from libp2p.host.autonat.pb.autonat_pb2 import Message
from libp2p.peer.peerinfo import PeerInfo

from swarmclient.net.host import make_host

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_autonat_confirms_an_address_nobody_listens_on():
    server = make_host(create_new_key_pair(), [LOOPBACK])
    client = make_host(create_new_key_pair(), [LOOPBACK])
    async with server.run([multiaddr.Multiaddr(LOOPBACK)]), client.run([multiaddr.Multiaddr(LOOPBACK)]):
        AutoNATService(server, serve=True)
        asker = AutoNATService(client, serve=False)
        await client.connect(PeerInfo(server.get_id(), server.get_addrs()))
        nobody = multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{closed_port()}")
        status, _ = await asker.query_server(server.get_id(), [nobody.to_bytes()], timeout=20)
        assert status == Message.OK  # a real dial-back would have failed
