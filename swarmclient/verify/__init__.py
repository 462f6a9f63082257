"""A peer's part in verification: stake, claims on the ledger, watching other peers' claims
by re-executing them on RepOps, and Verde games on the chain (docs/architecture.md, "Claims
and disputes").

    participant = participant_for(home, identity, config.chain.rpc_url, log=...)  # None: no chain
"""

from swarmclient.verify.chainlink import ChainLink, GasMeter, peer_id_of_key
from swarmclient.verify.evidence import UpdateCapture, decode_evidence, encode_evidence, tensors_from_blob
from swarmclient.verify.games import GameBook, GamePlayer, GameRecord, Move, challenger_part, claimant_points
from swarmclient.verify.participant import Participant, participant_for
from swarmclient.verify.poster import ClaimPoster, PostedClaim, chain_claim_of
from swarmclient.verify.replay import Replayed, reexecute, step_config_from_hparams
from swarmclient.verify.settings import Fault, VerifySettings

__all__ = [
    "ChainLink", "ClaimPoster", "Fault", "GameBook", "GamePlayer", "GameRecord", "GasMeter", "Move", "Participant",
    "PostedClaim", "Replayed", "UpdateCapture", "VerifySettings", "chain_claim_of", "challenger_part",
    "claimant_points", "decode_evidence", "encode_evidence", "participant_for", "peer_id_of_key", "reexecute",
    "step_config_from_hparams", "tensors_from_blob",
]
