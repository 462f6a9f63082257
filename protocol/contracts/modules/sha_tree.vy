# pragma version ~=0.4.3
"""
@title sha_tree: SHA-256 binary-tree proofs per docs/commitments.md
@notice Inner node = sha256(0x01 || left || right); bit k of the leaf index says whether the
        node at level k is a right child. Domain tags on leaves (0x00, 0x08, 0x10, ...) keep
        a leaf from ever passing for an inner node, so a proof's length needs no separate
        check beyond index < 2**depth.
@dev    Used for claim batches and scalar programs; the hashing is lib/merkle.vy's, this
        module only adds the one-proof-per-leaf guard and a typed revert.
"""

from lib import merkle

MAX_DEPTH: constant(uint256) = 40


@internal
@pure
def root_from_path(leaf: bytes32, index: uint256, siblings: DynArray[bytes32, MAX_DEPTH]) -> bytes32:
    # INVARIANT: the index fits the proof's depth, so one leaf has one proof.
    assert index >> len(siblings) == 0, "Tree: index beyond proof depth"
    return merkle.root_from_proof(leaf, index, siblings)
