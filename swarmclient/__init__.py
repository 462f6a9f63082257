"""The swarm peer: runtime, networking, SAPO round loop, watchers, CLI, TUI, devnet."""

from swarmclient.errors import SwarmError

__version__ = "0.1.0"

__all__ = ["SwarmError", "__version__"]
