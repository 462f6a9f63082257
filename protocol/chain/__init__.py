"""The on-chain protocol from Python: compiled contracts, chain backends, a transaction worker
per account, typed contract wrappers, event subscriptions and the selftest.

See docs/contracts.md for the contracts and docs/architecture.md ("Chain") for the design.
"""

from protocol.chain.artifacts import CONTRACT_NAMES, Artifact, load_artifacts
from protocol.chain.backends import Chain, open_chain
from protocol.chain.client import BatchRef, ChainClient, GameView, Record
from protocol.chain.commit import Claim, Float32Tensor, Instruction, binding_message, state_hash
from protocol.chain.deployment import AI, Deployment, Params, check_deployment, deploy, load_deployment
from protocol.chain.events import ChainEvent, watch_events
from protocol.chain.reasons import ChainReason
from protocol.chain.worker import TxResult, TxWorker

__all__ = [
    "AI", "Artifact", "BatchRef", "CONTRACT_NAMES", "Chain", "ChainClient", "ChainEvent", "ChainReason",
    "Claim", "Deployment", "Float32Tensor", "GameView", "Instruction", "Params", "Record", "TxResult",
    "TxWorker", "binding_message", "check_deployment", "deploy", "load_artifacts", "load_deployment",
    "open_chain", "state_hash", "watch_events",
]
