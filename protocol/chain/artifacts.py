"""Compiled contracts: built from the Vyper sources with the `vyper` package, cached on disk.

Artifacts are not checked in: they are compiled on first use (install or test time) and cached
under `$SWARM_CACHE_DIR/contracts/` (default `~/.cache/swarm/contracts/`), keyed by a hash of
every source file, the vyper version and the snekmate version, so an edited source can never
be served stale bytecode. Module imports resolve against protocol/contracts/ (our `lib/` and
`modules/`) and the installed snekmate package.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from protocol.chain.reasons import ChainReason
from protocol.errors import ProtocolError

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
# Deployable contracts, in deployment order.
CONTRACT_NAMES = ("Token", "Registry", "ClaimLedger", "Game")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: str  # 0x-prefixed deploy bytecode


def search_paths() -> list[Path]:
    """Where `from lib import float32` and `from snekmate.tokens import erc20` resolve."""
    spec = importlib.util.find_spec("snekmate")
    if spec is None or not spec.submodule_search_locations:
        raise ProtocolError(ChainReason.COMPILE, "the snekmate package is not installed (pip install snekmate)")
    return [CONTRACTS_DIR, Path(list(spec.submodule_search_locations)[0]).parent]


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(CONTRACTS_DIR.rglob("*.vy")):
        digest.update(str(path.relative_to(CONTRACTS_DIR)).encode() + b"\0" + path.read_bytes())
    for dist in ("vyper", "snekmate"):
        digest.update(dist.encode() + importlib.metadata.version(dist).encode())
    return digest.hexdigest()[:24]


def cache_dir() -> Path:
    base = os.environ.get("SWARM_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "swarm")
    return Path(base) / "contracts"


def compile_source(relative_path: str) -> Artifact:
    """Compile one contract under protocol/contracts/ (no cache)."""
    import vyper
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.exceptions import VyperException

    path = CONTRACTS_DIR / relative_path
    try:
        out = vyper.compile_code(
            path.read_text(),
            contract_path=str(path),
            input_bundle=FilesystemInputBundle(search_paths()),
            output_formats=["abi", "bytecode"],
        )
    except (VyperException, OSError) as exc:
        raise ProtocolError(ChainReason.COMPILE, f"{relative_path}: {exc}") from exc
    return Artifact(Path(relative_path).stem, out["abi"], out["bytecode"])


def load_artifacts(*, use_cache: bool = True) -> dict[str, Artifact]:
    """All deployable contracts, compiled (or read from the cache when sources are unchanged)."""
    key = source_digest()
    cached = cache_dir() / f"{key}.json"
    if use_cache and cached.exists():
        try:
            data = json.loads(cached.read_text())
            return {n: Artifact(n, data[n]["abi"], data[n]["bytecode"]) for n in CONTRACT_NAMES}
        except (ValueError, KeyError, TypeError):
            pass  # a torn or foreign cache file: rebuild it below
    built = {n: compile_source(f"{n}.vy") for n in CONTRACT_NAMES}
    if use_cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({n: {"abi": a.abi, "bytecode": a.bytecode} for n, a in built.items()}))
        os.replace(tmp, cached)
    return built
