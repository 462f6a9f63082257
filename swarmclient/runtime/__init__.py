"""The peer runtime one process runs: node, control endpoint, round loop."""

from swarmclient.runtime.ledger import BatchLedger
from swarmclient.runtime.peer import STATS_FORMAT, PeerRuntime, RuntimeOptions, control_socket_path, run_peer
from swarmclient.runtime.synthetic import SyntheticGroup, batch_target_bytes, synthetic_groups

__all__ = [
    "STATS_FORMAT",
    "BatchLedger",
    "PeerRuntime",
    "RuntimeOptions",
    "SyntheticGroup",
    "batch_target_bytes",
    "control_socket_path",
    "run_peer",
    "synthetic_groups",
]
