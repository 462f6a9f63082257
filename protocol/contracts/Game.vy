# pragma version ~=0.4.3
"""
@title Game: the Verde bisection game with chess clocks and an on-chain one-step check
@notice A challenger posts a bond and disputes a claim. Level 1 is the claim's sequence of
        step hashes, positions 0..steps, position 0 (ckpt_before) agreed and position
        `steps` (ckpt_after) disputed. Each round the claimant reveals the inner boundaries
        of an up-to-8-way split of [lo, hi] and the challenger names the first sub-range it
        disputes. At a single transition the claimant descends: the next level refines that
        transition into `length` finer steps with the same two end hashes. At the last level
        one transition is one binary32 operation that `prove_step` recomputes. Silence loses:
        each side has `clock` seconds in all (a chess clock).
@dev    State machine (docs/contracts.md has the table):
            UNKNOWN --open--> OPEN(turn=CLAIMANT)
            OPEN(CLAIMANT) --reveal--> OPEN(CHALLENGER)
            OPEN(CLAIMANT) --descend(length>=2)--> OPEN(CHALLENGER)
            OPEN(CLAIMANT) --descend(length=1)--> OPEN(CLAIMANT)
            OPEN(CHALLENGER) --choose--> OPEN(CLAIMANT)
            OPEN(CLAIMANT) --prove_step--> CLAIMANT_WON | CHALLENGER_WON
            OPEN(any) --timeout--> the other side WON
        Reverts carry reason strings prefixed "Game: ".
"""

from ethereum.ercs import IERC20
from modules import claims
from modules import position
from modules import scalar_step
from modules import sha_tree

interface IRegistry:
    def lock(account: address, amount: uint256): nonpayable
    def unlock(account: address, amount: uint256): nonpayable
    def slash(account: address, amount: uint256): nonpayable

interface ILedger:
    def challenge(c: claims.Claim, batch: claims.BatchRef) -> (bytes32, bytes32): nonpayable
    def settle(key: bytes32, leaf: bytes32, claimant_won: bool, frozen_for: uint256): nonpayable

interface IBurnable:
    def burn(amount: uint256): nonpayable

# Game status.
UNKNOWN: constant(uint8) = 0
OPEN: constant(uint8) = 1
CLAIMANT_WON: constant(uint8) = 2
CHALLENGER_WON: constant(uint8) = 3
# Whose move it is.
CLAIMANT: constant(uint8) = 1
CHALLENGER: constant(uint8) = 2

MAX_LENGTH: constant(uint256) = 2**48
BPS: constant(uint256) = 10_000

struct GameState:
    claimant: address
    challenger: address
    record: bytes32
    leaf: bytes32
    opened_at: uint256
    meta: uint256           # packed Meta: one slot read and written per move (gas)
    span: uint256           # lo | hi << 128
    h_lo: bytes32           # agreed hash at lo
    h_hi: bytes32           # disputed hash at hi
    points: bytes32         # keccak256 of the last revealed boundaries

# Unpacked `meta`: bits 0-7 status | 8-15 turn | 16-23 level | 24-87 last move time |
# 88-151 claimant clock used | 152-215 challenger clock used.
struct Meta:
    status: uint8
    turn: uint8
    level: uint8
    last_move: uint256
    used_claimant: uint256
    used_challenger: uint256

event GameOpened:
    game_id: indexed(uint256)
    claimant: indexed(address)
    challenger: indexed(address)
    record: bytes32
    leaf: bytes32
    steps: uint256

event Revealed:
    game_id: indexed(uint256)
    level: uint8
    lo: uint256
    hi: uint256
    points: DynArray[bytes32, position.MAX_POINTS]

event Chosen:
    game_id: indexed(uint256)
    level: uint8
    lo: uint256
    hi: uint256
    h_lo: bytes32
    h_hi: bytes32

event Descended:
    game_id: indexed(uint256)
    level: uint8
    length: uint256

event StepProven:
    game_id: indexed(uint256)
    expected: bytes32
    claimed: bytes32

event GameResolved:
    game_id: indexed(uint256)
    winner: indexed(address)
    loser: indexed(address)
    status: uint8
    by_timeout: bool
    reward: uint256
    burnt: uint256


token: public(immutable(IERC20))
registry: public(immutable(IRegistry))
ledger: public(immutable(ILedger))
bond: public(immutable(uint256))
stake_at_risk: public(immutable(uint256))
clock: public(immutable(uint256))
levels: public(immutable(uint8))
winner_bps: public(immutable(uint256))

