# pragma version ~=0.4.3
# pragma optimize codesize
"""
@title Game: the Verde bisection game with chess clocks and an on-chain one-step check
@notice A challenger posts a bond and disputes a claim. Level 1 is the claim's sequence of
        step hashes, positions 0..steps, position 0 (ckpt_before) agreed and position
        `steps` (ckpt_after) disputed. Each round the claimant reveals the inner boundaries
        of an up-to-8-way split of [lo, hi] and the challenger names the first sub-range it
        disputes. At a single transition the claimant descends: the next level refines that
        transition into `length` finer steps with the same two end hashes (level 2: the ops of
        one step, docs/verde.md). At one level-2 transition the claimant opens the op record
        it appended (`open_op`), the challenger names one output element (`pick`), and level 3
        is that element's program, derived by the contract (modules/op_step.vy), whose single
        instructions `prove_step` recomputes. Silence loses: each side has `clock` seconds in
        all (a chess clock).
@dev    State machine (docs/contracts.md has the table):
            UNKNOWN --open--> OPEN(turn=CLAIMANT)
            OPEN(CLAIMANT) --reveal--> OPEN(CHALLENGER)
            OPEN(CLAIMANT) --descend(length>=2)--> OPEN(CHALLENGER)      (level 1 only)
            OPEN(CLAIMANT) --descend(length=1)--> OPEN(CLAIMANT)
            OPEN(CHALLENGER) --choose--> OPEN(CLAIMANT)
            OPEN(CLAIMANT, level 2 one op) --open_op--> OPEN(CHALLENGER, picking)
                                           --open_op(unknown kind)--> CLAIMANT_WON
            OPEN(CHALLENGER, picking) --pick--> OPEN(CLAIMANT, level 3)
                                      --pick(malformed op)--> CHALLENGER_WON
            OPEN(CLAIMANT, level 3 one step) --prove_step--> CLAIMANT_WON | CHALLENGER_WON
            OPEN(any) --timeout--> the other side WON
        Reverts carry reason strings prefixed "Game: ".
"""

from ethereum.ercs import IERC20
from modules import claims
from modules import assembly
from modules import copy_step
from modules import op_step
from modules import position

interface IRegistry:
    def lock(account: address, amount: uint256): nonpayable
    def unlock(account: address, amount: uint256): nonpayable
    def slash(account: address, amount: uint256): nonpayable

interface ILedger:
    def challenge(c: claims.Claim, batch: claims.BatchRef) -> (bytes32, bytes32): nonpayable
    def settle(key: bytes32, leaf: bytes32, claimant_won: bool, frozen_for: uint256): nonpayable

interface IOpStep:
    def record_hash(r: op_step.OpRecord) -> bytes32: view
    def kind_of(name: Bytes[64]) -> uint8: view
    def start(r: op_step.OpRecord, heads: DynArray[op_step.Head, op_step.MAX_HEADS], slot: uint8, element: uint64,
              attrs: uint256[6], claimed: op_step.Opening) -> (bool, bytes32, bytes32, uint256, uint32): view
    def post_state(pre: bytes32, proof: op_step.StepProof, last: bool) -> bytes32: view

interface ICopyStep:
    def start(r: op_step.OpRecord, heads: DynArray[op_step.Head, op_step.MAX_HEADS], slot: uint8, element: uint64,
              attrs: uint256[6], claimed: op_step.Opening) -> (bool, bytes32, bytes32, uint256, uint32): view
    def post_state(pre: bytes32, proof: copy_step.CopyProof, last: bool) -> bytes32: view

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
# Level 2: the accumulator over a step's op records is a fixed-depth tree (2**20 ops a step).
ACC_DEPTH: constant(uint256) = 20
# Root of that tree with every leaf ZERO (protocol.chain.commit.EMPTY_ACC).
EMPTY_ACC: constant(bytes32) = 0x51c20d66008024c04cf114564a998e49ef8f6e044e2d13a03a66521d6e200503
# Stages inside an open game.
BISECTING: constant(uint8) = 0
PICKING: constant(uint8) = 1   # an op is opened; the challenger names an element

