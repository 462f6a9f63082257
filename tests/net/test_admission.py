"""Per-address admission of inbound connections (swarmclient.net.admission).

Bookkeeping properties with hypothesis; then real py-libp2p hosts on loopback. Linux
answers all of 127.0.0.0/8, so an attacker binds its sockets to 127.0.0.2 while honest
peers come from 127.0.0.1: two addresses on one machine.
"""

from __future__ import annotations

import os
from collections import Counter

import multiaddr
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.peerinfo import info_from_p2p_addr

from swarmclient import config as config_mod
from swarmclient.errors import SwarmError
from swarmclient.home import Home
from swarmclient.net import Node, NodeConfig
from swarmclient.net.admission import (
    DEFAULT_MAX_PENDING_PER_IP,
    AdmissionLimits,
    AdmissionTable,
    Refusal,
    Ticket,
    address_key,
)
from swarmclient.net.host import HANDSHAKE_TIMEOUT_S, make_host
from swarmclient.net.node import node_config_from

from netutil import claim, eof_within, star

ATTACKER = "127.0.0.2"
PENDING_REFUSED = Refusal.PENDING.event
ESTABLISHED_REFUSED = Refusal.ESTABLISHED.event


# -- bookkeeping -----------------------------------------------------------------------------

ops = st.lists(
    st.tuples(st.sampled_from(["admit", "establish", "release"]), st.integers(0, 3), st.integers(0, 40)),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(ops, st.integers(1, 4), st.integers(1, 4))
def test_counts_always_match_the_live_tickets_and_stay_within_limits(script, max_pending, max_established):
    table = AdmissionTable(AdmissionLimits(max_pending, max_established))
    keys = ["10.0.0.1", "10.0.0.2", "2001:db8::/64", "unknown"]
    tickets: list[Ticket] = []
    for op, key_index, ticket_index in script:
        before = (dict(table._pending), dict(table._established))
        if op == "admit":
            got = table.admit(keys[key_index])
            if isinstance(got, Refusal):
                # A refused connection holds no slot.
                assert (dict(table._pending), dict(table._established)) == before
            else:
                tickets.append(got)
        elif tickets:
            ticket = tickets[ticket_index % len(tickets)]
            if op == "establish":
                if ticket.state == Ticket.PENDING:
                    refusal = table.establish(ticket)
                    assert refusal in (None, Refusal.ESTABLISHED)
                    if refusal is not None:
                        assert (dict(table._pending), dict(table._established)) == before
                else:
                    with pytest.raises(SwarmError):
                        table.establish(ticket)
            else:
                table.release(ticket)
                table.release(ticket)  # a second release changes nothing
        for key in keys:
            live = [t for t in tickets if t.key == key]
            pending = sum(1 for t in live if t.state == Ticket.PENDING)
            established = sum(1 for t in live if t.state == Ticket.ESTABLISHED)
            assert table.pending(key) == pending <= max_pending
            assert table.established(key) == established <= max_established
        assert all(n > 0 for n in table._pending.values())
        assert all(n > 0 for n in table._established.values())
    for ticket in tickets:
        table.release(ticket)
    assert table.totals() == (0, 0)
    assert not table._pending and not table._established  # nothing kept per address seen


def test_refusal_reasons_in_order():
    table = AdmissionTable(AdmissionLimits(max_pending_per_ip=2, max_established_per_ip=1))
    first, second = table.admit("10.0.0.1"), table.admit("10.0.0.1")
    assert table.admit("10.0.0.1") is Refusal.PENDING
    assert isinstance(table.admit("10.0.0.9"), Ticket)  # another address is not affected
    assert table.establish(first) is None
    assert table.establish(second) is Refusal.ESTABLISHED  # stays pending; caller releases it
    table.release(second)
    assert table.admit("10.0.0.1") is Refusal.ESTABLISHED  # at the limit: refused before any handshake
    table.release(first)
    assert isinstance(table.admit("10.0.0.1"), Ticket)
    assert Refusal.PENDING.event == "conn-refused-per-ip-pending"


@given(st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))
def test_an_ipv6_address_counts_by_its_64(address, low_bits):
    import ipaddress

    ip = ipaddress.IPv6Address(address)
    if ip.ipv4_mapped is not None:
        return
    same_64 = ipaddress.IPv6Address((address >> 64 << 64) | low_bits)
    assert address_key(str(ip)) == address_key(str(same_64))
    assert address_key(str(ip)).endswith("/64")


