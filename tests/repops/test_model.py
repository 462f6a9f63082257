"""The tiny policy: shapes, agreement with a plain-torch twin, per-row batch invariance,
seeded init, persistence, deterministic generation."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
import torch

from bench.torch_twin import twin_of
from repops import checkpoint
from repops.errors import RepOpsError
from repops.model import CHARSET, EOS, Policy, PolicyConfig, decode, encode



@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second intra-op thread only adds spin-waiting on a busy CI machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SMALL = PolicyConfig(context=16, d_model=32, n_layer=2, n_head=4, d_mlp=64)


def _tokens(rows: int, t: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, SMALL.vocab_size, (rows, t), generator=g)


def _params_hash(model: Policy) -> bytes:
    return checkpoint.checkpoint_hash(dict(model.named_parameters()))


def test_vocabulary_round_trip():
    assert len(CHARSET) == PolicyConfig().vocab_size == 97
    text = "12+30=42\nabc XYZ~"
    assert decode(encode(text)) == text
    assert decode(encode("ab") + [EOS] + encode("cd")) == "ab"
    with pytest.raises(RepOpsError, match="bad_text"):
        encode("é")


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_shapes_and_agreement_with_the_plain_torch_twin(activation):
    model = Policy(replace(SMALL, activation=activation), seed=3)
    tokens = _tokens(3, 16)
    logits = model(tokens)
    assert logits.shape == (3, 16, SMALL.vocab_size) and logits.dtype == torch.float32
    twin = twin_of(model)
    with torch.no_grad():
        expected = twin(tokens)
    # Same architecture, different rounding: close, not equal.
    assert torch.allclose(logits, expected, atol=2e-4, rtol=1e-3)
    logp = model.log_probs(tokens[:, :-1], tokens[:, 1:])
    ref = torch.log_softmax(expected[:, :-1], -1).gather(-1, tokens[:, 1:, None])[..., 0]
    assert logp.shape == (3, 15) and torch.allclose(logp, ref, atol=2e-4)


def test_rows_give_the_same_bits_whatever_batch_they_are_in():
    model = Policy(SMALL, seed=1)
    tokens = _tokens(8, 12, seed=5)
    full = model.log_probs(tokens[:, :-1], tokens[:, 1:])
    alone = torch.cat([model.log_probs(tokens[i : i + 1, :-1], tokens[i : i + 1, 1:]) for i in range(8)])
    halves = torch.cat([model.log_probs(tokens[i : i + 3, :-1], tokens[i : i + 3, 1:]) for i in (0, 3, 6)])
    reordered = model.log_probs(tokens.flip(0)[:, :-1], tokens.flip(0)[:, 1:]).flip(0)
    for other in (alone, halves, reordered):
        assert torch.equal(full.view(torch.int32), other.view(torch.int32))


def test_seeded_init_is_reproducible_and_layernorms_start_at_identity():
    a, b, c = Policy(SMALL, seed=7), Policy(SMALL, seed=7), Policy(SMALL, seed=8)
    assert _params_hash(a) == _params_hash(b) != _params_hash(c)
    params = dict(a.named_parameters())
    assert bool((params["blocks.0.ln1.weight"] == 1).all()) and bool((params["ln_f.bias"] == 0).all())
    assert bool((params["blocks.1.mlp.c_fc.bias"] == 0).all())
    w = params["blocks.0.attn.c_attn.weight"]
    assert w.shape == (3 * SMALL.d_model, SMALL.d_model) and 0 < float(w.detach().abs().max()) <= SMALL.d_model**-0.5
    assert "lm_head.bias" not in params


def test_save_and_load(tmp_path):
    model = Policy(SMALL, seed=2)
    path = tmp_path / "policy.safetensors"
    model.save(path)
    loaded = Policy.load(path)
    assert loaded.config == SMALL and _params_hash(loaded) == _params_hash(model)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RepOpsError, match="model_corrupt"):
        Policy.load(path)
    with pytest.raises(RepOpsError, match="model_missing"):
        Policy.load(tmp_path / "nope.safetensors")
    with pytest.raises(RepOpsError, match="model_mismatch"):
        model.load_tensors({"wte.weight": torch.zeros(1)})


def test_generation_is_a_function_of_the_seed():
    model = Policy(SMALL, seed=4)
    prompt = torch.tensor([encode("12+3="), encode("7*8=9")])
    a = model.generate(prompt, 14, rng_key=11, temperature=1.0)
    assert a.shape == (2, 19) and torch.equal(a[:, :5], prompt)
    assert bool(((a >= 0) & (a < SMALL.vocab_size)).all())
    assert torch.equal(a, model.generate(prompt, 14, rng_key=11, temperature=1.0))
    assert not torch.equal(a, model.generate(prompt, 14, rng_key=12, temperature=1.0))
    greedy = model.generate(prompt, 3, rng_key=0, temperature=0)
    assert torch.equal(greedy[:, 5], model(prompt)[:, -1].argmax(-1))
    with pytest.raises(RepOpsError):
        model.generate(prompt.to(torch.int32), 1, rng_key=0)
    with pytest.raises(RepOpsError):
        model.generate(prompt, 1, rng_key=0, temperature=float("nan"))
    with pytest.raises(RepOpsError, match="bad_input"):
        model(_tokens(1, SMALL.context + 1))


def test_activation_default_and_legacy_configs(tmp_path):
    assert PolicyConfig().activation == "relu"
    relu, gelu = Policy(SMALL, seed=2), Policy(replace(SMALL, activation="gelu"), seed=2)
    tokens = _tokens(2, 8)
    assert _params_hash(relu) == _params_hash(gelu)  # same parameters, different function
    assert not torch.equal(relu(tokens), gelu(tokens))
    # a model saved before `activation` existed was a GELU model
    legacy = {k: v for k, v in asdict(SMALL).items() if k != "activation"}
    assert PolicyConfig.from_dict(legacy).activation == "gelu"
    path = tmp_path / "legacy.safetensors"
    gelu.save(path)
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(path)), str(path), metadata={"policy_config": json.dumps(legacy)})
    loaded = Policy.load(path)
    assert loaded.config.activation == "gelu" and torch.equal(loaded(tokens), gelu(tokens))


def test_bad_configs():
    with pytest.raises(RepOpsError, match="bad_config"):
        PolicyConfig(activation="tanh")
    with pytest.raises(RepOpsError):
        PolicyConfig(d_model=30, n_head=4)
    with pytest.raises(RepOpsError):
        PolicyConfig(n_layer=0)
