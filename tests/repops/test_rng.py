"""repops.rng: Philox4x32-10 known answers, exact uniforms, deterministic categorical."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from repops import rng
from repops.errors import RepOpsError

# Random123 kat_vectors: counter (4 words), key (2 words) -> output (4 words).
KAT = [
    ([0, 0, 0, 0], (0, 0), [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, (0xFFFFFFFF, 0xFFFFFFFF), [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], (0xA4093822, 0x299F31D0), [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]

M32 = 0xFFFFFFFF


def scalar_philox(ctr, key):
    """Plain-Python Philox4x32-10 with arbitrary-precision ints (a second implementation)."""
    c, (k0, k1) = list(ctr), key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & M32, (p0 >> 32) ^ c[3] ^ k1, p0 & M32]
    return c


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_philox_known_answers(ctr, key, expected):
    assert rng.philox4x32(torch.tensor(ctr), key).tolist() == expected
    assert scalar_philox(ctr, key) == expected


@settings(max_examples=50)
@given(st.lists(st.integers(0, M32), min_size=4, max_size=4), st.integers(0, M32), st.integers(0, M32))
def test_vectorised_philox_equals_the_scalar_one(ctr, k0, k1):
    assert rng.philox4x32(torch.tensor(ctr), (k0, k1)).tolist() == scalar_philox(ctr, (k0, k1))


@settings(max_examples=30)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 50))
def test_stream_layout_and_exact_uniforms(key, counter, n):
    words = rng.bits(key, counter, n).tolist()
    expected = []
    for j in range(-(-n // 4)):
        expected += scalar_philox([j & M32, j >> 32, counter & M32, counter >> 32], (key & M32, key >> 32))
    assert words == expected[:n]
    u = rng.uniform(key, counter, (n,))
    assert u.dtype == torch.float32
    assert u.tolist() == [(w >> 8) / 2**24 for w in words]
    assert bool(((u >= 0) & (u < 1)).all())


def test_uniform_is_roughly_uniform_and_streams_differ():
    u = rng.uniform(1, 0, (40000,))
    assert abs(u.mean().item() - 0.5) < 0.01
    hist = torch.histc(u, bins=10, min=0, max=1)
    assert bool((hist > 3600).all())
    assert not rng.uniform(1, 1, (100,)).equal(rng.uniform(1, 0, (100,)))
    assert not rng.uniform(2, 0, (100,)).equal(rng.uniform(1, 0, (100,)))


def _reference_categorical(probs, key, counter):
    rows = probs.reshape(-1, probs.shape[-1])
    u = rng.uniform(key, counter, (rows.shape[0],))
    out = []
    for r in range(rows.shape[0]):
        acc, cdf = torch.tensor(0.0), []
        for k in range(rows.shape[1]):
            acc = acc + rows[r, k] if k else rows[r, 0].clone()
            cdf.append(acc)
        t = u[r] * cdf[-1]
        pick = next((k for k, c in enumerate(cdf) if c > t), None)
        if pick is None:
            pick = max(k for k in range(rows.shape[1]) if rows[r, k] > 0)
        out.append(pick)
    return out


@settings(max_examples=40)
@given(st.integers(1, 5), st.integers(1, 12), st.integers(0, 2**64 - 1), st.integers(0, 1000), st.data())
def test_categorical_follows_its_definition_and_never_picks_zero_mass(rows, vocab, key, counter, data):
    weights = data.draw(st.lists(st.sampled_from([0.0, 1e-30, 0.1, 0.5, 1.0, 3e30]), min_size=rows * vocab, max_size=rows * vocab))
    probs = torch.tensor(weights, dtype=torch.float32).reshape(rows, vocab)
    probs[:, data.draw(st.integers(0, vocab - 1))] += 1.0  # every row has positive mass
    picks = rng.categorical(probs, key, counter)
    assert picks.tolist() == _reference_categorical(probs, key, counter)
    assert bool((probs.gather(1, picks[:, None]) > 0).all())


def test_categorical_frequencies_and_errors():
    probs = torch.tensor([0.1, 0.2, 0.7]).expand(30000, 3).contiguous()
    counts = torch.bincount(rng.categorical(probs, 9, 0), minlength=3).float() / 30000
    assert torch.allclose(counts, torch.tensor([0.1, 0.2, 0.7]), atol=0.01)
    for bad in (torch.tensor([[0.0, 0.0]]), torch.tensor([[-1.0, 2.0]]), torch.tensor([[float("nan"), 1.0]]), torch.ones(2, dtype=torch.float64)):
        with pytest.raises(RepOpsError):
            rng.categorical(bad, 1, 0)
    with pytest.raises(RepOpsError):
        rng.uniform(-1, 0, (2,))


@pytest.mark.slow
def test_same_bits_with_another_thread_count_in_a_fresh_process():
    code = ("import torch; torch.set_num_threads(2); from repops import rng; "
            "print(rng.uniform(7, 3, (5000,)).sum().item(), rng.bits(7, 3, 5000).sum().item(), "
            "rng.categorical(torch.rand(64, 97, generator=torch.Generator().manual_seed(0)), 5, 6).tolist())")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = (f"{rng.uniform(7, 3, (5000,)).sum().item()} {rng.bits(7, 3, 5000).sum().item()} "
                f"{rng.categorical(torch.rand(64, 97, generator=torch.Generator().manual_seed(0)), 5, 6).tolist()}")
    finally:
        torch.set_num_threads(before)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.strip() == here


def test_derive_key_separates_parts():
    assert rng.derive_key("ab", "c") != rng.derive_key("a", "bc")
    assert rng.derive_key(1) != rng.derive_key("1")
    assert 0 <= rng.derive_key(b"x", 5) < 2**64
