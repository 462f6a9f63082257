# pragma version ~=0.4.3
"""
@title Registry: peer identities and AI stakes
@notice Binds a libp2p peer id (an Ed25519 public key; the peer id is the identity multihash
        of its protobuf encoding) to the calling account, and holds that account's stake.
        Unstaking goes through an unbonding delay during which the tokens are still
        slashable; stake locked by an open game cannot leave at all. Only the game contract
        locks, unlocks and slashes.
@dev    Reverts carry reason strings prefixed "Registry: " (docs/contracts.md lists them;
        protocol/chain/reasons.py maps each to a typed ChainReason).
"""

from ethereum.ercs import IERC20
from modules import binding

# The binding signature is checked by exactly one function, binding.check.

event PeerRegistered:
    account: indexed(address)
    peer_key: indexed(bytes32)
    signature: Bytes[64]

event Staked:
    account: indexed(address)
    amount: uint256
    total: uint256

event UnstakeRequested:
    account: indexed(address)
    amount: uint256
    release_at: uint256

event Withdrawn:
    account: indexed(address)
    amount: uint256

event Locked:
    account: indexed(address)
    amount: uint256
    total_locked: uint256

event Unlocked:
    account: indexed(address)
    amount: uint256
    total_locked: uint256

event Slashed:
    account: indexed(address)
    amount: uint256
    to: address

event GameSet:
    game: address


token: public(immutable(IERC20))
min_stake: public(immutable(uint256))
unbonding_delay: public(immutable(uint256))
deployer: immutable(address)

game: public(address)
peer_key_of: public(HashMap[address, bytes32])
account_of: public(HashMap[bytes32, address])
staked: public(HashMap[address, uint256])
unbonding: public(HashMap[address, uint256])
release_at: public(HashMap[address, uint256])
locked: public(HashMap[address, uint256])


@deploy
def __init__(token_: IERC20, min_stake_: uint256, unbonding_delay_: uint256):
    """
    @param token_ The AI token.
    @param min_stake_ Stake an account needs to post claims (and that one game locks).
    @param unbonding_delay_ Seconds between an unstake request and the withdrawal; must
           exceed the claim ledger's challenge window so every claim stays backed.
    """
    token = token_
    min_stake = min_stake_
    unbonding_delay = unbonding_delay_
    deployer = msg.sender


@external
def set_game(game_: address):
    """@notice One-time wiring of the game contract, by the deployer."""
    assert msg.sender == deployer, "Registry: not deployer"
    assert self.game == empty(address), "Registry: game already set"
    assert game_ != empty(address), "Registry: zero address"
    self.game = game_
    log GameSet(game=game_)


@external
def register(peer_key: bytes32, signature: Bytes[64]):
    """
    @notice Bind `peer_key` (the peer's Ed25519 public key) to msg.sender.
    @param signature Ed25519 signature by the peer key over
           binding.message(msg.sender, chain.id, self).
    """
    # INVARIANT: an account binds one peer id for life; a peer id binds one account.
    assert self.peer_key_of[msg.sender] == empty(bytes32), "Registry: already registered"
    assert peer_key != empty(bytes32), "Registry: zero peer key"
    assert self.account_of[peer_key] == empty(address), "Registry: peer key taken"
    # INVARIANT: only the holder of the peer key can bind it (no squatting).
    assert binding.check(peer_key, msg.sender, signature), "Registry: bad binding signature"
    self.peer_key_of[msg.sender] = peer_key
    self.account_of[peer_key] = msg.sender
    log PeerRegistered(account=msg.sender, peer_key=peer_key, signature=signature)


@external
def stake(amount: uint256):
    """@notice Move `amount` AI from the caller (approve first) into its stake."""
    assert self.peer_key_of[msg.sender] != empty(bytes32), "Registry: not registered"
    assert amount > 0, "Registry: zero amount"
    self.staked[msg.sender] += amount
    # INVARIANT: the token is ours (no hooks); effects above, transfer last.
    assert extcall token.transferFrom(msg.sender, self, amount), "Registry: transfer failed"
    log Staked(account=msg.sender, amount=amount, total=self.staked[msg.sender])


@external
def request_unstake(amount: uint256):
    """
    @notice Start unbonding `amount`; it can be withdrawn after unbonding_delay and stays
            slashable until then. A new request adds to the pending amount and restarts
            the delay.
    """
    assert amount > 0, "Registry: zero amount"
    # INVARIANT: only active stake can start unbonding.
    assert amount <= self.staked[msg.sender], "Registry: insufficient stake"
    self.staked[msg.sender] -= amount
    self.unbonding[msg.sender] += amount
    self.release_at[msg.sender] = block.timestamp + unbonding_delay
    log UnstakeRequested(account=msg.sender, amount=amount, release_at=self.release_at[msg.sender])


@external
def withdraw():
    """@notice Withdraw everything whose unbonding delay has passed."""
    amount: uint256 = self.unbonding[msg.sender]
    assert amount > 0, "Registry: nothing unbonding"
    # INVARIANT: unbonding tokens stay slashable until release_at.
    assert block.timestamp >= self.release_at[msg.sender], "Registry: still unbonding"
    # INVARIANT: tokens locked by an open game never leave.
    assert self.staked[msg.sender] + self.unbonding[msg.sender] - amount >= self.locked[msg.sender], "Registry: stake locked"
    self.unbonding[msg.sender] = 0
    assert extcall token.transfer(msg.sender, amount), "Registry: transfer failed"
    log Withdrawn(account=msg.sender, amount=amount)


@view
@external
def bonded(account: address) -> uint256:
    """@notice Slashable tokens of `account`: active stake plus unbonding."""
    return self.staked[account] + self.unbonding[account]


@view
@external
def can_claim(account: address) -> bool:
    """@notice True when `account` is registered and its active stake covers min_stake."""
    return self.peer_key_of[account] != empty(bytes32) and self.staked[account] >= min_stake


@external
def lock(account: address, amount: uint256):
    """@notice Game only: freeze `amount` of the account's bonded tokens."""
    assert msg.sender == self.game, "Registry: not the game"
    # INVARIANT: locked never exceeds what could be slashed.
    assert self.locked[account] + amount <= self.staked[account] + self.unbonding[account], "Registry: stake too low"
    self.locked[account] += amount
    log Locked(account=account, amount=amount, total_locked=self.locked[account])


@external
def unlock(account: address, amount: uint256):
    """@notice Game only: release a lock taken by `lock`."""
    assert msg.sender == self.game, "Registry: not the game"
    assert amount <= self.locked[account], "Registry: not locked"
    self.locked[account] -= amount
    log Unlocked(account=account, amount=amount, total_locked=self.locked[account])


@external
def slash(account: address, amount: uint256):
    """
    @notice Game only: take `amount` of a locked stake (active first, then unbonding) and
            send it to the game contract, which rewards the winner and burns the rest.
    """
    assert msg.sender == self.game, "Registry: not the game"
    # INVARIANT: only locked tokens are slashed, so a slash never exceeds the bonded total.
    assert amount <= self.locked[account], "Registry: not locked"
    self.locked[account] -= amount
    from_active: uint256 = min(amount, self.staked[account])
    self.staked[account] -= from_active
    self.unbonding[account] -= amount - from_active
    assert extcall token.transfer(msg.sender, amount), "Registry: transfer failed"
    log Slashed(account=account, amount=amount, to=msg.sender)
