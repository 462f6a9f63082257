# pragma version ~=0.4.3
"""
@title CopyStep: the one-step machine of RepOps' selects and copies (modules/copy_step.vy)
@notice Pure functions; Game calls them with staticcall for kinds 12..15 and pins this code
        by its hash (Game.COPY_STEP_CODEHASH). A second contract because OpStep is at the
        EIP-170 size limit.
"""

from lib import merkle
from modules import copy_step
from modules import op_step


@external
@pure
def start(r: op_step.OpRecord, heads: DynArray[op_step.Head, op_step.MAX_HEADS], slot: uint8, element: uint64,
          attrs: uint256[6], claimed: op_step.Opening) -> (bool, bytes32, bytes32, uint256, uint32):
    """@notice As OpStep.start, for where / masked_fill / embedding / gather and the backward
               matmuls (their plans; OpStep runs the matmul program). Length 0: no program."""
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
    # INVARIANT: the program's constants are the op's committed attributes.
    assert copy_step.attrs_digest(kind, attrs) == r.attrs_digest, "Game: bad attrs"
    ok: bool = False
    plan: op_step.Plan = empty(op_step.Plan)
    ok, plan = copy_step.make_plan(kind, r, heads, slot, convert(element, uint256), attrs)
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
def post_state(pre: bytes32, p: copy_step.CopyProof, last: bool) -> bytes32:
    """@notice The true successor of the agreed state `pre` (always the final hash: one instruction)."""
    ctx: bytes32 = op_step.context(p.plan, p.record, p.element)
    # INVARIANT: the opened context and registers are exactly the agreed state.
    assert op_step.state_hash(ctx, p.pc, p.regs) == pre, "Game: pre-state mismatch"
    # INVARIANT: a copy is one instruction, so its only transition is the last.
    assert last and p.pc == 0 and p.plan.length == 1, "Game: not at one step"
    return op_step.final_hash(ctx, copy_step.step(p.plan, p.operands))