# The one-step machines are their own contracts (OpStep.vy, CopyStep.vy: Game and they
# together exceed the EIP-170 size limit). Anyone may install them once; their code is pinned
# by these hashes, so the installer cannot choose what they compute.
# tests/verde/test_units.py keeps the hashes current.
OP_STEP_CODEHASH: constant(bytes32) = 0x854cc93cd47e7da5a27c2dd155329c7d0ad0bacb2bb112f38b5be0d9567513d6
COPY_STEP_CODEHASH: constant(bytes32) = 0x5afd28b64a01c58fd9da997d6da859fe9eec939caea440367827e8bd75143e24
FIRST_COPY_KIND: constant(uint8) = 12   # kinds >= this run on CopyStep (copy_step.vy)

struct Update:
    param: uint256          # entry index of parameter X (X.exp_avg, X.exp_avg_sq: avg, avg_sq)
    avg: uint256
    avg_sq: uint256
    record: op_step.OpRecord  # X's adamw record
    path: DynArray[bytes32, ACC_DEPTH]  # its leaf's siblings in the agreed accumulator

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
    size: uint256           # number of transitions of the current level
    op: bytes32             # the record hash opened by open_op (level 2 -> 3)

# Unpacked `meta`: bits 0-7 status | 8-15 turn | 16-23 level | 24-87 last move time |
# 88-151 claimant clock used | 152-215 challenger clock used | 216-223 stage.
struct Meta:
    status: uint8
    turn: uint8
    level: uint8
    last_move: uint256
    used_claimant: uint256
    used_challenger: uint256
    stage: uint8

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

event OpOpened:
    game_id: indexed(uint256)
    index: uint256
    kind: uint8
    record: bytes32

event ElementPicked:
    game_id: indexed(uint256)
    slot: uint8
    element: uint256
    length: uint256
    claimed: uint32

event Assembled:
    game_id: indexed(uint256)
    expected: bytes32
    claimed: bytes32

event StepperSet:
    stepper: address

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

stepper: public(IOpStep)
copier: public(ICopyStep)
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
    # INVARIANT: Verde's three levels: steps, ops of a step, the program of one element.
    assert levels_ == 3, "Game: bad levels"
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


@external
def set_stepper(stepper_: address, copier_: address):
    """@notice Anyone, once: install the one-step machines (OpStep.vy's and CopyStep.vy's code)."""
    # INVARIANT: installed once, and only the pinned code.
    assert self.stepper.address == empty(address), "Game: stepper set"
    assert stepper_.codehash == OP_STEP_CODEHASH and copier_.codehash == COPY_STEP_CODEHASH, "Game: bad stepper"
    self.stepper = IOpStep(stepper_)
    self.copier = ICopyStep(copier_)
    log StepperSet(stepper=stepper_)


@internal
@view
def _meta(game_id: uint256) -> Meta:
    m: uint256 = self.games[game_id].meta
    return Meta(status=convert(m & 255, uint8), turn=convert((m >> 8) & 255, uint8),
                level=convert((m >> 16) & 255, uint8), last_move=(m >> 24) & (2**64 - 1),
                used_claimant=(m >> 88) & (2**64 - 1), used_challenger=(m >> 152) & (2**64 - 1),
                stage=convert((m >> 216) & 255, uint8))


@internal
def _set_meta(game_id: uint256, m: Meta):
    self.games[game_id].meta = (convert(m.status, uint256) | (convert(m.turn, uint256) << 8)
                                | (convert(m.level, uint256) << 16) | (m.last_move << 24)
                                | (m.used_claimant << 88) | (m.used_challenger << 152)
                                | (convert(m.stage, uint256) << 216))


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
        points=empty(bytes32), size=convert(c.steps, uint256), op=empty(bytes32))
    self._set_meta(game_id, Meta(status=OPEN, turn=CLAIMANT, level=1, last_move=block.timestamp,
                                 used_claimant=0, used_challenger=0, stage=BISECTING))
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
    # INVARIANT: choosing answers a reveal, never an opened op.
    assert m.stage == BISECTING, "Game: not bisecting"
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
    # INVARIANT: only a step descends; an op is opened (open_op), an element is proven.
    assert m.level == 1, "Game: at last level"
    # INVARIANT: a level has 1..2**48 steps (fits the packed span).
    assert length >= 1 and length <= MAX_LENGTH, "Game: bad length"
    m.level += 1
    self._set_span(game_id, 0, length)
    self.games[game_id].size = length
    log Descended(game_id=game_id, level=m.level, length=length)
    if length == 1:
        # INVARIANT: a length-1 level has no inner boundaries.
        assert len(points) == 0, "Game: wrong point count"
        self._set_meta(game_id, m)
        return
    self._reveal(game_id, m, 0, length, points)


