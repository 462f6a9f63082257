# pragma version ~=0.4.3
"""
@title Ed25519Verifier caller (tests only)
@notice Calls a deployed lib/Ed25519Verifier.vy through its interface, as the registry would.
"""
from lib import IEd25519Verifier


@external
@view
def check(verifier: address, public_key: bytes32, message: Bytes[88], signature: Bytes[64]) -> (bool, uint256):
    g: uint256 = msg.gas
    ok: bool = staticcall IEd25519Verifier(verifier).verify(public_key, message, signature)
    return ok, g - msg.gas
