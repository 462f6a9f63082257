"""The tiny policy (repops.model.Policy) rebuilt from stock torch.nn: same architecture, same
parameter names and shapes, so a RepOps checkpoint loads into it. It is the baseline for
benchmarks ("how much slower is RepOps than plain torch?") and nothing else: its results are
not reproducible across devices or thread counts.
"""

from __future__ import annotations

import math

import torch
import torch.nn as tnn
import torch.nn.functional as TF

from repops.model import PolicyConfig


class TwinAttention(tnn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = tnn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.c_proj = tnn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        hd = c // self.n_head
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, hd).transpose(1, 2) for z in (q, k, v))
        att = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)
        future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(future, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        return self.c_proj(y)


class TwinBlock(tnn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.ln1 = tnn.LayerNorm(cfg.d_model)
        self.attn = TwinAttention(cfg)
        self.ln2 = tnn.LayerNorm(cfg.d_model)
        self.mlp = tnn.Sequential()
        self.mlp.add_module("c_fc", tnn.Linear(cfg.d_model, cfg.d_mlp))
        act = tnn.ReLU() if cfg.activation == "relu" else tnn.GELU(approximate="tanh")
        self.mlp.add_module(cfg.activation, act)
        self.mlp.add_module("c_proj", tnn.Linear(cfg.d_mlp, cfg.d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TorchTwin(tnn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.config = cfg
        self.wte = tnn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = tnn.Embedding(cfg.context, cfg.d_model)
        self.blocks = tnn.ModuleList(TwinBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_f = tnn.LayerNorm(cfg.d_model)
        self.lm_head = tnn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(t, device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def loss(self, tokens, targets, weights, mask) -> torch.Tensor:
        """The same objective as repops.step.policy_loss."""
        logp = TF.log_softmax(self(tokens), dim=-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0]
        coef = weights[:, None] * mask / (mask.sum(dim=1, keepdim=True).clamp(min=1) * tokens.shape[0])
        return -(coef * logp).sum()


def twin_of(policy) -> TorchTwin:
    """A TorchTwin holding a copy of a repops Policy's parameters."""
    twin = TorchTwin(policy.config)
    missing = twin.load_state_dict({n: p.detach().clone() for n, p in policy.named_parameters()}, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    return twin
