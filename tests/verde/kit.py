"""Tiny real training steps for the Verde tests (importable as `kit`: pytest puts this folder on sys.path)."""

from __future__ import annotations

import torch

from repops.model import Policy, PolicyConfig
from repops.step import Batch, StepConfig, make_optimizer, state_tensors

TINY = PolicyConfig(context=8, d_model=8, n_layer=1, n_head=2, d_mlp=16)
HPARAMS = StepConfig(model=TINY, lr=1e-2, weight_decay=0.01)


def tiny_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = Policy(TINY, seed=seed) if "seed" in Policy.__init__.__code__.co_varnames else Policy(TINY)
    return {k: v.clone() for k, v in state_tensors(model, make_optimizer(model, HPARAMS)).items()}


def tiny_batch(rows: int = 2, t: int = 6, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, TINY.vocab_size, (rows, t), generator=g)
    targets = torch.randint(1, TINY.vocab_size, (rows, t), generator=g)
    mask = torch.ones(rows, t, dtype=torch.float32)
    mask[:, :2] = 0
    weights = torch.tensor([1.0, -0.5][:rows] + [1.0] * max(0, rows - 2), dtype=torch.float32)
    return Batch(tokens, targets, mask, weights)
