"""RepOps: reproducible float32 operators with fixed-order autograd, a tiny policy
model, a counter-based RNG and Merkle execution traces. Imports only torch/numpy."""

from repops.errors import RepOpsError

__all__ = ["RepOpsError"]
