"""Per-address admission of inbound connections: no one address can crowd out the others.

py-libp2p 0.8.1 limits connections only globally: 250 inbound connections may be in
progress or open at once (network/swarm.py `_inbound_limiter`, max_connections minus
min_connections from network/config.py) and 300 may be open (MAX_CONNECTIONS). Its
resource manager (libp2p/rcmgr) has nothing per remote address: `CIDRLimiter` counts one
shared total per configured subnet, and `ConnectionLimits.max_pending_inbound` is never
consulted by the swarm. So one machine that opens sockets and says nothing, or completes
handshakes under many identities, can hold every slot and lock every other peer out.

Two limits per remote address, checked when the TCP connection is accepted, before any
handshake work:

- pending: accepted connections that have not finished Noise + Yamux. They are cut off
  by the handshake timeout (swarmclient.net.host.HANDSHAKE_TIMEOUT_S) anyway; the limit
  stops one address from holding more than a few of the 250 slots meanwhile.
- established: open inbound connections. A NAT can put several honest peers behind one
  address, so this one is larger. Connections we dial ourselves never count.

An IPv6 address counts by its /64 (one subscriber usually holds a whole /64 and can pick
any address in it at will); an IPv4 address, or an IPv4-mapped IPv6 one, by itself.

A refused connection is closed at once and counted as a node event
(`conn-refused-per-ip-pending` / `conn-refused-per-ip-established`), so floods show up in
NodeStats.events (the peer's control-socket snapshot, a devnet peer's final-stats.json),
never silently.

`AdmissionTable` is the bookkeeping, free of I/O; `guard_inbound` attaches it to a
py-libp2p swarm.
"""

from __future__ import annotations

import contextvars
import enum
import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.network.exceptions import SwarmException

from swarmclient.config import NetworkConfig
from swarmclient.errors import SwarmError

log = logging.getLogger(__name__)

# The defaults live with config.toml's [network] section (swarmclient/config.py), so a
# node built without a config file gets the same limits as one built from it.
# Pending: 16, so that 16 honest peers dialling one listener from 127.0.0.1 all at once
# (every peer of an in-process 16-peer mesh dialling every other: 15 handshakes in flight
# at the last one) are all admitted; at 8, 56 of those 120 dials were refused and had to
# be retried by py-libp2p's dialer, and the mesh took 2.9 s to form instead of 1.0 s. One
# address still holds at most 16 of py-libp2p's 250 inbound slots.
# Established: the busiest devnet peer (peer 0, everyone's bootstrap) keeps 15 inbound
# connections from 127.0.0.1 in a 16-peer devnet, plus an occasional duplicate when two
# peers dial each other at once; 32 leaves room for that and for peers behind a NAT, and
# is about a tenth of the 300 connection slots.
DEFAULT_MAX_PENDING_PER_IP = NetworkConfig.max_pending_per_ip
DEFAULT_MAX_ESTABLISHED_PER_IP = NetworkConfig.max_established_per_ip

UNKNOWN_ADDRESS = "unknown"  # the socket was gone before we could ask its peer's address


class Refusal(enum.Enum):
    PENDING = "per-ip-pending"
    ESTABLISHED = "per-ip-established"

    @property
    def event(self) -> str:
        """The NodeStats.events counter a refusal for this reason goes to."""
        return f"conn-refused-{self.value}"


