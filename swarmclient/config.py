"""`config.toml`: the operator's settings, with defaults that work out of the box.

The file is written once by `swarm init` from the documented template below and read with
the standard library's `tomllib`. Unknown keys and wrong types are errors with the key's
name, never ignored: a typo in a config file must not silently change behaviour.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmclient.errors import SwarmError

TEMPLATE = '''\
# swarm peer configuration. Every key is optional; the values shown are the defaults.

# Which swarm to join: peers only talk on topics of the same swarm id
# (/swarm/<swarm_id>/caps/1, /rollouts/1, /claims/1, /disputes/1).
swarm_id = "{swarm_id}"

[network]
# libp2p multiaddrs to listen on. Port 0 picks a free port.
listen = {listen}
# Peers to dial at start, as full multiaddrs ending in /p2p/<peer id>.
bootstrap = {bootstrap}
# Remember peers seen (peers.json next to this file), so a restart does not
# depend on the bootstrap peers being up.
peer_cache = true
# Find peers on the local network with mDNS.
mdns = false
# Inbound connections admitted per remote address (an IPv6 address counts by
# its /64); more are closed at once, before any handshake, and counted in the
# node's events (conn-refused-per-ip-pending / -established). Connections this
# peer dials are never limited. Pending: not yet through the Noise handshake
# (which times out after 3 s). Established: open; leave room for several peers
# behind one NAT, or for a devnet of many peers on 127.0.0.1.
max_pending_per_ip = {max_pending_per_ip}
max_established_per_ip = {max_established_per_ip}

[device]
# auto picks cuda, then mps, then cpu.
kind = "auto"
# Refuse to grow past this share of free memory (keeps a laptop from swapping).
max_memory_fraction = 0.5

[chain]
# embedded: an in-process EVM (py-evm), nothing to install.
# anvil: a local anvil node from npm, started by swarm.
# rpc: any JSON-RPC endpoint given in rpc_url (a public testnet).
backend = "embedded"
rpc_url = ""
'''


@dataclass(frozen=True)
class NetworkConfig:
    listen: list[str] = field(default_factory=lambda: ["/ip4/0.0.0.0/tcp/4001"])
    bootstrap: list[str] = field(default_factory=list)
    peer_cache: bool = True
    mdns: bool = False
    # Defaults for every peer, config.toml or not (swarmclient.net.admission reads them):
    # see swarmclient/net/admission.py for why these numbers.
    max_pending_per_ip: int = 16
    max_established_per_ip: int = 32


@dataclass(frozen=True)
class DeviceConfig:
    kind: str = "auto"
    max_memory_fraction: float = 0.5


@dataclass(frozen=True)
class ChainConfig:
    backend: str = "embedded"
    rpc_url: str = ""


@dataclass(frozen=True)
class Config:
    swarm_id: str = "public"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    chain: ChainConfig = field(default_factory=ChainConfig)


_CHOICES = {
    ("device", "kind"): {"auto", "cpu", "cuda", "mps"},
    ("chain", "backend"): {"embedded", "anvil", "rpc"},
}
_MINIMUMS = {
    ("network", "max_pending_per_ip"): 1,
    ("network", "max_established_per_ip"): 1,
}


def render(config: Config) -> str:
    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    return TEMPLATE.format(
        swarm_id=config.swarm_id,
        listen=toml_list(config.network.listen),
        bootstrap=toml_list(config.network.bootstrap),
        max_pending_per_ip=config.network.max_pending_per_ip,
        max_established_per_ip=config.network.max_established_per_ip,
    )


def _check_type(where: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise SwarmError("bad-config", f"{where} should be {type(default).__name__}, got {value!r}")
    return value


def _build(cls: type, data: dict, section: str) -> Any:
    defaults = cls()
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        where = f"{section}.{key}" if section else key
        if key not in known:
            raise SwarmError("bad-config", f"unknown key {where!r} (known: {', '.join(sorted(known))})")
        default = getattr(defaults, key)
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise SwarmError("bad-config", f"[{where}] should be a table")
            values[key] = _build(type(default), value, where)
            continue
        value = _check_type(where, value, default)
        allowed = _CHOICES.get((section, key))
        if allowed and value not in allowed:
            raise SwarmError("bad-config", f"{where} = {value!r}; choose one of {sorted(allowed)}")
        minimum = _MINIMUMS.get((section, key))
        if minimum is not None and value < minimum:
            raise SwarmError("bad-config", f"{where} = {value!r}; must be at least {minimum}")
        values[key] = value
    return cls(**values)


def parse(text: str, source: str = "config.toml") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SwarmError("bad-config", f"{source}: {exc}") from exc
    try:
        return _build(Config, data, "")
    except SwarmError as exc:
        raise SwarmError("bad-config", f"{source}: {exc.detail}") from exc


def load(path: Path) -> Config:
    if not path.exists():
        return Config()
    return parse(path.read_text(), str(path))
