"""Where a peer keeps its state: `$SWARM_HOME` (default `~/.swarm`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    return Path(os.environ.get("SWARM_HOME") or Path.home() / ".swarm").expanduser()


@dataclass(frozen=True)
class Home:
    """The layout of one peer's state directory."""

    root: Path

    @classmethod
    def resolve(cls, root: str | os.PathLike[str] | None = None) -> "Home":
        return cls(Path(root).expanduser() if root else default_home())

    @property
    def identity_dir(self) -> Path:
        return self.root / "identity"

    @property
    def peer_key(self) -> Path:
        return self.identity_dir / "peer.key"

    @property
    def eth_key(self) -> Path:
        return self.identity_dir / "eth.key"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def peer_cache(self) -> Path:
        return self.root / "peers.json"

    @property
    def database(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def control_socket(self) -> Path:
        """The peer's read-only control endpoint (a Unix socket, mode 0600)."""
        return self.root / "control.sock"