def test_address_keys():
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key(None) == address_key("") == address_key("not an ip") == "unknown"


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "8"])
def test_limits_must_be_whole_numbers_of_at_least_one(bad, tmp_path):
    with pytest.raises(SwarmError):
        AdmissionLimits(max_pending_per_ip=bad)
    with pytest.raises(SwarmError) as err:
        config_mod.parse(f"[network]\nmax_established_per_ip = {bad!r}".replace("'", '"').replace("True", "true"))
    assert err.value.reason == "bad-config"
    assert "max_established_per_ip" in err.value.detail


def test_config_toml_reaches_the_node_config(tmp_path):
    parsed = config_mod.parse("[network]\nmax_pending_per_ip = 3\nmax_established_per_ip = 5\n")
    node_config = node_config_from(parsed, Home(tmp_path))
    assert (node_config.max_pending_per_ip, node_config.max_established_per_ip) == (3, 5)
    defaults = node_config_from(config_mod.parse(config_mod.render(config_mod.Config())), Home(tmp_path))
    assert defaults.max_pending_per_ip == NodeConfig(swarm_id="x").max_pending_per_ip == DEFAULT_MAX_PENDING_PER_IP


# -- real hosts ------------------------------------------------------------------------------


def _tcp_port(listen_addr: str) -> int:
    return int(multiaddr.Multiaddr(listen_addr).value_for_protocol("tcp"))


async def _connect_from(source_ip: str, port: int) -> trio.SocketStream:
    sock = trio.socket.socket()
    await sock.bind((source_ip, 0))
    await sock.connect(("127.0.0.1", port))
    return trio.SocketStream(sock)


async def _wait_for(predicate, timeout=10.0):
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.02)


async def test_a_flood_from_one_address_does_not_lock_out_a_newcomer_from_another():
    with trio.fail_after(30):
        async with star(2) as (target, friend):
            port = _tcp_port(target.listen_addrs[0])
            guard = target.host.admission
            attacker = address_key(ATTACKER)
            for _ in range(10):  # random bytes, then hang up
                sock = await _connect_from(ATTACKER, port)
                await sock.send_all(os.urandom(2048))
                await sock.aclose()
            half_open = await _connect_from(ATTACKER, port)
            await half_open.send_all(b"\x13/multistream/1.0.0\n" + os.urandom(64))
            # More silent sockets than py-libp2p's 250 inbound slots: without per-address
            # limits they hold every slot for the handshake timeout.
            silent = [await _connect_from(ATTACKER, port) for _ in range(320)]
            # At most DEFAULT_MAX_PENDING_PER_IP silent sockets are admitted, the rest
            # refused. (The garbage and half-open sockets are usually dropped before the
            # silent ones arrive, freeing their slots: seen as 304 refusals, not 305.)
            least_refused = len(silent) - DEFAULT_MAX_PENDING_PER_IP
            await _wait_for(lambda: target.stats().events.get(PENDING_REFUSED, 0) >= least_refused)
            assert guard.table.pending(attacker) <= DEFAULT_MAX_PENDING_PER_IP
            # Refused sockets are closed at once, not after the handshake timeout.
            assert await eof_within(silent[-1], 1.0)

            # The newcomer from 127.0.0.1 gets in on its first dial, before any of the
            # attacker's pending sockets has timed out, and gossip flows both ways.
            newcomer = Node(create_new_key_pair(), NodeConfig(swarm_id="test"))
            async with trio.open_nursery() as nursery:
                await nursery.start(newcomer.serve)
                started = trio.current_time()
                await newcomer.connect(target.listen_addrs[0], timeout=HANDSHAKE_TIMEOUT_S)
                connected_after = trio.current_time() - started
                await newcomer.wait_for_peers(1)
                await friend.publish(claim(1))
                with trio.fail_after(10):
                    assert (await newcomer.inbox.receive()).sender == friend.peer_id.to_bytes()
                await newcomer.publish(claim(2))
                with trio.fail_after(10):
                    assert (await friend.inbox.receive()).sender == newcomer.peer_id.to_bytes()
                print(f"newcomer connected {connected_after * 1000:.0f} ms into the flood")
                nursery.cancel_scope.cancel()
            assert target.stats().events.get(ESTABLISHED_REFUSED, 0) == 0
            assert target.stats().to_json()["events"][PENDING_REFUSED] >= least_refused

            # The admitted silent sockets are cut by the handshake timeout; their slots return.
            await _wait_for(lambda: guard.table.pending(attacker) == 0, HANDSHAKE_TIMEOUT_S + 5)
            for sock in silent + [half_open]:
                await sock.aclose()


