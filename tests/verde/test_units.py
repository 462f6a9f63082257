"""Verde without a chain: the Python op machine against RepOps' own outputs, the record's
persistence, the transition table, the strategy maths (hypothesis) and the OpStep code pin."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, strategies as st

from protocol.chain.artifacts import CONTRACTS_DIR
from protocol.chain.commit import Claim
from protocol.chain.position import boundary, inner_boundaries, parts
from verde import Fault, GameRecord, Phase, VerdeError, lie, locate
from verde import opmachine, strategy
from verde.execution import bits, values
from verde.machine import TRANSITIONS, advance


def test_op_machine_reproduces_every_provable_op_of_a_step(honest):
    checked = set()
    for op in honest.steps[0].ops:
        if not opmachine.provable(op.record.op):
            continue
        ins = [values(t) for t in op.inputs]
        for slot, out in enumerate(op.outputs):
            ob = bits(out)
            for e in sorted({0, ob.numel() // 2, ob.numel() - 1}):
                plan = opmachine.plan_for(op.record.op, op.record.input_roots, [t.shape for t in op.inputs],
                                          [t.shape for t in op.outputs], slot, e, op.attrs)
                if plan.length == 0:
                    continue  # an output with no program (linear.backward's bias gradient)
                run = opmachine.run(plan, op.hash, e, opmachine.reader(plan, op.record.input_roots, ins))
                assert run.value == int(ob[e]), (op.record.op, slot, e)
                checked.add(op.record.op)
    assert {"add", "mul", "linear", "matmul", "relu", "adamw", "maximum", "div", "neg", "embedding", "masked_fill",
            "gather", "linear.backward", "matmul.backward"} <= checked


def test_locate_names_the_corrupted_element(honest):
    j = next(i for i, op in enumerate(honest.steps[0].ops) if op.record.op == "layer_norm")
    d = locate(honest, lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=5))
    assert (d.op, d.slot, d.element, d.provable) == (j, 0, 5, False)  # layer_norm has no program yet


def test_level2_ends_at_the_checkpoints(honest):
    trace = honest.steps[0]
    assert trace.hash_at(0) == trace.ckpt_before and trace.hash_at(trace.length) == trace.ckpt_after
    assert len({trace.hash_at(p) for p in range(trace.length + 1)}) == trace.length + 1


def test_record_round_trips_through_json():
    claim = Claim("0x" + "ab" * 20, 3, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, 2)
    record = GameRecord(7, "challenger", claim, Phase.ELEMENT, step=1, op=40, slot=0, element=9, moves=5,
                        opened="aa" * 32, notes=["x"])
    again = GameRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record
    with pytest.raises(VerdeError):
        GameRecord.from_dict({**record.to_dict(), "role": "referee"})
    with pytest.raises(VerdeError):
        GameRecord.from_dict({"game_id": 1})


def test_transition_table_only_goes_forward():
    assert advance(Phase.STEPS, Phase.ELEMENT) is Phase.ELEMENT
    with pytest.raises(VerdeError):
        advance(Phase.ELEMENT, Phase.OPS)
    with pytest.raises(VerdeError):
        advance(Phase.CLAIMANT_WON, Phase.CHALLENGER_WON)
    for phase, nexts in TRANSITIONS.items():
        assert phase in nexts  # a look without a move is always allowed


@given(st.integers(0, 10**6), st.integers(2, 10**6), st.data())
def test_disputed_part_narrows_to_the_first_difference(lo, width, data):
    hi = lo + width
    first_bad = data.draw(st.integers(lo + 1, hi))  # first position whose hashes differ
    ours = lambda p: b"same" if p < first_bad else b"ours"  # noqa: E731
    revealed = [b"same" if p < first_bad else b"theirs" for p in inner_boundaries(lo, hi)]
    part = strategy.disputed_part(lo, hi, revealed, ours)
    new_lo, new_hi = boundary(lo, hi, part), boundary(lo, hi, part + 1)
    # INVARIANT of the honest challenger: it agrees at the new lo and the first difference is inside
    assert new_lo < first_bad <= new_hi and 0 <= part < parts(lo, hi)


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50), st.data())
def test_first_difference(values, data):
    i = data.draw(st.integers(0, len(values) - 1))
    other = list(values)
    other[i] ^= 1
    assert strategy.first_difference(values, other) == i
    assert strategy.first_difference(values, values) is None


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_timed_out_is_strict(left, since):
    assert strategy.timed_out(left, since) == (since > left)


@given(st.integers(1, 5000))
def test_slice_bits_keeps_products_exact(k):
    s = opmachine.slice_bits(k)
    assert s <= 24 and k * 4**s <= 2**53


@pytest.mark.slow
def test_game_pins_the_compiled_op_step():
    from verde.stepper import op_step_codehash

    source = (CONTRACTS_DIR / "Game.vy").read_text()
    for name, constant in (("OpStep", "OP_STEP_CODEHASH"), ("CopyStep", "COPY_STEP_CODEHASH")):
        pinned = re.search(constant + r": constant\(bytes32\) = 0x([0-9a-f]{64})", source)
        assert pinned and bytes.fromhex(pinned.group(1)) == op_step_codehash(name), \
            f"set Game.{constant} to 0x{op_step_codehash(name).hex()}"


def test_corrupting_a_strided_output_changes_its_root(honest):
    """Regression: a kept output can be a non-contiguous view; the lie must still change it."""
    j = next(i for i, op in enumerate(honest.steps[0].ops) if not op.outputs[0].is_contiguous())
    d = locate(honest, lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=1))
    assert (d.op, d.element) == (j, 1)


def test_op_machine_reproduces_the_selects_of_a_sapo_step():
    from dataclasses import replace

    from kit import HPARAMS, tiny_batch, tiny_checkpoint
    from verde import execute

    sapo = execute(tiny_checkpoint(), tiny_batch(), replace(HPARAMS, objective="sapo", epochs=1), 1)
    seen = 0
    for op in sapo.steps[0].ops:
        if op.record.op not in ("where", "minimum", "maximum", "masked_fill"):
            continue
        ins = [values(t) for t in op.inputs]
        ob = bits(op.outputs[0])
        for e in range(ob.numel()):
            plan = opmachine.plan_for(op.record.op, op.record.input_roots, [t.shape for t in op.inputs],
                                      [t.shape for t in op.outputs], 0, e, op.attrs)
            assert opmachine.run(plan, op.hash, e, opmachine.reader(plan, op.record.input_roots, ins)).value == int(ob[e]), \
                (op.record.op, e)
        seen += op.record.op == "where"
    assert seen >= 1
