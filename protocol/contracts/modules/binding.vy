# pragma version ~=0.4.3
"""
@title binding: the peer-key-to-account binding message and its check
@notice message = "swarm-registry/1" || chain id (32 bytes, big-endian) || registry address
        (20 bytes) || account (20 bytes). The peer signs it with its Ed25519 libp2p key, so a
        binding cannot be replayed on another chain, another registry or for another account.
@dev    `check` is the ONE place the signature is judged. lib/ed25519.vy (on-chain Ed25519,
        about a million gas) has not landed yet, so today `check` only validates the
        signature's shape; the signature is stored in the PeerRegistered event and every
        client verifies it off-chain (protocol.chain.binding.verify_binding) before trusting
        a peer's account. When lib/ed25519.vy lands, `check` becomes
        `return ed25519.verify(peer_key, self.message(account), signature)` and nothing else
        changes. Documented in docs/contracts.md ("Binding").
"""

DOMAIN: constant(Bytes[16]) = b"swarm-registry/1"


@internal
@view
def message(account: address) -> Bytes[88]:
    return concat(DOMAIN, convert(chain.id, bytes32), convert(self, bytes20), convert(account, bytes20))


@internal
@view
def check(peer_key: bytes32, account: address, signature: Bytes[64]) -> bool:
    # Shape only until lib/ed25519.vy lands (see the module docstring): 64 bytes, R || S.
    return len(signature) == 64