@dataclass(frozen=True)
class AdmissionLimits:
    max_pending_per_ip: int = DEFAULT_MAX_PENDING_PER_IP
    max_established_per_ip: int = DEFAULT_MAX_ESTABLISHED_PER_IP

    def __post_init__(self) -> None:
        for name in ("max_pending_per_ip", "max_established_per_ip"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SwarmError("bad-config", f"{name} must be a whole number >= 1, got {value!r}")


def address_key(host: str | None) -> str:
    """The key an address is counted under: the IPv4 address, or the IPv6 /64."""
    if not host:
        return UNKNOWN_ADDRESS
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return UNKNOWN_ADDRESS
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Ticket:
    """One admitted inbound connection: pending, then maybe established, then released."""

    PENDING, ESTABLISHED, RELEASED = "pending", "established", "released"

    __slots__ = ("key", "state")

    def __init__(self, key: str) -> None:
        self.key = key
        self.state = Ticket.PENDING


class AdmissionTable:
    """Counts of pending and established inbound connections per address key.

    Every admitted connection holds exactly one ticket, counted in exactly one of the two
    tables until `release`; refusals hold nothing. Keys whose counts reach zero are
    dropped, so memory follows the live connections, not the addresses ever seen.
    """

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self._pending: Counter[str] = Counter()
        self._established: Counter[str] = Counter()

    def pending(self, key: str) -> int:
        return self._pending[key]

    def established(self, key: str) -> int:
        return self._established[key]

    def totals(self) -> tuple[int, int]:
        return sum(self._pending.values()), sum(self._established.values())

    def admit(self, key: str) -> Ticket | Refusal:
        """A ticket for a newly accepted connection from `key`, or why it is refused."""
        if self._established[key] >= self.limits.max_established_per_ip:
            return Refusal.ESTABLISHED
        if self._pending[key] >= self.limits.max_pending_per_ip:
            return Refusal.PENDING
        self._pending[key] += 1
        return Ticket(key)

    def establish(self, ticket: Ticket) -> Refusal | None:
        """Move a pending ticket to established, unless its address is at its limit (then
        the ticket stays pending and the caller drops the connection and releases it)."""
        if ticket.state != Ticket.PENDING:
            raise SwarmError("admission-misuse", f"establish on a {ticket.state} ticket")
        if self._established[ticket.key] >= self.limits.max_established_per_ip:
            return Refusal.ESTABLISHED
        self._decrement(self._pending, ticket.key)
        self._established[ticket.key] += 1
        ticket.state = Ticket.ESTABLISHED
        return None

    def release(self, ticket: Ticket) -> None:
        """Give the ticket's slot back. Safe to call more than once."""
        if ticket.state == Ticket.PENDING:
            self._decrement(self._pending, ticket.key)
        elif ticket.state == Ticket.ESTABLISHED:
            self._decrement(self._established, ticket.key)
        ticket.state = Ticket.RELEASED

    @staticmethod
    def _decrement(table: Counter[str], key: str) -> None:
        if table[key] <= 0:
            raise SwarmError("admission-misuse", f"count for {key} would go negative")
        table[key] -= 1
        if table[key] == 0:
            del table[key]


# -- py-libp2p glue ------------------------------------------------------------------------


@dataclass
class _Inbound:
    ticket: Ticket
    nursery: trio.Nursery


# The inbound connection whose handler is running in this task. py-libp2p accepts,
# upgrades and registers an inbound connection in one task (the listener's handler), so
# the add_conn hook below finds its ticket here without threading it through libp2p.
_CURRENT: contextvars.ContextVar[_Inbound | None] = contextvars.ContextVar("swarm_inbound", default=None)


class InboundGuard:
    """Applies an AdmissionTable to one py-libp2p Swarm (see guard_inbound)."""

    def __init__(self, swarm: Any, limits: AdmissionLimits, events: Counter[str] | None) -> None:
        self.table = AdmissionTable(limits)
        self.events: Counter[str] = events if events is not None else Counter()
        self._handle_inbound = swarm._handle_inbound_connection
        self._add_conn = swarm.add_conn

    def _refuse(self, refusal: Refusal, key: str) -> None:
        self.events[refusal.event] += 1
        log.debug("refused an inbound connection from %s: %s", key, refusal.value)

    async def handle_inbound(self, read_write_closer: Any, maddr: Any) -> None:
        """Replaces Swarm._handle_inbound_connection (network/swarm.py): the first code
        that sees an accepted socket, before py-libp2p's own inbound limiter."""
        remote = None
        try:
            remote = read_write_closer.get_remote_address()
        except (AttributeError, OSError):
            pass
        key = address_key(remote[0] if remote else None)
        admitted = self.table.admit(key)
        if isinstance(admitted, Refusal):
            self._refuse(admitted, key)
            # Returning closes it: trio.serve_listeners closes every stream whose handler
            # returns (trio/_highlevel_serve_listeners.py, _run_handler).
            return
        try:
            async with trio.open_nursery() as nursery:
                token = _CURRENT.set(_Inbound(admitted, nursery))
                try:
                    await self._handle_inbound(read_write_closer, maddr)
                finally:
                    _CURRENT.reset(token)
                # The handler returned by itself (the upgrade failed or timed out, or
                # the swarm stopped): nothing left to watch.
                nursery.cancel_scope.cancel()
        finally:
            self.table.release(admitted)

    async def add_conn(self, muxed_conn: Any, direction: str = "unknown") -> Any:
        """Wraps Swarm.add_conn, which upgrade_inbound_raw_conn calls once Noise and
        Yamux are done: the pending connection becomes established, or is refused before
        it is registered or announced to pubsub."""
        inbound = _CURRENT.get()
        if direction != "inbound" or inbound is None or inbound.ticket.state != Ticket.PENDING:
            return await self._add_conn(muxed_conn, direction)
        refusal = self.table.establish(inbound.ticket)
        if refusal is not None:
            self._refuse(refusal, inbound.ticket.key)
            # upgrade_inbound_raw_conn has already taken a resource-manager slot for the
            # connection and left it on the muxed conn for SwarmConn.close to give back
            # (network/swarm.py, setattr(muxed_conn, "_resource_scope", ...)); refused
            # before a SwarmConn exists, we give it back (measured: without this, 5
            # refusals left the resource manager counting 6 connections for 1 live one).
            scope = getattr(muxed_conn, "_resource_scope", None)
            if scope is not None:
                muxed_conn._resource_scope = None
                scope.close()
            # upgrade_inbound_raw_conn lets this propagate to _do_handle_inbound_connection,
            # which closes the raw connection and returns.
            raise SwarmException(f"too many connections from {inbound.ticket.key}")
        swarm_conn = await self._add_conn(muxed_conn, direction)
        # After a successful inbound upgrade, py-libp2p parks the handler task in
        # `await self.manager.wait_finished()` ("Intentional barrier", network/swarm.py
        # _do_handle_inbound_connection) until the whole swarm stops, holding one of the
        # 250 `_inbound_limiter` slots long after the connection has closed, so a peer
        # that has accepted 250 connections in its life refuses every new one (seen with
        # the cap scaled down to 10: the 11th connect/disconnect cycle was refused).
        # Ending the handler when the connection closes gives both that slot and our
        # ticket back.
        inbound.nursery.start_soon(_cancel_when_closed, swarm_conn, inbound.nursery.cancel_scope)
        return swarm_conn


async def _cancel_when_closed(swarm_conn: Any, scope: trio.CancelScope) -> None:
    # Yamux sets event_closed once its secured connection (the socket) is closed, whether
    # we closed it or the remote hung up (stream_muxer/yamux/yamux.py, close and the read
    # loop's cleanup); waiting for that, not SwarmConn.event_closed, keeps trio from
    # closing the socket under Yamux while it still writes its GO_AWAY.
    await swarm_conn.muxed_conn.event_closed.wait()
    scope.cancel()


def guard_inbound(swarm: Any, limits: AdmissionLimits, events: Counter[str] | None = None) -> InboundGuard:
    """Apply per-address limits to `swarm`'s inbound connections (before it listens).

    Hooks two methods on the instance; both are looked up through `self` at call time
    (Swarm.listen's conn_handler calls self._handle_inbound_connection, and
    upgrade_inbound_raw_conn calls self.add_conn), so instance attributes take effect.
    Refusals are counted in `events` under Refusal.event names.
    """
    guard = InboundGuard(swarm, limits, events)
    swarm._handle_inbound_connection = guard.handle_inbound
    swarm.add_conn = guard.add_conn
    return guard


__all__ = [
    "DEFAULT_MAX_ESTABLISHED_PER_IP",
    "DEFAULT_MAX_PENDING_PER_IP",
    "AdmissionLimits",
    "AdmissionTable",
    "InboundGuard",
    "Refusal",
    "Ticket",
    "address_key",
    "guard_inbound",
]
