"""RepOps modules: torch.nn.Modules holding float32 Parameters, whose forward calls
repops.functional (so torch autograd drives the fixed-order RepOps backward).

Initial values come from a CPU torch.Generator (torch's CPU generator and its uniform/normal
sampling are the same on every machine); the checkpoint, not the seed, is what peers share.
"""

from __future__ import annotations

import math

import torch

from repops import functional as F


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.rand(shape, generator=generator, dtype=torch.float32) * 2 - 1) * bound


class Linear(torch.nn.Module):
    """y = x W^T + b, W: (out_features, in_features), U(-1/sqrt(in), 1/sqrt(in)) init."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = torch.nn.Parameter(_uniform((out_features, in_features), bound, generator))
        self.bias = torch.nn.Parameter(_uniform((out_features,), bound, generator)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class Embedding(torch.nn.Module):
    """Rows of a (num_embeddings, dim) table, N(0, 1) init."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(
            torch.randn((num_embeddings, embedding_dim), generator=generator, dtype=torch.float32))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight)


class LayerNorm(torch.nn.Module):
    """LayerNorm over the last dim, weight 1, bias 0."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim, dtype=torch.float32))
        self.bias = torch.nn.Parameter(torch.zeros(dim, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight, self.bias, self.eps)


class GELU(torch.nn.Module):
    """GELU, tanh approximation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


class ReLU(torch.nn.Module):
    """max(x, +0): exact, far cheaper than GELU's binary64 program."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)


__all__ = ["Linear", "Embedding", "LayerNorm", "GELU", "ReLU"]
