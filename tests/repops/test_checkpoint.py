"""repops.checkpoint: hash per docs/commitments.md, content-addressed files, corruption."""

from __future__ import annotations

import pytest
import torch

from repops import checkpoint, merkle
from repops.errors import RepOpsError
from spec_hashes import spec_checkpoint_hash


def _state():
    g = torch.Generator().manual_seed(1)
    return {
        "wte.weight": torch.randn(10, 4, generator=g),
        "wte.weight.exp_avg": torch.randn(10, 4, generator=g),
        "wte.weight.exp_avg_sq": torch.rand(10, 4, generator=g),
        "blocks.0.ln.bias": torch.randn(4, generator=g),
        "é.unicode": torch.randn(2, generator=g),
        "step": torch.tensor(7, dtype=torch.int64),
    }


def test_hash_matches_the_spec_and_ignores_insertion_order():
    state = _state()
    assert checkpoint.checkpoint_hash(state) == spec_checkpoint_hash(state)
    assert checkpoint.checkpoint_hash(dict(reversed(list(state.items())))) == spec_checkpoint_hash(state)
    changed = dict(state, step=torch.tensor(8))
    assert checkpoint.checkpoint_hash(changed) != checkpoint.checkpoint_hash(state)


def test_entry_proofs():
    state = _state()
    h = checkpoint.checkpoint_hash(state)
    for name in state:
        index, count, siblings = checkpoint.prove_entry(state, name)
        root = merkle.tensor_root(state[name])
        assert checkpoint.verify_entry(h, name, root, index, count, siblings)
        assert not checkpoint.verify_entry(h, name + "x", root, index, count, siblings)
        assert not checkpoint.verify_entry(h, name, merkle.tensor_root(state[name] + 1), index, count, siblings)


def test_save_load_round_trip_is_content_addressed(tmp_path):
    state = _state()
    digest, path = checkpoint.save(state, tmp_path)
    assert path.name == digest.hex() + ".safetensors"
    assert checkpoint.save(state, tmp_path) == (digest, path)
    loaded = checkpoint.load(path)
    assert set(loaded) == set(state)
    assert all(loaded[n].equal(state[n]) and loaded[n].dtype == state[n].dtype for n in state)
    assert checkpoint.load(checkpoint.path_for(tmp_path, digest), expected=digest)["step"].item() == 7


def test_corruption_and_substitution_are_errors(tmp_path):
    digest, path = checkpoint.save(_state(), tmp_path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x10  # flip a bit in the tensor payload
    path.write_bytes(bytes(data))
    with pytest.raises(RepOpsError, match="checkpoint_hash_mismatch"):
        checkpoint.load(path)
    path.write_bytes(b"\x00" * 3)
    with pytest.raises(RepOpsError, match="checkpoint_corrupt"):
        checkpoint.load(path)
    with pytest.raises(RepOpsError, match="checkpoint_missing"):
        checkpoint.load(tmp_path / ("00" * 32 + ".safetensors"))
    other, other_path = checkpoint.save({"a": torch.ones(1)}, tmp_path)
    with pytest.raises(RepOpsError, match="checkpoint_hash_mismatch"):
        checkpoint.load(other_path, expected=digest)
    renamed = tmp_path / "not-a-hash.safetensors"
    renamed.write_bytes(other_path.read_bytes())
    with pytest.raises(RepOpsError, match="checkpoint_unnamed"):
        checkpoint.load(renamed)
