"""lib/merkle.vy against the docs/commitments.md spec written out here, and against repops."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HARNESS = "test_harness/merkle_harness.vy"
ZERO = bytes(32)
FAST = settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---------------------------------------------------------------- the spec, independently


def h(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def depth(n: int) -> int:
    return (max(n, 1) - 1).bit_length()


def tree(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """(root, levels) of the zero-padded complete binary tree."""
    if not leaves:
        return ZERO, [[]]
    level = leaves + [ZERO] * ((1 << depth(len(leaves))) - len(leaves))
    levels = [level]
    while len(level) > 1:
        level = [h(b"\x01", level[i], level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return level[0], levels


def proof(levels: list[list[bytes]], index: int) -> list[bytes]:
    return [levels[k][(index >> k) ^ 1] for k in range(len(levels) - 1)]


def header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([code, len(shape)]) + b"".join(struct.pack("<Q", d) for d in shape)


def float32_tensor(values: np.ndarray) -> tuple[bytes, bytes, list[bytes], list[list[bytes]]]:
    """(header, tensor root, chunks, tree levels) of a float32 array."""
    bits = values.astype(np.float32).view(np.uint32).copy()
    bits[np.isnan(values)] = 0x7FC00000
    raw = bits.astype("<u4").tobytes()
    chunks = [raw[i:i + 1024] for i in range(0, len(raw), 1024)]
    root, levels = tree([h(b"\x00", c) for c in chunks])
    head = header(1, values.shape)
    return head, h(b"\x02", head, root), chunks, levels


# ---------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def m(deploy):
    return deploy(HARNESS).functions


def test_tags_and_depth(m):
    chunk = bytes(range(256)) * 4
    assert m.chunk_leaf(chunk).call() == h(b"\x00", chunk)
    assert m.inner(b"\x11" * 32, b"\x22" * 32).call() == h(b"\x01", b"\x11" * 32, b"\x22" * 32)
    for n in (0, 1, 2, 3, 4, 5, 255, 256, 257, 2**20 + 1):
        assert m.tree_depth(n).call() == depth(n), n
    assert m.tensor_header(1, [3, 5]).call() == header(1, (3, 5))
    assert m.tensor_header(3, []).call() == header(3, ())
    assert m.tensor_header(2, [2**40 + 7] * 8).call() == header(2, (2**40 + 7,) * 8)


@FAST
@given(n=st.integers(1, 40), data=st.data())
def test_proofs_verify_and_tampering_fails(m, n, data):
    leaves = [h(b"\x00", bytes([i]) * 7) for i in range(n)]
    root, levels = tree(leaves)
    i = data.draw(st.integers(0, n - 1))
    sib = proof(levels, i)
    d = depth(n)
    assert m.verify(root, leaves[i], i, d, sib).call()
    assert m.verify_leaf(root, leaves[i], i, n, sib).call()
    assert not m.verify_leaf(root, leaves[i], i + n, n, sib).call()          # beyond the leaves
    assert not m.verify(root, leaves[i], i + (1 << d), d, sib).call()        # index too wide
    assert not m.verify(root, leaves[(i + 1) % n] if n > 1 else ZERO, i, d, sib).call()
    if d:
        assert not m.verify(root, leaves[i], i, d - 1, sib[:-1]).call()      # short proof
        bad = list(sib)
        k = data.draw(st.integers(0, d - 1))
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        assert not m.verify(root, leaves[i], i, d, bad).call()
        assert not m.verify(root, leaves[i], i ^ (1 << k), d, sib).call()     # wrong position


@FAST
@given(shape=st.lists(st.integers(1, 9), min_size=0, max_size=4).map(tuple).filter(lambda s: int(np.prod(s)) <= 1500),
       seed=st.integers(0, 2**32 - 1), data=st.data())
def test_open_float32_matches_spec(m, shape, seed, data):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(np.float32)
    if values.size > 2:
        values.flat[1] = np.nan
    head, root, chunks, levels = float32_tensor(values)
    numel = values.size
    idx = data.draw(st.integers(0, numel - 1))
    c = idx // 256
    sib = proof(levels, c)
    want = int(np.asarray(values.flat[idx], dtype=np.float32).view(np.uint32))
    if np.isnan(values.flat[idx]):
        want = 0x7FC00000
    assert m.element_of(chunks[c], idx % 256).call() == want
    assert m.open_float32(root, head, chunks[c], sib, idx).call() == [True, want]
    # every way to lie fails
    assert m.open_float32(root, head, chunks[c], sib, numel).call()[0] is False       # past the end
    assert m.open_float32(root, header(2, values.shape), chunks[c], sib, idx).call()[0] is False  # int32
    assert m.open_float32(root, head[:-1], chunks[c], sib, idx).call()[0] is False   # bad header
    tampered = bytearray(chunks[c])
    tampered[(idx % 256) * 4] ^= 1
    assert m.open_float32(root, head, bytes(tampered), sib, idx).call()[0] is False
    wrong_length = chunks[c] + b"\0\0\0\0" if len(chunks[c]) < 1024 else chunks[c][:-4]
    assert m.open_float32(root, head, wrong_length, sib, idx).call()[0] is False
    assert m.open_float32(root, head, chunks[c], sib + [ZERO], idx).call()[0] is False


def test_commitments_match_repops(m):
    """The contract and the off-chain producer (repops) hash the same bytes the same way."""
    from repops import checkpoint, merkle, trace

    torch.manual_seed(0)
    t = torch.randn(3, 700)
    t[0, 5] = float("nan")
    root = merkle.tensor_root(t)
    flat = 3 * 256 + 17
    p = merkle.prove_element(t, flat)
    ok, bits = m.open_float32(root, p.header, p.chunk_bytes, list(p.siblings), flat).call()
    assert ok and bits == int(t.reshape(-1)[flat].view(torch.int32)) & 0xFFFFFFFF
    p = merkle.prove_element(t, 5)
    assert m.open_float32(root, p.header, p.chunk_bytes, list(p.siblings), 5).call() == [True, 0x7FC00000]
    # trace record and root
    rec = trace.OpRecord(7, "matmul", (b"\x01" * 32, b"\x02" * 32), (b"\x03" * 32,), h(b"attrs"))
    assert m.trace_record(7, b"matmul", list(rec.input_roots), list(rec.output_roots), rec.attrs_digest).call() == rec.hash
    assert m.trace_root(12, b"\x09" * 32).call() == trace.trace_root_from_tree(12, b"\x09" * 32)
    # checkpoint entry and root
    assert m.checkpoint_entry("w.exp_avg".encode(), root).call() == checkpoint.entry_hash("w.exp_avg", root)
    tensors = {"b": torch.zeros(2), "a": t}
    leaves = [checkpoint.entry_hash(n, merkle.tensor_root(tensors[n])) for n in ("a", "b")]
    assert m.checkpoint_root(2, m.inner(*leaves).call()).call() == checkpoint.checkpoint_hash(tensors)


def test_open_float32_gas(deploy):
    values = np.arange(5000, dtype=np.float32)
    head, root, chunks, levels = float32_tensor(values)
    gas = deploy(HARNESS).functions.open_float32_gas(root, head, chunks[3], proof(levels, 3), 3 * 256 + 9).call()
    assert 0 < gas < 60_000, gas
