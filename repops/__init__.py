"""RepOps: reproducible float32 operators with fixed-order autograd, a tiny policy
model, a counter-based RNG and Merkle execution traces. Imports only torch/numpy.

Operators (docs/repops.md gives every op's scalar program):
    repops.primitives   the closed primitive set (binary32/binary64 + - * / sqrt, compare,
                        select, max/min, conversions, integer bit ops)
    repops.reference    their numpy reference, and of every composite: the specification
    repops.functional   differentiable traced ops: add sub mul div maximum minimum neg exp
                        log tanh gelu relu sum mean matmul linear embedding softmax
                        log_softmax cross_entropy layer_norm gather masked_fill where fanout
                        (a tensor used by several ops goes through fanout: fixed-order grads)
    repops.nn           Linear, Embedding, LayerNorm, GELU, ReLU modules
    repops.optim        AdamW (state_tensors(): `<param>.exp_avg`, `<param>.exp_avg_sq`, `step`)

Commitments, model and steps (docs/commitments.md, docs/repops.md):
    repops.merkle       tensor roots, element proofs, generic SHA-256 trees
    repops.trace        record() for ops; tracing() -> Tracer (trace root, proofs, openings)
    repops.checkpoint   checkpoint hashes, content-addressed safetensors files
    repops.rng          Philox4x32-10 counter RNG: uniform, categorical, derive_key
    repops.model        the tiny character-level transformer policy
    repops.step         train_step (traced forward/backward/AdamW) and replay
"""

from repops import checkpoint, functional, merkle, nn, optim, primitives, rng, trace
from repops.errors import RepOpsError
from repops.nn import GELU, Embedding, LayerNorm, Linear, ReLU
from repops.model import Policy, PolicyConfig
from repops.optim import AdamW
from repops.step import Batch, Replay, StepConfig, StepResult, replay, train_step
from repops.trace import Tracer, tracing

__all__ = [
    "AdamW",
    "Batch",
    "Policy",
    "PolicyConfig",
    "Replay",
    "StepConfig",
    "StepResult",
    "Tracer",
    "checkpoint",
    "merkle",
    "replay",
    "rng",
    "trace",
    "tracing",
    "train_step",
    "Embedding",
    "GELU",
    "LayerNorm",
    "Linear",
    "ReLU",
    "RepOpsError",
    "functional",
    "nn",
    "optim",
    "primitives",
]