async def _target_and_dialers(nursery: trio.Nursery, *, max_established_per_ip: int) -> tuple[Node, list[Node]]:
    """A running target node with that limit, and four running nodes to dial it."""
    target = Node(create_new_key_pair(), NodeConfig(swarm_id="test", max_established_per_ip=max_established_per_ip))
    dialers = [Node(create_new_key_pair(), NodeConfig(swarm_id="test")) for _ in range(4)]
    for node in [target, *dialers]:
        await nursery.start(node.serve)
    return target, dialers


async def test_established_connections_are_limited_per_address_and_slots_return():
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            target, dialers = await _target_and_dialers(nursery, max_established_per_ip=2)
            guard = target.host.admission
            for dialer in dialers[:2]:
                await dialer.connect(target.listen_addrs[0])
            await _wait_for(lambda: guard.table.established("127.0.0.1") == 2)

            with pytest.raises(SwarmError):
                await dialers[2].connect(target.listen_addrs[0], timeout=5)
            assert target.stats().events[ESTABLISHED_REFUSED] >= 1
            assert dialers[2].peer_id not in target.connected_peers()
            assert guard.table.totals() == (0, 2)

            # The target's own dials are not limited.
            await target.connect(dialers[3].listen_addrs[0])
            assert dialers[3].peer_id in target.connected_peers()

            # A closed connection gives its slot back; the refused peer now gets in.
            await dialers[0].host.disconnect(target.peer_id)
            await _wait_for(lambda: guard.table.established("127.0.0.1") == 1)
            await dialers[2].connect(target.listen_addrs[0])
            await _wait_for(lambda: dialers[2].peer_id in target.connected_peers())
            nursery.cancel_scope.cancel()


async def test_connections_finishing_their_handshake_together_cannot_pass_the_limit():
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            target, dialers = await _target_and_dialers(nursery, max_established_per_ip=1)

            async def dial(node):
                try:
                    await node.connect(target.listen_addrs[0], timeout=5)
                except SwarmError:
                    pass

            async with trio.open_nursery() as dials:  # all pending at once: checked again at the end
                for dialer in dialers:
                    dials.start_soon(dial, dialer)
            await _wait_for(lambda: target.host.admission.table.totals() == (0, 1))
            await trio.sleep(0.3)
            swarm = target.host.get_network()
            assert len(swarm.get_connections()) == 1
            assert target.stats().events[ESTABLISHED_REFUSED] >= 3
            # Refused after the handshake, a connection gives back the resource-manager
            # slot py-libp2p took for it during the upgrade.
            assert swarm._resource_manager._current_connections == 1
            nursery.cancel_scope.cancel()


async def test_an_honest_loopback_mesh_connects_fully_with_the_defaults():
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nodes = [Node(create_new_key_pair(), NodeConfig(swarm_id="test")) for _ in range(8)]
            for node in nodes:
                await nursery.start(node.serve)
            async with trio.open_nursery() as dials:  # every pair at once: 7 handshakes at the last
                for i, node in enumerate(nodes):
                    for other in nodes[i + 1:]:
                        dials.start_soon(node.connect, other.listen_addrs[0])
            for node in nodes:
                await _wait_for(lambda node=node: len(node.connected_peers()) == 7)
                assert not any(k.startswith("conn-refused") for k in node.stats().events)
            nursery.cancel_scope.cancel()


async def test_inbound_slots_are_given_back_when_connections_close():
    """Regression: py-libp2p 0.8.1 kept one of its 250 inbound slots per accepted connection
    until the swarm stopped (see InboundGuard.add_conn), whatever the connection did."""
    listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
    events: Counter[str] = Counter()
    target = make_host(create_new_key_pair(), ["/ip4/127.0.0.1/tcp/0"], events=events)
    dialer = make_host(create_new_key_pair(), ["/ip4/127.0.0.1/tcp/0"])
    swarm = target.get_network()
    with trio.fail_after(30):
        async with target.run(listen), dialer.run(listen):
            info = info_from_p2p_addr(target.get_addrs()[0])
            for _ in range(5):
                await dialer.connect(info)
                await _wait_for(lambda: target.admission.table.totals() == (0, 1))
                await dialer.disconnect(target.get_id())
                await _wait_for(lambda: target.admission.table.totals() == (0, 0))
            # So does a connection that sends garbage and hangs up.
            port = _tcp_port(str(target.get_addrs()[0]))
            sock = await _connect_from(ATTACKER, port)
            await sock.send_all(os.urandom(512))
            await sock.aclose()
            await _wait_for(lambda: swarm._inbound_limiter.borrowed_tokens == 0)
            assert target.admission.table.totals() == (0, 0)
            assert not events