@internal
@pure
def _root_from_path(leaf: bytes32, index: uint256, siblings: DynArray[bytes32, ACC_DEPTH]) -> bytes32:
    node: bytes32 = leaf
    for t: uint256 in range(ACC_DEPTH):
        if t >= len(siblings):
            break
        if (index >> t) & 1 == 1:
            node = sha256(concat(b"\x01", siblings[t], node))
        else:
            node = sha256(concat(b"\x01", node, siblings[t]))
    return node


@internal
@pure
def _acc_hash(base: bytes32, count: uint256, acc: bytes32) -> bytes32:
    return sha256(concat(b"\x20", base, slice(convert(count, bytes32), 24, 8), acc))


@external
@nonreentrant
def open_op(game_id: uint256, record: op_step.OpRecord, base: bytes32, acc: bytes32,
            path: DynArray[bytes32, ACC_DEPTH]):
    """
    @notice Claimant: open the op record appended by the disputed level-2 transition
            lo -> lo + 1. `base` and `acc` are h_lo's preimage (ignored at lo = 0, where h_lo
            is the step's starting checkpoint), `path` the siblings of leaf lo.
    """
    # INVARIANT: only the claimant opens its op.
    assert msg.sender == self.games[game_id].claimant, "Game: not claimant"
    m: Meta = self._tick(self._meta(game_id), CLAIMANT)
    lo: uint256 = 0
    hi: uint256 = 0
    lo, hi = self._span(game_id)
    # INVARIANT: an op is opened at one transition of level 2 that appends a record.
    assert m.level == 2 and position.is_leaf(lo, hi), "Game: not at one step"
    assert m.stage == BISECTING, "Game: not bisecting"
    assert hi < self.games[game_id].size, "Game: not an op transition"
    pre_base: bytes32 = base
    pre_acc: bytes32 = acc
    if lo == 0:
        pre_base = self.games[game_id].h_lo
        pre_acc = EMPTY_ACC
    else:
        # INVARIANT: the opened accumulator is exactly the agreed state at lo.
        assert self._acc_hash(pre_base, lo, pre_acc) == self.games[game_id].h_lo, "Game: pre-state mismatch"
    # INVARIANT: the record is op number lo of the step.
    assert convert(record.index, uint256) == lo, "Game: wrong op index"
    # INVARIANT: leaf lo is still empty in the agreed accumulator (one path proves the append).
    assert len(path) == ACC_DEPTH and self._root_from_path(empty(bytes32), lo, path) == pre_acc, "Game: bad op proof"
    leaf: bytes32 = staticcall self.stepper.record_hash(record)
    post: bytes32 = self._acc_hash(pre_base, lo + 1, self._root_from_path(leaf, lo, path))
    # INVARIANT: appending the opened record gives exactly the claimant's disputed hash.
    assert post == self.games[game_id].h_hi, "Game: op does not match"
    kind: uint8 = staticcall self.stepper.kind_of(record.name)
    log OpOpened(game_id=game_id, index=lo, kind=kind, record=leaf)
    if kind == op_step.KIND_UNKNOWN:
        # An op the contract cannot recompute: the claimant wins (docs/verde.md: a griefing
        # challenger could otherwise steer an honest claimant into it; an honest challenger
        # never opens a game over such an op).
        self._resolve(game_id, m, True, False)
        return
    self.games[game_id].op = leaf
    m.stage = PICKING
    m.turn = CHALLENGER
    self._set_meta(game_id, m)