games: HashMap[uint256, GameState]
game_count: public(uint256)


@deploy
def __init__(token_: IERC20, registry_: IRegistry, ledger_: ILedger, bond_: uint256, stake_at_risk_: uint256,
             clock_: uint256, levels_: uint8, winner_bps_: uint256):
    """
    @param bond_ AI a challenger posts (approve first).
    @param stake_at_risk_ Claimant stake locked by one game and slashed if it loses.
    @param clock_ Seconds each side may spend on its moves over the whole game.
    @param levels_ Bisection levels (Verde: 3 = steps, ops, scalar program).
    @param winner_bps_ Share of the loser's stake or bond paid to the winner, in basis
           points; the rest is burnt.
    """
    # INVARIANT: a game has 1..8 levels (Verde uses 3).
    assert levels_ >= 1 and levels_ <= 8, "Game: bad levels"
    # INVARIANT: the winner never gets more than the whole forfeit.
    assert winner_bps_ <= BPS, "Game: bad share"
    # INVARIANT: each side has some time to move.
    assert clock_ > 0, "Game: zero clock"
    token = token_
    registry = registry_
    ledger = ledger_
    bond = bond_
    stake_at_risk = stake_at_risk_
    clock = clock_
    levels = levels_
    winner_bps = winner_bps_


@internal
@view
def _meta(game_id: uint256) -> Meta:
    m: uint256 = self.games[game_id].meta
    return Meta(status=convert(m & 255, uint8), turn=convert((m >> 8) & 255, uint8),
                level=convert((m >> 16) & 255, uint8), last_move=(m >> 24) & (2**64 - 1),
                used_claimant=(m >> 88) & (2**64 - 1), used_challenger=(m >> 152) & (2**64 - 1))


@internal
def _set_meta(game_id: uint256, m: Meta):
    self.games[game_id].meta = (convert(m.status, uint256) | (convert(m.turn, uint256) << 8)
                                | (convert(m.level, uint256) << 16) | (m.last_move << 24)
                                | (m.used_claimant << 88) | (m.used_challenger << 152))


@internal
@view
def _span(game_id: uint256) -> (uint256, uint256):
    r: uint256 = self.games[game_id].span
    return r & (2**128 - 1), r >> 128


@internal
def _set_span(game_id: uint256, lo: uint256, hi: uint256):
    self.games[game_id].span = lo | (hi << 128)


@internal
@view
def _remaining(m: Meta) -> uint256:
    # INVARIANT: used_* never exceeds clock (moves that would overrun revert), so no underflow.
    if m.turn == CLAIMANT:
        return clock - m.used_claimant
    return clock - m.used_challenger


@internal
@view
def _tick(m: Meta, mover: uint8) -> Meta:
    """Charge the mover's clock for the time since the last move, or revert if it ran out."""
    # INVARIANT: moves only on an open game (never after resolution).
    assert m.status == OPEN, "Game: not open"
    # INVARIANT: only the side whose turn it is moves.
    assert m.turn == mover, "Game: not your turn"
    elapsed: uint256 = block.timestamp - m.last_move
    # INVARIANT: a side whose clock ran out cannot move; only `timeout` applies.
    assert elapsed <= self._remaining(m), "Game: clock expired"
    out: Meta = m
    if mover == CLAIMANT:
        out.used_claimant = m.used_claimant + elapsed
    else:
        out.used_challenger = m.used_challenger + elapsed
    out.last_move = block.timestamp
    return out


@internal
def _reveal(game_id: uint256, m: Meta, lo: uint256, hi: uint256, points: DynArray[bytes32, position.MAX_POINTS]):
    # INVARIANT: exactly the inner boundaries of the split are revealed.
    assert len(points) == position.parts(lo, hi) - 1, "Game: wrong point count"
    self.games[game_id].points = keccak256(abi_encode(points))
    out: Meta = m
    out.turn = CHALLENGER
    self._set_meta(game_id, out)
    log Revealed(game_id=game_id, level=m.level, lo=lo, hi=hi, points=points)


