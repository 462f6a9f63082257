"""The functional RepOps API: differentiable, traced, bit-reproducible float32 ops.

All tensors are float32 (indices int64). Python numbers are allowed as the second operand of
add/sub/mul/div (they are rounded to float32 first). A tensor consumed by more than one op
must be split with `fanout(x, n)` so its gradients are summed in a fixed order.
"""

from __future__ import annotations

import torch

from repops import primitives as P
from repops.errors import RepOpsError
from repops.ops import autograd as A

F32 = torch.float32


def _check(x: torch.Tensor, name: str = "input") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise RepOpsError("bad_input", f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype != F32:
        raise RepOpsError("bad_dtype", f"{name} must be float32, got {x.dtype}")
    return x


def _operand(x: torch.Tensor, other: torch.Tensor | float) -> torch.Tensor:
    if isinstance(other, torch.Tensor):
        return _check(other, "operand")
    return P.scalar(float(other), F32, x.device)


def add(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    return A.Binary.apply("add", _check(a), _operand(a, b))


def sub(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    return A.Binary.apply("sub", _check(a), _operand(a, b))


def mul(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    return A.Binary.apply("mul", _check(a), _operand(a, b))


def div(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    return A.Binary.apply("div", _check(a), _operand(a, b))


def maximum(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """NaN if either is NaN, else a if a > b else b; the gradient follows the chosen one."""
    return A.Binary.apply("maximum", _check(a), _operand(a, b))


def minimum(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    return A.Binary.apply("minimum", _check(a), _operand(a, b))


def neg(x: torch.Tensor) -> torch.Tensor:
    return A.Unary.apply("neg", _check(x))


def exp(x: torch.Tensor) -> torch.Tensor:
    return A.Unary.apply("exp", _check(x))


def log(x: torch.Tensor) -> torch.Tensor:
    return A.Unary.apply("log", _check(x))


def tanh(x: torch.Tensor) -> torch.Tensor:
    return A.Unary.apply("tanh", _check(x))


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation (the same function as torch's approximate='tanh')."""
    return A.Unary.apply("gelu", _check(x))


def relu(x: torch.Tensor) -> torch.Tensor:
    """maximum(x, +0): exact (a select), NaN -> NaN, -0 -> +0. The cheap activation."""
    return A.Unary.apply("relu", _check(x))


def sum(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:  # noqa: A001
    """Fixed pairwise tree sum over one dim (an empty sum is +0)."""
    _check(x)
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise RepOpsError("bad_shape", f"sum over dim {dim} of a {tuple(x.shape)} tensor")
    return A.Sum.apply(x, dim, keepdim, False)


def mean(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    return A.Sum.apply(_nonempty(_check(x), dim, "mean"), dim, keepdim, True)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., M, K) @ (..., K, N), batch dims broadcast."""
    _check(a)
    _check(b)
    if a.dim() < 2 or b.dim() < 2 or a.shape[-1] != b.shape[-2]:
        raise RepOpsError("bad_shape", f"matmul of {tuple(a.shape)} and {tuple(b.shape)}")
    return A.Matmul.apply(a, b)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight^T + bias over the last dim of x (weight: (out, in))."""
    _check(x)
    _check(weight, "weight")
    if weight.dim() != 2 or x.shape[-1] != weight.shape[1]:
        raise RepOpsError("bad_shape", f"linear of {tuple(x.shape)} with weight {tuple(weight.shape)}")
    return A.Linear.apply(x, weight, bias)


def embedding(idx: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if idx.dtype != torch.int64:
        raise RepOpsError("bad_dtype", f"embedding indices must be int64, got {idx.dtype}")
    _check(weight, "weight")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= weight.shape[0]):
        raise RepOpsError("bad_index", f"embedding index outside [0, {weight.shape[0]})")
    return A.Embedding.apply(idx, weight)


def _nonempty(x: torch.Tensor, dim: int, op: str) -> torch.Tensor:
    if x.dim() == 0 or not -x.dim() <= dim < x.dim() or x.shape[dim] == 0:
        raise RepOpsError("bad_shape", f"{op} over dim {dim} of a {tuple(x.shape)} tensor")
    return x


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return A.Softmax.apply(_nonempty(_check(x), dim, "softmax"), dim)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return A.LogSoftmax.apply(_nonempty(_check(x), dim, "log_softmax"), dim)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of (N, C) logits against (N,) int64 class indices."""
    _check(logits, "logits")
    if logits.dim() != 2 or targets.shape != (logits.shape[0],) or targets.dtype != torch.int64:
        raise RepOpsError("bad_shape", "cross_entropy wants (N, C) float32 logits and (N,) int64 targets")
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= logits.shape[1]):
        raise RepOpsError("bad_index", f"target outside [0, {logits.shape[1]})")
    return A.CrossEntropy.apply(logits, targets)


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    _check(x)
    if x.dim() == 0 or x.shape[-1] == 0 or weight.shape != (x.shape[-1],) or bias.shape != (x.shape[-1],):
        raise RepOpsError("bad_shape", "layer_norm weight and bias must match the last dim")
    return A.LayerNorm.apply(x, weight, bias, eps)


def gather(x: torch.Tensor, dim: int, idx: torch.Tensor) -> torch.Tensor:
    """x.gather(dim, idx); e.g. log-probabilities of sampled tokens."""
    if idx.dtype != torch.int64:
        raise RepOpsError("bad_dtype", "gather indices must be int64")
    return A.Gather.apply(_check(x), dim, idx)


def masked_fill(x: torch.Tensor, mask: torch.Tensor, value: float) -> torch.Tensor:
    """where(mask, value, x), e.g. a causal mask with value=-inf."""
    if mask.dtype != torch.bool:
        raise RepOpsError("bad_dtype", "masked_fill wants a bool mask")
    return A.MaskedFill.apply(_check(x), mask, value)


def where(cond: torch.Tensor, a: torch.Tensor | float, b: torch.Tensor | float) -> torch.Tensor:
    """Select a where cond else b (broadcasting); a or b may be a Python number."""
    if cond.dtype != torch.bool:
        raise RepOpsError("bad_dtype", "where wants a bool condition")
    like = a if isinstance(a, torch.Tensor) else b
    if not isinstance(like, torch.Tensor):
        raise RepOpsError("bad_input", "where needs at least one tensor operand")
    return A.Where.apply(cond, _operand(like, a), _operand(like, b))


def fanout(x: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    """n copies of x whose gradients are summed in a fixed pairwise tree."""
    if n < 1:
        raise RepOpsError("bad_argument", "fanout needs n >= 1")
    return A.Fanout.apply(_check(x), n)


__all__ = [
    "add", "sub", "mul", "div", "maximum", "minimum", "neg", "exp", "log", "tanh", "gelu", "relu", "sum", "mean", "matmul",
    "linear", "embedding", "softmax", "log_softmax", "cross_entropy", "layer_norm", "gather",
    "masked_fill", "where", "fanout",
]
