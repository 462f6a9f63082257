# pragma version ~=0.4.3
"""
@title Ed25519Verifier: lib/ed25519.vy as a deployable, stateless, ownerless contract
@notice verify(public_key, message, signature) -> bool, exactly lib/ed25519.vy's rule.
@dev    The library compiles to about 12.5 KB of runtime code. A contract that cannot also
        fit that under EIP-170's 24,576 bytes deploys this once and calls it through
        lib/IEd25519Verifier.vyi (a staticcall: ~4.6k gas on top of ~453k).
"""
from lib import ed25519


@external
@view
def verify(public_key: bytes32, message: Bytes[256], signature: Bytes[64]) -> bool:
    return ed25519.verify(public_key, message, signature)
