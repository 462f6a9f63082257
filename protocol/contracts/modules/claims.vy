# pragma version ~=0.4.3
"""
@title claims: the claim commitment, its hash and the packed ledger record
@notice Shared by ClaimLedger and Game so both hash a claim the same way.
"""

struct Claim:
    claimant: address
    round: uint64
    claim_digest: bytes32   # Verde's digest: batch, hyperparameters, op count, ...
    trace_root: bytes32
    ckpt_before: bytes32    # level-1 position 0 (agreed)
    ckpt_after: bytes32     # level-1 position `steps` (what a challenger disputes)
    steps: uint64           # level-1 length

struct BatchRef:
    epoch: uint64
    root: bytes32           # empty(bytes32): a claim posted alone
    count: uint32
    index: uint256
    proof: DynArray[bytes32, 40]

# Record status values.
POSTED: constant(uint256) = 1
FINAL: constant(uint256) = 2
REJECTED: constant(uint256) = 3


@internal
@pure
def leaf(c: Claim) -> bytes32:
    """@notice sha256(0x10 || claimant || round || digest || trace root || ckpt before || ckpt after || steps), numbers as 32-byte big-endian."""
    return sha256(concat(
        b"\x10", convert(c.claimant, bytes20), convert(convert(c.round, uint256), bytes32),
        c.claim_digest, c.trace_root, c.ckpt_before, c.ckpt_after,
        convert(convert(c.steps, uint256), bytes32)))


@internal
@pure
def batch_key(claimant: address, epoch: uint64, root: bytes32, count: uint32) -> bytes32:
    """@notice sha256(0x11 || claimant || epoch || root || count), numbers as 32-byte big-endian."""
    return sha256(concat(
        b"\x11", convert(claimant, bytes20), convert(convert(epoch, uint256), bytes32), root,
        convert(convert(count, uint256), bytes32)))


# Packed record (one storage slot keeps a claim under 60k gas):
# bits 0-7 status | 8-47 window end | 48-63 open games | 64-95 count | 96-255 claimant.
@internal
@pure
def pack(status: uint256, window_end: uint256, open_games: uint256, count: uint256, claimant: address) -> uint256:
    return status | (window_end << 8) | (open_games << 48) | (count << 64) | (convert(claimant, uint256) << 96)


@internal
@pure
def unpack(r: uint256) -> (uint256, uint256, uint256, uint256, address):
    return (r & 255, (r >> 8) & (2**40 - 1), (r >> 48) & 65535, (r >> 64) & (2**32 - 1), convert(r >> 96, address))
