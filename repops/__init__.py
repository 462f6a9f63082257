"""RepOps: reproducible float32 operators with fixed-order autograd, a tiny policy
model, a counter-based RNG and Merkle execution traces. Imports only torch/numpy.

Operators (docs/repops.md gives every op's scalar program):
    repops.primitives   the closed primitive set (binary32/binary64 + - * / sqrt, compare,
                        select, max/min, conversions, integer bit ops)
    repops.reference    their numpy reference, and of every composite: the specification
    repops.functional   differentiable traced ops: add sub mul div neg exp log tanh gelu sum
                        mean matmul linear embedding softmax log_softmax cross_entropy
                        layer_norm gather masked_fill fanout
    repops.nn           Linear, Embedding, LayerNorm, GELU modules
    repops.optim        AdamW (state_tensors(): `<param>.exp_avg`, `<param>.exp_avg_sq`, `step`)
"""

from repops import functional, nn, optim, primitives
from repops.errors import RepOpsError
from repops.nn import GELU, Embedding, LayerNorm, Linear
from repops.optim import AdamW

__all__ = [
    "AdamW",
    "Embedding",
    "GELU",
    "LayerNorm",
    "Linear",
    "RepOpsError",
    "functional",
    "nn",
    "optim",
    "primitives",
]
