"""A peer's part in verification: stake, claims on the ledger, watching other peers' claims
by re-executing them on RepOps, and Verde games on the chain (docs/architecture.md, "Claims
and disputes").

    participant = participant_for(home, identity, config.chain.rpc_url, log=...)  # None: no chain

Names load on first use (PEP 562), so a peer without a chain never imports web3 or torch
through this package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ChainLink": "chainlink", "GasMeter": "chainlink", "peer_id_of_key": "chainlink",
    "UpdateCapture": "evidence", "decode_evidence": "evidence", "encode_evidence": "evidence",
    "tensors_from_blob": "evidence",
    "GameBook": "games", "GamePlayer": "games", "GameRecord": "games", "Move": "games",
    "challenger_part": "games", "claimant_points": "games",
    "Participant": "participant",
    "ClaimPoster": "poster", "PostedClaim": "poster", "chain_claim_of": "poster",
    "Replayed": "replay", "reexecute": "replay", "step_config_from_hparams": "replay",
    "Fault": "settings", "VerifySettings": "settings", "participant_for": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'swarmclient.verify' has no attribute {name!r}")
    return getattr(importlib.import_module(f"swarmclient.verify.{module}"), name)
