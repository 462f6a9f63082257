# pragma version ~=0.4.3
"""
@title binding: the peer-key-to-account binding message and its check
@notice message = "swarm-registry/1" || chain id (32 bytes, big-endian) || registry address
        (20 bytes) || account (20 bytes). The peer signs it with its Ed25519 libp2p key, so a
        binding cannot be replayed on another chain, another registry or for another account.
@dev    `check` is the ONE place the signature is judged: a full Ed25519 verification in
        contract code (lib/ed25519.vy, about 480k gas). Registration happens once per peer,
        so paying that once buys a binding nobody can squat, with no off-chain eviction
        process. docs/contracts.md ("Binding") has the reasoning and the figures.
"""

from lib import ed25519

DOMAIN: constant(Bytes[16]) = b"swarm-registry/1"


@internal
@view
def message(account: address) -> Bytes[88]:
    return concat(DOMAIN, convert(chain.id, bytes32), convert(self, bytes20), convert(account, bytes20))


@internal
@view
def check(peer_key: bytes32, account: address, signature: Bytes[64]) -> bool:
    return ed25519.verify(peer_key, self.message(account), signature)
