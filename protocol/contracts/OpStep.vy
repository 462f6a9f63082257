# pragma version ~=0.4.3
"""
@title OpStep: the one-step machine of Verde's bottom level, as its own contract
@notice Pure functions only: Game calls them with staticcall. Game pins this contract's code
        by its hash (Game.OP_STEP_CODEHASH), so whoever deploys and installs it cannot change
        what it computes. The logic lives in modules/op_step.vy; docs/verde.md explains it.
"""

from lib import merkle
from modules import op_step


@external
@pure
def record_hash(r: op_step.OpRecord) -> bytes32:
    """@notice The trace record hash of docs/commitments.md (tag 0x03)."""
    return merkle.trace_record(r.index, r.name, r.inputs, r.outputs, r.attrs_digest)


@external
@pure
def kind_of(name: Bytes[64]) -> uint8:
    """@notice The op kind of a trace name (0: not provable on-chain)."""
    return op_step.kind_of(name)


@external
@pure
def start(r: op_step.OpRecord, heads: DynArray[op_step.Head, op_step.MAX_HEADS], slot: uint8, element: uint64,
          attrs: uint256[6], claimed: op_step.Opening) -> (bool, bytes32, bytes32, uint256, uint32):
    """
    @notice Level 3 of a game over element `element` of output `slot` of op record `r`:
            (well formed, start state, final state with the claimed value, program length,
            claimed value). Not well formed: the record's shapes do not fit its kind.
    """
    n_in: uint256 = len(r.inputs)
    # INVARIANT: every tensor of the op is opened to its shape.
    assert len(heads) == n_in + len(r.outputs), "Game: bad head"
    for t: uint256 in range(op_step.MAX_HEADS):
        if t >= len(heads):
            break
        root: bytes32 = empty(bytes32)
        if t < n_in:
            root = r.inputs[t]
        else:
            root = r.outputs[t - n_in]
        assert merkle.tensor_root(heads[t].header, heads[t].tree) == root, "Game: bad head"
    # INVARIANT: the disputed output exists.
    assert convert(slot, uint256) < len(r.outputs), "Game: bad part"
    kind: uint8 = op_step.kind_of(r.name)
    if kind == op_step.KIND_ADAMW:
        # INVARIANT: the program's constants are the op's committed attributes.
        assert op_step.adamw_attrs_digest(attrs) == r.attrs_digest, "Game: bad attrs"
    ok: bool = False
    plan: op_step.Plan = empty(op_step.Plan)
    ok, plan = op_step.make_plan(kind, r, heads, slot, convert(element, uint256), attrs)
    if not ok:
        return False, empty(bytes32), empty(bytes32), 0, 0
    valid: bool = False
    v: uint32 = 0
    valid, v = merkle.open_float32(r.outputs[slot], claimed.header, claimed.chunk, claimed.siblings,
                                   convert(element, uint256))
    # INVARIANT: the claimed value is the claimant's committed output element.
    assert valid, "Game: bad operand proof"
    record: bytes32 = merkle.trace_record(r.index, r.name, r.inputs, r.outputs, r.attrs_digest)
    ctx: bytes32 = op_step.context(plan, record, element)
    return True, op_step.state_hash(ctx, 0, empty(uint256[4])), op_step.final_hash(ctx, v), convert(plan.length, uint256), v


@external
@pure
def post_state(pre: bytes32, p: op_step.StepProof, last: bool) -> bytes32:
    """@notice The true successor of the agreed state `pre` (the final hash when `last`)."""
    ctx: bytes32 = op_step.context(p.plan, p.record, p.element)
    # INVARIANT: the opened context and registers are exactly the agreed state.
    assert op_step.state_hash(ctx, p.pc, p.regs) == pre, "Game: pre-state mismatch"
    # INVARIANT: the last transition of the level is the program's last instruction.
    assert last == (convert(p.pc, uint256) + 1 == convert(p.plan.length, uint256)), "Game: not at one step"
    regs: uint256[4] = empty(uint256[4])
    v: uint32 = 0
    regs, v = op_step.step(p.plan, convert(p.pc, uint256), p.regs, p.operands)
    if last:
        return op_step.final_hash(ctx, v)
    return op_step.state_hash(ctx, p.pc + 1, regs)
