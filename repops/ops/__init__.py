"""RepOps composites: `kernels` (pure tensor programs) and `autograd` (Functions that trace)."""
