"""Finding peers: bootstrap multiaddrs dialled with backoff, and a peer cache on disk.

The cache (`$SWARM_HOME/peers.json`) remembers the addresses of peers we were connected
to, so a restart can rejoin the swarm even when every bootstrap peer is down. It is
rewritten atomically (temporary file + rename): a crash mid-write leaves the old file.
A corrupt or foreign cache is reported and ignored, never fatal: it is only a hint.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import multiaddr
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr

from protocol.wire import is_ed25519_peer_id
from swarmclient.errors import SwarmError

log = logging.getLogger(__name__)

CACHE_FORMAT = "swarm-peers/1"
# Keep the most recently seen peers; a cache of thousands would only slow start-up.
CACHE_MAX_PEERS = 256
CACHE_MAX_BYTES = 4 * 1024 * 1024


def parse_peer_addr(text: str) -> PeerInfo:
    """`/ip4/1.2.3.4/tcp/4001/p2p/<peer id>` -> PeerInfo; a clear error otherwise."""
    try:
        return info_from_p2p_addr(multiaddr.Multiaddr(text))
    except Exception as exc:  # noqa: BLE001 - multiaddr/peer-id parsing raise many types
        raise SwarmError(
            "bad-peer-addr", f"{text!r} is not a peer multiaddr ending in /p2p/<peer id> ({exc})"
        ) from exc


@dataclass(frozen=True)
class CachedPeer:
    peer_id: str
    addrs: tuple[str, ...]
    last_seen: float  # unix seconds

    def dial_addrs(self) -> list[str]:
        suffix = f"/p2p/{self.peer_id}"
        return [a if a.endswith(suffix) else a + suffix for a in self.addrs]


class PeerCache:
    """Peers we have been connected to, persisted as JSON."""

    def __init__(self, path: Path | None, *, max_peers: int = CACHE_MAX_PEERS) -> None:
        self.path = path
        self.max_peers = max_peers
        self._peers: dict[str, CachedPeer] = {}
        self.load_error: str | None = None

    def __len__(self) -> int:
        return len(self._peers)

    def peers(self) -> list[CachedPeer]:
        return sorted(self._peers.values(), key=lambda p: p.last_seen, reverse=True)

    def remember(self, peer_id: str, addrs: list[str], *, now: float | None = None) -> None:
        clean = tuple(a for a in addrs if a and "/tcp/" in a)
        if not clean:
            return
        self._peers[peer_id] = CachedPeer(peer_id, clean, time.time() if now is None else now)
        if len(self._peers) > self.max_peers:
            for stale in self.peers()[self.max_peers :]:
                del self._peers[stale.peer_id]

    def forget(self, peer_id: str) -> None:
        self._peers.pop(peer_id, None)

    def load(self) -> None:
        """Read the cache; a missing file is empty, a bad one is reported in `load_error`."""
        self._peers.clear()
        self.load_error = None
        if self.path is None or not self.path.exists():
            return
        try:
            if self.path.stat().st_size > CACHE_MAX_BYTES:
                raise ValueError(f"larger than {CACHE_MAX_BYTES} bytes")
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
                raise ValueError(f"not a {CACHE_FORMAT} file")
            entries = data["peers"]
            if not isinstance(entries, list):
                raise ValueError("'peers' is not a list")
            for entry in entries:
                peer_id, addrs, seen = entry["peer_id"], entry["addrs"], entry["last_seen"]
                if not (isinstance(peer_id, str) and isinstance(addrs, list) and isinstance(seen, (int, float))):
                    raise ValueError(f"malformed entry {entry!r:.80}")
                if not is_ed25519_peer_id(ID.from_base58(peer_id).to_bytes()):
                    raise ValueError(f"{peer_id[:60]!r} is not an Ed25519 peer id")
                self.remember(peer_id, [str(a) for a in addrs], now=float(seen))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._peers.clear()
            self.load_error = f"{self.path}: {exc}"
            log.warning("ignoring peer cache %s", self.load_error)

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": CACHE_FORMAT,
            "peers": [
                {"peer_id": p.peer_id, "addrs": list(p.addrs), "last_seen": p.last_seen} for p in self.peers()
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


@dataclass
class Backoff:
    """Exponential backoff with jitter for redialling one address."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    _next: float = 0.0

    def next_delay(self) -> float:
        self._next = self.initial_s if self._next == 0 else min(self.max_s, self._next * self.factor)
        return self._next * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self._next = 0.0