@external
@nonreentrant
def open(c: claims.Claim, batch: claims.BatchRef) -> uint256:
    """@notice Dispute claim `c` (alone, or leaf batch.index of a batch); posts the bond."""
    # INVARIANT: nobody disputes their own claim (it would launder the bond into a reward).
    assert c.claimant != msg.sender, "Game: own claim"
    record: bytes32 = empty(bytes32)
    leaf: bytes32 = empty(bytes32)
    record, leaf = extcall ledger.challenge(c, batch)
    game_id: uint256 = self.game_count + 1
    self.game_count = game_id
    self.games[game_id] = GameState(
        claimant=c.claimant, challenger=msg.sender, record=record, leaf=leaf,
        opened_at=block.timestamp, meta=0, span=0, h_lo=c.ckpt_before, h_hi=c.ckpt_after,
        points=empty(bytes32))
    self._set_meta(game_id, Meta(status=OPEN, turn=CLAIMANT, level=1, last_move=block.timestamp,
                                 used_claimant=0, used_challenger=0))
    self._set_span(game_id, 0, convert(c.steps, uint256))
    extcall registry.lock(c.claimant, stake_at_risk)
    # INVARIANT: the bond is held by the game before the game exists for anyone.
    assert extcall token.transferFrom(msg.sender, self, bond), "Game: bond transfer failed"
    log GameOpened(game_id=game_id, claimant=c.claimant, challenger=msg.sender, record=record,
                   leaf=leaf, steps=convert(c.steps, uint256))
    return game_id


@external
@nonreentrant
def reveal(game_id: uint256, points: DynArray[bytes32, position.MAX_POINTS]):
    """@notice Claimant: reveal the hashes at the inner split boundaries of [lo, hi]."""
    # INVARIANT: only the claimant reveals and descends.
    assert msg.sender == self.games[game_id].claimant, "Game: not claimant"
    m: Meta = self._tick(self._meta(game_id), CLAIMANT)
    lo: uint256 = 0
    hi: uint256 = 0
    lo, hi = self._span(game_id)
    # INVARIANT: a single transition is descended or proven, not split.
    assert not position.is_leaf(lo, hi), "Game: range is one step"
    self._reveal(game_id, m, lo, hi, points)


@external
@nonreentrant
def choose(game_id: uint256, part: uint256, points: DynArray[bytes32, position.MAX_POINTS]):
    """
    @notice Challenger: agree with boundary `part` and dispute boundary `part + 1` of the last
            reveal (`points` repeats it; boundary 0 is h_lo, the last is h_hi).
    """
    # INVARIANT: only the challenger chooses.
    assert msg.sender == self.games[game_id].challenger, "Game: not challenger"
    m: Meta = self._tick(self._meta(game_id), CHALLENGER)
    # INVARIANT: the challenger answers the reveal on record, not another one.
    assert keccak256(abi_encode(points)) == self.games[game_id].points, "Game: points mismatch"
    lo: uint256 = 0
    hi: uint256 = 0
    lo, hi = self._span(game_id)
    n: uint256 = position.parts(lo, hi)
    # INVARIANT: the chosen sub-range exists.
    assert part < n, "Game: bad part"
    new_lo: uint256 = position.boundary(lo, hi, part)
    new_hi: uint256 = position.boundary(lo, hi, part + 1)
    # INVARIANT: the range shrinks and keeps agreed-at-lo, disputed-at-hi.
    if part > 0:
        self.games[game_id].h_lo = points[part - 1]
    if part + 1 < n:
        self.games[game_id].h_hi = points[part]
    self._set_span(game_id, new_lo, new_hi)
    m.turn = CLAIMANT
    self._set_meta(game_id, m)
    log Chosen(game_id=game_id, level=m.level, lo=new_lo, hi=new_hi, h_lo=self.games[game_id].h_lo,
               h_hi=self.games[game_id].h_hi)


@external
@nonreentrant
def descend(game_id: uint256, length: uint256, points: DynArray[bytes32, position.MAX_POINTS]):
    """
    @notice Claimant: refine the single disputed transition into `length` steps of the next
            level (same end hashes) and reveal the first split of it (no points if length 1).
    """
    # INVARIANT: only the claimant reveals and descends.
    assert msg.sender == self.games[game_id].claimant, "Game: not claimant"
    m: Meta = self._tick(self._meta(game_id), CLAIMANT)
    lo: uint256 = 0
    hi: uint256 = 0
    lo, hi = self._span(game_id)
    # INVARIANT: only a single transition of a level above the last descends.
    assert position.is_leaf(lo, hi), "Game: range not one step"
    # INVARIANT: levels never exceed the game's depth.
    assert m.level < levels, "Game: at last level"
    # INVARIANT: a level has 1..2**48 steps (fits the packed span).
    assert length >= 1 and length <= MAX_LENGTH, "Game: bad length"
    m.level += 1
    self._set_span(game_id, 0, length)
    log Descended(game_id=game_id, level=m.level, length=length)
    if length == 1:
        # INVARIANT: a length-1 level has no inner boundaries.
        assert len(points) == 0, "Game: wrong point count"
        self._set_meta(game_id, m)
        return
    self._reveal(game_id, m, 0, length, points)


