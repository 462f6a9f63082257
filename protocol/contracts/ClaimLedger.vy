# pragma version ~=0.4.3
"""
@title ClaimLedger: round claims, challenge windows and rewards
@notice A staked peer commits its training claims, one per transaction (`post_claim`) or as
        a SHA-256 Merkle root over many claims, one transaction per peer per epoch
        (`post_batch`). Each record has a challenge window; the game contract freezes a
        record while a game about one of its claims is open. An unchallenged (or defended)
        record finalizes after its window and earns `reward_per_claim` per claim from the
        pool this contract holds. A lost game rejects the whole record.
@dev    Reverts carry reason strings prefixed "Ledger: ".
"""

from ethereum.ercs import IERC20
from modules import claims
from modules import sha_tree

interface IRegistry:
    def can_claim(account: address) -> bool: view

event ClaimPosted:
    key: indexed(bytes32)
    claimant: indexed(address)
    round: uint64
    claim_digest: bytes32
    trace_root: bytes32
    ckpt_before: bytes32
    ckpt_after: bytes32
    steps: uint64
    window_end: uint256

event BatchPosted:
    key: indexed(bytes32)
    claimant: indexed(address)
    epoch: uint64
    root: bytes32
    count: uint32
    window_end: uint256

event ClaimChallenged:
    key: indexed(bytes32)
    leaf: indexed(bytes32)
    open_games: uint256

event ClaimDefended:
    key: indexed(bytes32)
    leaf: indexed(bytes32)
    window_end: uint256

event ClaimRejected:
    key: indexed(bytes32)
    leaf: indexed(bytes32)

event ClaimFinalized:
    key: indexed(bytes32)
    claimant: indexed(address)
    reward: uint256

event PoolFunded:
    by: indexed(address)
    amount: uint256

event GameSet:
    game: address


token: public(immutable(IERC20))
registry: public(immutable(IRegistry))
window: public(immutable(uint256))
reward_per_claim: public(immutable(uint256))
max_batch: public(immutable(uint256))
deployer: immutable(address)

game: public(address)
records: public(HashMap[bytes32, uint256])
batch_of: public(HashMap[address, HashMap[uint64, bytes32]])
leaf_in_game: public(HashMap[bytes32, bool])


@deploy
def __init__(token_: IERC20, registry_: IRegistry, window_: uint256, reward_per_claim_: uint256, max_batch_: uint256):
    """
    @param window_ Challenge window in seconds.
    @param reward_per_claim_ AI paid per finalized claim (while the pool lasts).
    @param max_batch_ Most claims one batch may hold (and be paid for).
    """
    assert max_batch_ > 0 and max_batch_ < 2**32, "Ledger: bad max batch"
    token = token_
    registry = registry_
    window = window_
    reward_per_claim = reward_per_claim_
    max_batch = max_batch_
    deployer = msg.sender


@external
def set_game(game_: address):
    """@notice One-time wiring of the game contract, by the deployer."""
    assert msg.sender == deployer, "Ledger: not deployer"
    assert self.game == empty(address), "Ledger: game already set"
    assert game_ != empty(address), "Ledger: zero address"
    self.game = game_
    log GameSet(game=game_)


@external
def fund(amount: uint256):
    """@notice Add `amount` AI (approve first) to the reward pool."""
    assert amount > 0, "Ledger: zero amount"
    assert extcall token.transferFrom(msg.sender, self, amount), "Ledger: transfer failed"
    log PoolFunded(by=msg.sender, amount=amount)


@external
def post_claim(c: claims.Claim) -> bytes32:
    """@notice Commit one claim; returns its key (= its leaf hash)."""
    assert c.claimant == msg.sender, "Ledger: not claimant"
    assert c.steps > 0, "Ledger: zero steps"
    # INVARIANT: only a registered peer with min_stake posts, so every claim is slashable.
    assert staticcall registry.can_claim(msg.sender), "Ledger: not staked"
    key: bytes32 = claims.leaf(c)
    # INVARIANT: a record is written once; its key commits to every field.
    assert self.records[key] == 0, "Ledger: already posted"
    window_end: uint256 = block.timestamp + window
    self.records[key] = claims.pack(claims.POSTED, window_end, 0, 1, msg.sender)
    log ClaimPosted(key=key, claimant=msg.sender, round=c.round, claim_digest=c.claim_digest,
                    trace_root=c.trace_root, ckpt_before=c.ckpt_before, ckpt_after=c.ckpt_after,
                    steps=c.steps, window_end=window_end)
    return key


