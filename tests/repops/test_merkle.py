"""repops.merkle against an independent implementation of docs/commitments.md, plus proofs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from repops import merkle
from repops.errors import RepOpsError
from spec_hashes import ZERO, H, spec_tensor_root, spec_tree

DTYPES = [torch.float32, torch.int32, torch.int64, torch.uint8, torch.bool]
NP = {torch.float32: np.float32, torch.int32: np.int32, torch.int64: np.int64, torch.uint8: np.uint8, torch.bool: np.bool_}


def tensors(max_elems: int = 1200):
    @st.composite
    def build(draw):
        dtype = draw(st.sampled_from(DTYPES))
        shape = draw(st.lists(st.integers(0, 40), min_size=0, max_size=3).filter(lambda s: math.prod(s) <= max_elems))
        arr = draw(arrays(NP[dtype], tuple(shape)))
        return torch.from_numpy(np.ascontiguousarray(arr))

    return build()


@settings(max_examples=60)
@given(tensors())
def test_tensor_root_matches_the_spec_text(t):
    assert merkle.tensor_root(t) == spec_tensor_root(t)


@settings(max_examples=40)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=40))
def test_tree_root_and_every_proof(leaves):
    root = merkle.tree_root(leaves)
    assert root == spec_tree(leaves)
    for i, leaf in enumerate(leaves):
        siblings = merkle.prove(leaves, i)
        assert len(siblings) == merkle.tree_depth(len(leaves))
        assert merkle.verify(root, leaf, i, len(leaves), siblings)
        assert not merkle.verify(root, H(leaf), i, len(leaves), siblings)
        if siblings:
            bad = list(siblings)
            bad[0] = H(bad[0])
            assert not merkle.verify(root, leaf, i, len(leaves), bad)
        if len(leaves) > 1 and leaves[i ^ 1 if (i ^ 1) < len(leaves) else 0] != leaf:
            assert not merkle.verify(root, leaf, i ^ 1 if (i ^ 1) < len(leaves) else 0, len(leaves), siblings)


def test_tree_edge_cases():
    a, b = H(b"a"), H(b"b")
    assert merkle.tree_root([]) == ZERO
    assert merkle.tree_root([a]) == a
    assert merkle.tree_root([a, b, a]) == H(b"\x01", H(b"\x01", a, b), H(b"\x01", a, ZERO))
    assert merkle.tree_depth(0) == 0 and merkle.tree_depth(1) == 0 and merkle.tree_depth(5) == 3
    with pytest.raises(RepOpsError):
        merkle.tree_root([b"short"])


@settings(max_examples=25)
@given(tensors(700), st.data())
def test_every_element_opens_and_tampering_fails(t, data):
    root = merkle.tensor_root(t)
    flat = t.reshape(-1)
    indices = range(t.numel()) if t.numel() <= 300 else data.draw(st.lists(st.integers(0, t.numel() - 1), min_size=1, max_size=30))
    for i in indices:
        proof = merkle.prove_element(t, i)
        value = merkle.verify_element(root, proof)
        expected = flat[i].item()
        if t.dtype == torch.float32 and math.isnan(expected):
            assert math.isnan(value)
        else:
            assert value == expected
    if t.numel():
        i = data.draw(st.integers(0, t.numel() - 1))
        proof = merkle.prove_element(t, i)
        k = data.draw(st.integers(0, len(proof.chunk_bytes) - 1))
        flipped = bytearray(proof.chunk_bytes)
        flipped[k] ^= 1 << data.draw(st.integers(0, 7))
        tampered = [
            merkle.ElementProof(proof.header, bytes(flipped), proof.chunk_index, proof.flat_index, proof.siblings),
            merkle.ElementProof(proof.header[:-1] + bytes([proof.header[-1] ^ 1]), proof.chunk_bytes,
                                proof.chunk_index, proof.flat_index, proof.siblings),
        ]
        if proof.siblings:
            tampered.append(merkle.ElementProof(proof.header, proof.chunk_bytes, proof.chunk_index, proof.flat_index,
                                                (H(proof.siblings[0]),) + proof.siblings[1:]))
        for bad in tampered:
            with pytest.raises(RepOpsError):
                merkle.verify_element(root, bad)


def test_nan_is_canonical_and_layout_does_not_matter():
    a = torch.tensor([1.0, float("nan"), -0.0])
    bits = torch.tensor([0x3F800000, 0xFFF00001 - (1 << 32), 0x80000000], dtype=torch.int64).to(torch.int32)
    b = bits.view(torch.float32)  # a NaN with sign bit and payload
    assert merkle.tensor_root(a) == merkle.tensor_root(b)
    assert merkle.tensor_root(a) != merkle.tensor_root(torch.tensor([1.0, float("nan"), 0.0]))  # -0 != +0
    m = torch.arange(600, dtype=torch.float32).reshape(20, 30)
    assert merkle.tensor_root(m.t()) == merkle.tensor_root(m.t().contiguous())
    assert merkle.tensor_root(m) != merkle.tensor_root(m.reshape(30, 20))  # the header commits to shape


def test_unsupported_dtype_is_an_error():
    with pytest.raises(RepOpsError, match="unsupported_dtype"):
        merkle.tensor_root(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(RepOpsError, match="bad_index"):
        merkle.prove_element(torch.zeros(3), 3)