@external
@nonreentrant
def prove_step(game_id: uint256, proof: scalar_step.StepProof):
    """
    @notice Anyone: settle the last level's single transition by recomputing its binary32
            operation. The claimant wins iff the true successor of h_lo equals its h_hi.
    """
    m: Meta = self._meta(game_id)
    # INVARIANT: open, claimant's turn, claimant's clock not run out (else: timeout).
    assert m.status == OPEN, "Game: not open"
    # INVARIANT: the one-step check is the claimant's move (anyone may submit it).
    assert m.turn == CLAIMANT, "Game: not your turn"
    # INVARIANT: a claimant out of time loses by timeout, not by a late proof.
    assert block.timestamp - m.last_move <= self._remaining(m), "Game: clock expired"
    lo: uint256 = 0
    hi: uint256 = 0
    lo, hi = self._span(game_id)
    # INVARIANT: the one-step check only runs on one transition of the last level.
    assert m.level == levels and position.is_leaf(lo, hi), "Game: not at one step"
    expected: bytes32 = scalar_step.post_state(self.games[game_id].h_lo, proof)
    claimed: bytes32 = self.games[game_id].h_hi
    log StepProven(game_id=game_id, expected=expected, claimed=claimed)
    self._resolve(game_id, m, expected == claimed, False)


@external
@nonreentrant
def timeout(game_id: uint256):
    """@notice Anyone: end a game whose side to move has used up its clock; that side loses."""
    m: Meta = self._meta(game_id)
    # INVARIANT: only an open game times out (no second resolution).
    assert m.status == OPEN, "Game: not open"
    # INVARIANT: strictly past the clock: a move at exactly the limit is still allowed.
    assert block.timestamp - m.last_move > self._remaining(m), "Game: clock running"
    self._resolve(game_id, m, m.turn == CHALLENGER, True)


@internal
def _resolve(game_id: uint256, m: Meta, claimant_won: bool, by_timeout: bool):
    # INVARIANT: a game resolves once; status changes before any token moves.
    assert m.status == OPEN, "Game: not open"
    out: Meta = m
    out.status = CHALLENGER_WON
    if claimant_won:
        out.status = CLAIMANT_WON
    self._set_meta(game_id, out)
    g: GameState = self.games[game_id]
    extcall ledger.settle(g.record, g.leaf, claimant_won, block.timestamp - g.opened_at)
    winner: address = g.challenger
    loser: address = g.claimant
    forfeited: uint256 = stake_at_risk
    paid: uint256 = 0
    if claimant_won:
        winner = g.claimant
        loser = g.challenger
        forfeited = bond
        extcall registry.unlock(g.claimant, stake_at_risk)
    else:
        extcall registry.slash(g.claimant, stake_at_risk)
        paid = bond  # the challenger's own bond comes back
    reward: uint256 = forfeited * winner_bps // BPS
    burnt: uint256 = forfeited - reward
    if reward + paid > 0:
        # INVARIANT: the game holds every token it pays (bond + slashed stake).
        assert extcall token.transfer(winner, reward + paid), "Game: payout failed"
    if burnt > 0:
        extcall IBurnable(token.address).burn(burnt)
    log GameResolved(game_id=game_id, winner=winner, loser=loser, status=out.status,
                     by_timeout=by_timeout, reward=reward, burnt=burnt)


@view
@external
def game(game_id: uint256) -> (address, address, bytes32, bytes32, uint8, uint8, uint8, uint256, uint256, bytes32, bytes32):
    """@notice (claimant, challenger, record, leaf, status, turn, level, lo, hi, h_lo, h_hi)."""
    m: Meta = self._meta(game_id)
    lo: uint256 = 0
    hi: uint256 = 0
    lo, hi = self._span(game_id)
    g: GameState = self.games[game_id]
    return g.claimant, g.challenger, g.record, g.leaf, m.status, m.turn, m.level, lo, hi, g.h_lo, g.h_hi


@view
@external
def clocks(game_id: uint256) -> (uint256, uint256, uint8, uint256):
    """@notice (claimant seconds left, challenger seconds left, side to move, seconds since last move)."""
    m: Meta = self._meta(game_id)
    return clock - m.used_claimant, clock - m.used_challenger, m.turn, block.timestamp - m.last_move