@external
@nonreentrant
def pick(game_id: uint256, record: op_step.OpRecord, heads: DynArray[op_step.Head, op_step.MAX_HEADS],
         slot: uint8, element: uint64, attrs: uint256[6], claimed: op_step.Opening):
    """
    @notice Challenger: dispute element `element` of output `slot` of the opened op. `heads`
            open every input and output root (inputs first) to its shape, `attrs` are the
            op's attributes (adamw), `claimed` opens the claimant's value of the element.
            Level 3 becomes that element's program, from the contract's own start state to
            the claimed value.
    """
    # INVARIANT: only the challenger picks.
    assert msg.sender == self.games[game_id].challenger, "Game: not challenger"
    m: Meta = self._tick(self._meta(game_id), CHALLENGER)
    # INVARIANT: picking follows an opened op.
    assert m.stage == PICKING, "Game: not picking"
    leaf: bytes32 = staticcall self.stepper.record_hash(record)
    # INVARIANT: the record is the one the claimant opened.
    assert leaf == self.games[game_id].op, "Game: op does not match"
    # The stepper checks the heads, the slot, the attrs and the claimed opening (reverting
    # with a Game: reason) and derives the element's program.
    ok: bool = False
    h_lo: bytes32 = empty(bytes32)
    h_hi: bytes32 = empty(bytes32)
    length: uint256 = 0
    v32: uint32 = 0
    if staticcall self.stepper.kind_of(record.name) >= FIRST_COPY_KIND:
        ok, h_lo, h_hi, length, v32 = staticcall self.copier.start(record, heads, slot, element, attrs, claimed)
    else:
        ok, h_lo, h_hi, length, v32 = staticcall self.stepper.start(record, heads, slot, element, attrs, claimed)
    if not ok or length == 0:
        # not ok: shapes that do not fit the op's kind, the claimant's record is malformed;
        # length 0: an output with no program yet, resolved for the claimant (docs/verde.md)
        self._resolve(game_id, m, ok, False)
        return
    self.games[game_id].h_lo = h_lo
    self.games[game_id].h_hi = h_hi
    self._set_span(game_id, 0, length)
    self.games[game_id].size = length
    m.level = 3
    m.stage = BISECTING
    m.turn = CLAIMANT
    self._set_meta(game_id, m)
    log ElementPicked(game_id=game_id, slot=slot, element=convert(element, uint256),
                      length=length, claimed=v32)


@internal
@view
def _one_step(game_id: uint256) -> (Meta, bool):
    """The game's meta and whether level 3's range ends at its last position; reverts unless
    a one-step check may run now."""
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
    # INVARIANT: the one-step check only runs on one instruction of level 3.
    assert m.level == 3 and position.is_leaf(lo, hi), "Game: not at one step"
    return m, hi == self.games[game_id].size


@external
@nonreentrant
def prove_step(game_id: uint256, proof: op_step.StepProof):
    """
    @notice Anyone: settle level 3's single transition by recomputing its instruction. The
            claimant wins iff the true successor of h_lo equals its h_hi.
    """
    m: Meta = empty(Meta)
    last: bool = False
    m, last = self._one_step(game_id)
    # OpStep checks that the opened context, pc and registers are exactly h_lo, reads the
    # operands against the agreed input roots and computes the successor state.
    expected: bytes32 = staticcall self.stepper.post_state(self.games[game_id].h_lo, proof, last)
    claimed: bytes32 = self.games[game_id].h_hi
    log StepProven(game_id=game_id, expected=expected, claimed=claimed)
    self._resolve(game_id, m, expected == claimed, False)


@external
@nonreentrant
def prove_copy(game_id: uint256, proof: copy_step.CopyProof):
    """@notice Anyone: prove_step for a select or copy (operands of any dtype; CopyStep)."""
    m: Meta = empty(Meta)
    last: bool = False
    m, last = self._one_step(game_id)
    expected: bytes32 = staticcall self.copier.post_state(self.games[game_id].h_lo, proof, last)
    claimed: bytes32 = self.games[game_id].h_hi
    log StepProven(game_id=game_id, expected=expected, claimed=claimed)
    self._resolve(game_id, m, expected == claimed, False)


