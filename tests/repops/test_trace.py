"""repops.trace: records and roots per docs/commitments.md, proofs, openings, root caching."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from repops import merkle, trace
from repops.errors import RepOpsError
from spec_hashes import ZERO, spec_record, spec_tensor_root, spec_trace_root


def test_record_is_a_no_op_without_a_tracer():
    assert trace.active() is None
    trace.record("add", [torch.ones(2)], [torch.ones(2)], {"x": 1})
    assert trace.active() is None


def test_records_and_root_match_the_spec():
    a, b = torch.randn(300), torch.arange(7)
    with trace.tracing() as t:
        assert trace.active() is t
        c = a * 2
        trace.record("mul", [a], [c], {"scalar": 2.0})
        trace.record("gather", [c, b], [c[b]])
    assert trace.active() is None
    ra, rb, rc = spec_tensor_root(a), spec_tensor_root(b), spec_tensor_root(c)
    attrs = hashlib.sha256(msgpack.packb({"scalar": 2.0})).digest()
    recs = [spec_record(0, "mul", [ra], [rc], attrs), spec_record(1, "gather", [rc, rb], [spec_tensor_root(c[b])], ZERO)]
    assert [r.hash for r in t.records] == recs
    assert t.root == spec_trace_root(recs)
    assert t.op_count == 2
    with trace.tracing() as empty:
        pass
    assert empty.root == spec_trace_root([])


attr_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=40) | st.binary(max_size=300),
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=8), inner, max_size=20),
    max_leaves=30,
)


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=lambda k: k.encode())}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


@settings(max_examples=40)
@given(st.dictionaries(st.text(max_size=8), attr_values, min_size=1, max_size=8))
def test_canonical_attrs_are_msgpack_with_sorted_keys(attrs):
    assert trace.canonical_attrs(attrs) == msgpack.packb(_sorted(attrs), use_bin_type=True)
    reordered = dict(reversed(list(attrs.items())))
    assert trace.attrs_digest(reordered) == trace.attrs_digest(attrs)


def test_bad_attrs_and_nesting_are_errors():
    with trace.tracing():
        with pytest.raises(RepOpsError, match="bad_attrs"):
            trace.record("op", [], [], {"x": object()})
        with pytest.raises(RepOpsError, match="tracer_active"):
            with trace.tracing():
                pass
    assert trace.active() is None


def test_record_proofs_verify_and_tampering_fails():
    xs = [torch.randn(50) for _ in range(11)]
    with trace.tracing(keep_tensors=True) as t:
        for i in range(10):
            trace.record("add", [xs[i], xs[i + 1]], [xs[i] + xs[i + 1]], {"i": i})
    for i in range(10):
        proof = t.prove_record(i)
        assert trace.verify_record(t.root, proof)
        forged = trace.OpRecord(i, "sub", proof.record.input_roots, proof.record.output_roots, proof.record.attrs_digest)
        assert not trace.verify_record(t.root, trace.RecordProof(forged, proof.op_count, proof.siblings))
        moved = trace.OpRecord((i + 1) % 10, "add", proof.record.input_roots, proof.record.output_roots, proof.record.attrs_digest)
        assert not trace.verify_record(t.root, trace.RecordProof(moved, proof.op_count, proof.siblings))
        assert not trace.verify_record(t.root, trace.RecordProof(proof.record, 11, proof.siblings))


def test_open_ops_and_prove_elements_against_record_roots():
    p = torch.randn(20, 30)
    with trace.tracing(keep_tensors=True) as t:
        y = p * 3
        trace.record("mul", [p], [y])
        with torch.no_grad():
            p.mul_(0.5)  # an in-place update bumps the version: the next record re-hashes p
        trace.record("update", [p], [p])
    opening = t.open(0)
    assert trace.verify_record(t.root, opening.proof)
    assert opening.inputs[0].equal(p * 2) and opening.outputs[0].equal(y)
    assert t.records[1].input_roots[0] == merkle.tensor_root(p) != t.records[0].input_roots[0]
    for flat in (0, 255, 256, 599):
        proof = t.prove_element(0, "output", 0, flat)
        assert merkle.verify_element(t.records[0].output_roots[0], proof) == y.reshape(-1)[flat].item()
        proof = t.prove_element(1, "input", 0, flat)
        assert merkle.verify_element(t.records[1].input_roots[0], proof) == p.reshape(-1)[flat].item()
    with pytest.raises(RepOpsError, match="bad_index"):
        t.prove_element(0, "input", 1, 0)


def test_in_place_write_through_data_is_still_hashed_fresh_as_an_output():
    p = torch.randn(10)
    with trace.tracing() as t:
        trace.record("read", [p], [])
        p.data.add_(1.0)  # .data writes do not bump p's version counter
        trace.record("write", [], [p])
    assert t.records[1].output_roots[0] == spec_tensor_root(p)


def test_hashes_only_mode_cannot_open():
    with trace.tracing() as t:
        trace.record("op", [torch.ones(3)], [torch.ones(3)])
    with pytest.raises(RepOpsError, match="tensors_not_kept"):
        t.open(0)
    assert trace.verify_record(t.root, t.prove_record(0))


def test_a_tensor_overwritten_after_recording_keeps_its_recorded_root_and_copy():
    def run():
        p = torch.arange(3000, dtype=torch.float32)
        with trace.tracing(keep_tensors=True) as t:
            for i in range(5):
                q = p * 2
                trace.record("mul", [p], [q], {"i": i})
                with torch.no_grad():
                    p.add_(1.0)  # overwrite p right after recording it
                trace.record("add", [p], [p])
            assert t.op_count == 10
        return t

    first, again = run(), run()
    assert [r.hash for r in first.records] == [r.hash for r in again.records]
    assert first.root == again.root
    bg = first
    assert bg.records[0].input_roots[0] == spec_tensor_root(torch.arange(3000, dtype=torch.float32))
    assert bg.open(9).outputs[0].equal(torch.arange(3000, dtype=torch.float32) + 5)


def test_an_error_inside_the_block_still_stops_tracing():
    with pytest.raises(ValueError):
        with trace.tracing():
            trace.record("op", [torch.ones(3)], [torch.ones(3)])
            raise ValueError("boom")
    assert trace.active() is None


def test_a_small_root_cache_evicts_and_still_gives_the_same_trace():
    xs = [torch.randn(1000) for _ in range(6)]

    def run(limit: int) -> bytes:
        t = trace.Tracer(cache_bytes=limit)
        for i in range(5):
            t.append("add", [xs[i], xs[i + 1], xs[0]], [xs[i] + xs[i + 1]])
        assert t._cache_bytes <= max(limit, 0) or not t._roots
        return t.root

    assert run(0) == run(4000) == run(1 << 30)


def test_ops_from_another_python_thread_are_not_recorded():
    import threading

    with trace.tracing() as t:
        trace.record("mine", [torch.ones(2)], [torch.ones(2)])
        other = threading.Thread(target=trace.record, args=("theirs", [torch.ones(2)], [torch.ones(2)]))
        other.start()
        other.join()
    assert [r.op for r in t.records] == ["mine"]