@external
def post_batch(epoch: uint64, root: bytes32, count: uint32) -> bytes32:
    """
    @notice Commit `count` claims at once: `root` is the sha_tree root over their leaf
            hashes (claims.leaf), in order. One batch per peer per epoch.
    """
    assert root != empty(bytes32), "Ledger: zero root"
    assert count > 0 and convert(count, uint256) <= max_batch, "Ledger: bad count"
    # INVARIANT: one transaction per peer per epoch.
    assert self.batch_of[msg.sender][epoch] == empty(bytes32), "Ledger: epoch already posted"
    assert staticcall registry.can_claim(msg.sender), "Ledger: not staked"
    key: bytes32 = claims.batch_key(msg.sender, epoch, root, count)
    window_end: uint256 = block.timestamp + window
    self.batch_of[msg.sender][epoch] = key
    self.records[key] = claims.pack(claims.POSTED, window_end, 0, convert(count, uint256), msg.sender)
    log BatchPosted(key=key, claimant=msg.sender, epoch=epoch, root=root, count=count, window_end=window_end)
    return key


@view
@external
def record(key: bytes32) -> (uint256, uint256, uint256, uint256, address):
    """@notice (status, window end, open games, claim count, claimant) of a record; status 0: unknown."""
    return claims.unpack(self.records[key])


@external
def challenge(c: claims.Claim, batch: claims.BatchRef) -> (bytes32, bytes32):
    """
    @notice Game only: freeze the record holding claim `c` (alone when batch.root is empty,
            else leaf `batch.index` of that batch, proven by `batch.proof`).
    @return (record key, leaf key)
    """
    assert msg.sender == self.game, "Ledger: not the game"
    leaf: bytes32 = claims.leaf(c)
    key: bytes32 = leaf
    if batch.root != empty(bytes32):
        key = claims.batch_key(c.claimant, batch.epoch, batch.root, batch.count)
        # INVARIANT: the named claim is really in the committed batch.
        assert batch.index < convert(batch.count, uint256), "Ledger: index out of batch"
        assert sha_tree.root_from_path(leaf, batch.index, batch.proof) == batch.root, "Ledger: bad batch proof"
    status: uint256 = 0
    window_end: uint256 = 0
    open_games: uint256 = 0
    count: uint256 = 0
    claimant: address = empty(address)
    status, window_end, open_games, count, claimant = claims.unpack(self.records[key])
    assert status != 0, "Ledger: unknown claim"
    # INVARIANT: finalized and rejected records are closed for good.
    assert status == claims.POSTED, "Ledger: claim closed"
    # INVARIANT: challenges only inside the window.
    assert block.timestamp < window_end, "Ledger: window over"
    # INVARIANT: at most one open game per claim.
    assert not self.leaf_in_game[leaf], "Ledger: claim in game"
    self.leaf_in_game[leaf] = True
    self.records[key] = claims.pack(status, window_end, open_games + 1, count, claimant)
    log ClaimChallenged(key=key, leaf=leaf, open_games=open_games + 1)
    return key, leaf


@external
def settle(key: bytes32, leaf: bytes32, claimant_won: bool, frozen_for: uint256):
    """
    @notice Game only: end a freeze. A defended record gets its window extended by the time
            it was frozen (others may still challenge); a lost game rejects the record.
    """
    assert msg.sender == self.game, "Ledger: not the game"
    assert self.leaf_in_game[leaf], "Ledger: claim not in game"
    status: uint256 = 0
    window_end: uint256 = 0
    open_games: uint256 = 0
    count: uint256 = 0
    claimant: address = empty(address)
    status, window_end, open_games, count, claimant = claims.unpack(self.records[key])
    self.leaf_in_game[leaf] = False
    if claimant_won:
        if status == claims.POSTED:
            window_end += frozen_for
        log ClaimDefended(key=key, leaf=leaf, window_end=window_end)
    else:
        status = claims.REJECTED
        log ClaimRejected(key=key, leaf=leaf)
    self.records[key] = claims.pack(status, window_end, open_games - 1, count, claimant)


@external
def finalize(key: bytes32) -> uint256:
    """@notice Close a record whose window has passed with no open game; pays its reward."""
    status: uint256 = 0
    window_end: uint256 = 0
    open_games: uint256 = 0
    count: uint256 = 0
    claimant: address = empty(address)
    status, window_end, open_games, count, claimant = claims.unpack(self.records[key])
    assert status != 0, "Ledger: unknown claim"
    assert status == claims.POSTED, "Ledger: claim closed"
    # INVARIANT: a frozen record cannot finalize.
    assert open_games == 0, "Ledger: claim in game"
    assert block.timestamp >= window_end, "Ledger: window open"
    self.records[key] = claims.pack(claims.FINAL, window_end, 0, count, claimant)
    reward: uint256 = min(reward_per_claim * count, staticcall token.balanceOf(self))
    if reward > 0:
        assert extcall token.transfer(claimant, reward), "Ledger: transfer failed"
    log ClaimFinalized(key=key, claimant=claimant, reward=reward)
    return reward