@external
@nonreentrant
def prove_assembly(game_id: uint256, base: bytes32, acc: bytes32, before: DynArray[assembly.Entry, assembly.MAX_ENTRIES],
                   updates: DynArray[Update, assembly.MAX_PARAMS], step_entry: uint256, step_before: uint256):
    """
    @notice Anyone: settle the last level-2 transition of a step (all its op records -> the
            checkpoint after). `base`/`acc` open h_lo (ignored when the step has no op),
            `before` lists the checkpoint before's entries, `updates` gives each parameter's
            adamw record, `step_entry` is the index of `step` holding `step_before`. The
            contract rebuilds the checkpoint after; the claimant wins iff it equals h_hi.
    """
    m: Meta = self._meta(game_id)
    # INVARIANT: open, claimant's turn, claimant's clock not run out (as prove_step).
    assert m.status == OPEN, "Game: not open"
    assert m.turn == CLAIMANT, "Game: not your turn"
    assert block.timestamp - m.last_move <= self._remaining(m), "Game: clock expired"
    lo: uint256 = 0
    hi: uint256 = 0
    lo, hi = self._span(game_id)
    # INVARIANT: only the last transition of level 2 is an assembly.
    assert m.level == 2 and m.stage == BISECTING and position.is_leaf(lo, hi), "Game: not at one step"
    assert hi == self.games[game_id].size, "Game: not an assembly"
    pre_base: bytes32 = base
    pre_acc: bytes32 = acc
    if lo == 0:
        pre_base = self.games[game_id].h_lo
        pre_acc = EMPTY_ACC
    else:
        assert self._acc_hash(pre_base, lo, pre_acc) == self.games[game_id].h_lo, "Game: pre-state mismatch"
    roots: DynArray[bytes32, assembly.MAX_ENTRIES] = []
    for e: assembly.Entry in before:
        roots.append(e.root)
    # INVARIANT: the entries are exactly the agreed checkpoint before the step.
    assert assembly.checkpoint_hash(before, roots) == pre_base, "Game: bad checkpoint"
    covered: uint256 = 0
    after: DynArray[bytes32, assembly.MAX_ENTRIES] = roots
    for u: Update in updates:
        # INVARIANT: each entry is rebuilt once, from an adamw record of this step.
        assert u.param < len(before) and u.avg < len(before) and u.avg_sq < len(before), "Game: bad assembly"
        bits: uint256 = (1 << u.param) | (1 << u.avg) | (1 << u.avg_sq)
        assert covered & bits == 0 and u.param != u.avg and u.avg != u.avg_sq and u.param != u.avg_sq, "Game: bad assembly"
        covered |= bits
        assert assembly.is_moment_of(before[u.avg].name, before[u.param].name, b".exp_avg"), "Game: bad assembly"
        assert assembly.is_moment_of(before[u.avg_sq].name, before[u.param].name, b".exp_avg_sq"), "Game: bad assembly"
        assert u.record.name == b"adamw" and len(u.record.inputs) == 4 and len(u.record.outputs) == 3, "Game: bad assembly"
        assert u.record.inputs[0] == roots[u.param] and u.record.inputs[2] == roots[u.avg] and u.record.inputs[3] == roots[u.avg_sq], "Game: bad assembly"
        leaf: bytes32 = staticcall self.stepper.record_hash(u.record)
        # INVARIANT: the record is one of the step's agreed records.
        assert len(u.path) == ACC_DEPTH and self._root_from_path(leaf, convert(u.record.index, uint256), u.path) == pre_acc, "Game: bad op proof"
        after[u.param] = u.record.outputs[0]
        after[u.avg] = u.record.outputs[1]
        after[u.avg_sq] = u.record.outputs[2]
    # INVARIANT: `step` counts one more completed step.
    assert step_entry < len(before) and covered & (1 << step_entry) == 0 and before[step_entry].name == b"step", "Game: bad assembly"
    assert roots[step_entry] == assembly.int64_scalar_root(step_before), "Game: bad assembly"
    covered |= 1 << step_entry
    after[step_entry] = assembly.int64_scalar_root(step_before + 1)
    # INVARIANT: every entry of the checkpoint is accounted for.
    assert covered == (1 << len(before)) - 1, "Game: bad assembly"
    expected: bytes32 = assembly.checkpoint_hash(before, after)
    claimed: bytes32 = self.games[game_id].h_hi
    log Assembled(game_id=game_id, expected=expected, claimed=claimed)
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
def verde_state(game_id: uint256) -> (uint8, uint256, bytes32):
    """@notice (stage: 0 bisecting, 1 picking; transitions of the current level; opened op record)."""
    m: Meta = self._meta(game_id)
    return m.stage, self.games[game_id].size, self.games[game_id].op


@view
@external
def clocks(game_id: uint256) -> (uint256, uint256, uint8, uint256):
    """@notice (claimant seconds left, challenger seconds left, side to move, seconds since last move)."""
    m: Meta = self._meta(game_id)
    return clock - m.used_claimant, clock - m.used_challenger, m.turn, block.timestamp - m.last_move
