"""Can other peers reach us? Reported from evidence only, never guessed.

Evidence we have:
  - our listen addresses and their scope: loopback (this machine only), private (RFC 1918,
    CGNAT, link-local, ULA: a LAN, or behind NAT), public, or unspecified (0.0.0.0);
  - inbound connections: a peer that dialled US proves we are reachable from where it sits;
    its address's scope says from how far (a public remote proves internet reachability).

What py-libp2p 0.8.1 offers, and why we do not use it (docs/architecture.md, "Joining"):
  - AutoNAT v1 (libp2p/host/autonat/autonat.py): the server answers a dial-back request with
    `host.connect(peer)`, which returns at once when a connection to that peer already
    exists, and the requester is always connected (it asks over that very connection). So
    every server answers OK whatever our NAT: the verdict would be "public" for everyone.
  - Circuit relay v2 (libp2p/relay/circuit_v2): usable only with relay peers that run the hop
    protocol and a transport stack built around it; no swarm peer runs one, so a peer behind
    NAT cannot be relayed today.
Hence the verdict is one of: `local-only`, `reachable` (inbound seen; `from` says whence),
`public-address` (listening on a public IP, no inbound yet), `unknown` (private addresses and
no inbound connection: behind NAT or firewalled? nobody has dialled in yet).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any

NAT_TRAVERSAL = (
    "none: py-libp2p 0.8.1's AutoNAT answers OK over the requester's existing connection "
    "(no real dial-back), and no relay peers run circuit relay v2"
)


def address_scope(addr: str) -> str:
    """loopback | private | public | unspecified | other, for a multiaddr's IP."""
    parts = addr.split("/")
    for proto in ("ip4", "ip6"):
        if proto in parts:
            i = parts.index(proto)
            if i + 1 >= len(parts):
                return "other"
            try:
                ip = ipaddress.ip_address(parts[i + 1])
            except ValueError:
                return "other"
            return ip_scope(ip)
    if "dns4" in parts or "dns6" in parts or "dns" in parts:
        return "public"  # a DNS name was put there to be dialled from outside
    return "other"


def ip_scope(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_private or ip.is_link_local or ip in ipaddress.ip_network("100.64.0.0/10"):
        return "private"
    return "public" if ip.is_global else "other"


@dataclass
class InboundSeen:
    peer_id: str
    remote: str  # ip:port as the connection saw it
    scope: str
    at: float


@dataclass
class ReachabilityWatch:
    """Remembers every inbound connection seen (the runtime polls `observe` every second),
    so evidence survives the connection itself."""

    inbound: dict[str, InboundSeen] = field(default_factory=dict)

    def observe(self, node: Any) -> None:
        try:
            conns = node.host.get_network().get_connections_map()
        except AttributeError:
            return
        for peer, items in conns.items():
            for conn in items:
                if "INBOUND" not in str(getattr(conn, "direction", "")).upper():
                    continue
                remote = _remote_of(conn)
                key = peer.to_base58()
                if key not in self.inbound:
                    scope = ip_scope(ipaddress.ip_address(remote[0])) if remote else "other"
                    host_port = f"{remote[0]}:{remote[1]}" if remote else "?"
                    self.inbound[key] = InboundSeen(key, host_port, scope, time.time())

    def report(self, listen_addrs: list[str]) -> "Reachability":
        scopes = {a: address_scope(a) for a in listen_addrs}
        kinds = set(scopes.values())
        seen = list(self.inbound.values())
        widest = _widest(s.scope for s in seen)
        if seen:
            verdict = "reachable"
            detail = f"{len(seen)} peer(s) dialled in (widest: {widest}); reachable from the {widest} network"
        elif kinds and kinds <= {"loopback"}:
            verdict, detail = "local-only", "listening on loopback only: reachable from this machine only"
        elif "public" in kinds:
            verdict = "public-address"
            detail = "listening on a public address; no peer has dialled in yet (a firewall could still block it)"
        else:
            verdict = "unknown"
            detail = "behind NAT? listening on private addresses only and no peer has dialled in yet"
        return Reachability(tuple(listen_addrs), scopes, tuple(seen), verdict, detail, widest)


@dataclass(frozen=True)
class Reachability:
    listen: tuple[str, ...]
    scopes: dict[str, str]
    inbound: tuple[InboundSeen, ...]
    verdict: str
    detail: str
    inbound_from: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "detail": self.detail,
            "listen": [{"addr": a, "scope": self.scopes[a]} for a in self.listen],
            "inbound_peers": len(self.inbound),
            "inbound_from": self.inbound_from,
            "inbound": [{"peer_id": s.peer_id, "remote": s.remote, "scope": s.scope, "at": s.at} for s in self.inbound[:16]],
            "nat_traversal": NAT_TRAVERSAL,
        }


def _widest(scopes: Any) -> str | None:
    order = ["loopback", "other", "private", "public"]
    best = None
    for s in scopes:
        if best is None or order.index(s) > order.index(best):
            best = s
    return best


def _remote_of(conn: Any) -> tuple[str, int] | None:
    muxed = getattr(conn, "muxed_conn", None)
    get = getattr(muxed, "get_remote_address", None)
    if not callable(get):
        return None
    try:
        remote = get()
    except Exception:  # noqa: BLE001 - a connection being torn down raises many things
        return None
    if not remote:
        return None
    try:
        ipaddress.ip_address(remote[0])
    except ValueError:
        return None
    return str(remote[0]), int(remote[1])


__all__ = ["NAT_TRAVERSAL", "Reachability", "ReachabilityWatch", "address_scope", "ip_scope"]
