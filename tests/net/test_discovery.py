"""Bootstrap dialling with retry, and the on-disk peer cache that makes restarts independent
of the bootstrap peers."""

from __future__ import annotations

import json

import trio
from hypothesis import given
from hypothesis import strategies as st
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from protocol.wire import Kind
from swarmclient.config import Config, NetworkConfig
from swarmclient.home import Home
from swarmclient.net import Node, NodeConfig, PeerCache, node_config_from
from swarmclient.net.discovery import CACHE_FORMAT, Backoff

from netutil import claim


def _peer_id() -> str:
    return ID.from_pubkey(create_new_key_pair().public_key).to_base58()


def test_peer_cache_round_trip_is_atomic_and_bounded(tmp_path):
    path = tmp_path / "peers.json"
    cache = PeerCache(path, max_peers=3)
    ids = [_peer_id() for _ in range(5)]
    for i, pid in enumerate(ids):
        cache.remember(pid, [f"/ip4/10.0.0.{i}/tcp/4001"], now=1000.0 + i)
    cache.remember(ids[0], ["/ip4/10.0.0.9/udp/9/quic"], now=2000.0)  # no TCP address: ignored
    cache.save()
    assert [p.name for p in tmp_path.iterdir()] == ["peers.json"]  # no temporary file left
    again = PeerCache(path)
    again.load()
    assert again.load_error is None
    assert [p.peer_id for p in again.peers()] == [ids[4], ids[3], ids[2]]  # newest first, 3 kept
    assert again.peers()[0].dial_addrs() == [f"/ip4/10.0.0.4/tcp/4001/p2p/{ids[4]}"]


def test_a_corrupt_or_foreign_cache_is_reported_and_ignored(tmp_path):
    path = tmp_path / "peers.json"
    for content in (
        "{not json",
        json.dumps({"format": "something-else", "peers": []}),
        json.dumps({"format": CACHE_FORMAT, "peers": [{"peer_id": "nope", "addrs": [], "last_seen": 1}]}),
        json.dumps({"format": CACHE_FORMAT, "peers": "x"}),
        json.dumps([1, 2, 3]),
    ):
        path.write_text(content)
        cache = PeerCache(path)
        cache.load()
        assert cache.load_error is not None
        assert len(cache) == 0
    missing = PeerCache(tmp_path / "absent.json")
    missing.load()
    assert missing.load_error is None and len(missing) == 0


@given(st.binary(max_size=512))
def test_peer_cache_never_raises_on_arbitrary_bytes(data):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "peers.json"
        path.write_bytes(data)
        cache = PeerCache(path)
        cache.load()  # must not raise
        assert len(cache) == 0 or cache.load_error is None


def test_backoff_grows_and_is_capped():
    backoff = Backoff(initial_s=0.5, max_s=4.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays[0] <= 0.6 and max(delays) <= 4.0 * 1.2
    assert delays[-1] >= 4.0 * 0.8
    backoff.reset()
    assert backoff.next_delay() <= 0.6


def test_node_config_from_operator_config(tmp_path):
    home = Home(tmp_path)
    config = Config(swarm_id="lab", network=NetworkConfig(listen=["/ip4/127.0.0.1/tcp/0"], peer_cache=False))
    nc = node_config_from(config, home, inbox_size=8)
    assert (nc.swarm_id, nc.listen, nc.peer_cache, nc.inbox_size) == ("lab", ("/ip4/127.0.0.1/tcp/0",), None, 8)
    assert node_config_from(Config(), home).peer_cache == home.peer_cache


async def test_bootstrap_then_restart_from_the_peer_cache_alone(tmp_path):
    cache_path = tmp_path / "peers.json"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            hub = Node(create_new_key_pair(), NodeConfig(swarm_id="boot"))
            await nursery.start(hub.serve)

            # A bootstrap address that is down, then the hub: the node retries and connects.
            dead = f"/ip4/127.0.0.1/tcp/1/p2p/{_peer_id()}"
            first = Node(
                create_new_key_pair(),
                NodeConfig(swarm_id="boot", bootstrap=(dead, hub.listen_addrs[0]), peer_cache=cache_path),
            )
            scope = trio.CancelScope()

            async def run_first(*, task_status=trio.TASK_STATUS_IGNORED):
                with scope:
                    await first.serve(task_status=task_status)

            await nursery.start(run_first)
            await first.wait_for_peers(1, kind=Kind.CLAIM)
            scope.cancel()  # stopping saves the cache
            with trio.fail_after(10):
                while not cache_path.exists():
                    await trio.sleep(0.05)
            saved = json.loads(cache_path.read_text())
            assert hub.peer_id.to_base58() in {p["peer_id"] for p in saved["peers"]}

            # Restart with no bootstrap list at all: the cache alone finds the hub.
            second = Node(create_new_key_pair(), NodeConfig(swarm_id="boot", peer_cache=cache_path))
            await nursery.start(second.serve)
            await second.wait_for_peers(1, kind=Kind.CLAIM, in_mesh=True)
            claims = hub.topic(Kind.CLAIM)
            while second.peer_id not in hub.router.mesh.get(claims, ()):  # hub will send to it
                await trio.sleep(0.05)
            await hub.publish(claim(1))
            with trio.fail_after(10):
                env = await second.inbox.receive()
            assert env.sender == hub.peer_id.to_bytes()
            nursery.cancel_scope.cancel()


async def test_peers_learnt_from_capability_adverts_are_dialled():
    from netutil import caps

    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            config = NodeConfig(swarm_id="adverts", redial_interval_s=0.5, caps_interval_s=3600)
            hub, left, right = (Node(create_new_key_pair(), config, capabilities=caps) for _ in range(3))
            for node in (hub, left, right):
                await nursery.start(node.serve)
            await left.connect(hub.listen_addrs[0])
            await right.connect(hub.listen_addrs[0])
            # left and right only know the hub; each learns the other's address from its
            # relayed advert and dials it.
            while right.peer_id not in left.connected_peers():
                await trio.sleep(0.1)
            advert = left.capabilities()[right.peer_id.to_base58()].capabilities
            assert advert.listen_addrs == tuple(right.listen_addrs)
            nursery.cancel_scope.cancel()


async def test_mdns_finds_and_dials_a_peer_on_the_lan():
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            config = NodeConfig(swarm_id="mdns", mdns=True, redial_interval_s=0.5)
            a, b = Node(create_new_key_pair(), config), Node(create_new_key_pair(), config)
            await nursery.start(a.serve)
            await nursery.start(b.serve)
            while b.peer_id not in a.connected_peers():  # nobody dialled anybody explicitly
                await trio.sleep(0.1)
            await a.wait_for_peers(1)
            await b.publish(claim(1))
            assert (await a.inbox.receive()).sender == b.peer_id.to_bytes()
            nursery.cancel_scope.cancel()
