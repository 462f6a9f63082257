# pragma version ~=0.4.3
"""
@title ed25519 test harness
@notice Thin external wrappers over lib/ed25519.vy for tests and benchmarks only.
"""
from lib import ed25519


@external
@view
def verify(public_key: bytes32, message: Bytes[256], signature: Bytes[64]) -> bool:
    return ed25519.verify(public_key, message, signature)


@external
@view
def verify_gas(public_key: bytes32, message: Bytes[256], signature: Bytes[64]) -> (bool, uint256):
    g: uint256 = msg.gas
    ok: bool = ed25519.verify(public_key, message, signature)
    return ok, g - msg.gas


@external
@pure
def sha512(data: Bytes[320]) -> Bytes[64]:
    first: bytes32 = empty(bytes32)
    second: bytes32 = empty(bytes32)
    first, second = ed25519.sha512(data)
    return concat(first, second)


@external
@view
def decode_point(encoding: bytes32) -> (bool, uint256, uint256):
    return ed25519.decode_point(encoding)
