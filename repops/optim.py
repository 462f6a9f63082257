"""AdamW as a fixed binary32 program (no fused, foreach, addcmul or `alpha=` kernels).

Per parameter p with gradient g, moments m, v and the new step count t (int64, shared):
    bc1 = 1 - pow_int(beta1, t);  bc2 = 1 - pow_int(beta2, t)     (binary32 scalars)
    p = p * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + ((1 - beta2) * g) * g
    denom = sqrt(v) / sqrt(bc2) + eps          (sqrt correctly rounded)
    p = p - (lr / bc1) * (m / denom)
every + - * / rounded to binary32 in exactly this order; pow_int is square-and-multiply over
the bits of t from the highest (repops.reference.pow_int). Each parameter's update is one
trace record "adamw" (inputs p, g, m, v; outputs p, m, v; attrs the hyperparameters and t).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from repops import primitives as P
from repops import trace
from repops.errors import RepOpsError


def pow_int(base: float, n: int) -> float:
    """base**n in binary32 by square-and-multiply over the bits of n, high to low."""
    b = np.float32(base)
    acc = np.float32(1.0)
    for bit in bin(n)[2:]:
        acc = np.float32(acc * acc)
        if bit == "1":
            acc = np.float32(acc * b)
    return float(acc)


def _f32(v: float) -> float:
    return float(np.float32(v))


class AdamW:
    """AdamW over named float32 parameters.

    `params`: an iterable of (name, Parameter) pairs (e.g. module.named_parameters()) or of
    bare Parameters (named "0", "1", ...). `state_tensors()` gives the checkpoint entries
    `<name>.exp_avg`, `<name>.exp_avg_sq` and the int64 scalar `step`.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        named: list[tuple[str, torch.nn.Parameter]] = []
        for i, item in enumerate(params):
            name, p = item if isinstance(item, tuple) else (str(i), item)
            if not isinstance(p, torch.Tensor) or p.dtype != torch.float32:
                raise RepOpsError("bad_param", f"AdamW wants float32 tensors, got {name}")
            named.append((name, p))
        if len({n for n, _ in named}) != len(named):
            raise RepOpsError("bad_param", "parameter names must be unique")
        if not (lr >= 0 and eps > 0 and 0 <= betas[0] < 1 and 0 <= betas[1] < 1 and weight_decay >= 0):
            raise RepOpsError("bad_hyperparameter", f"lr={lr} betas={betas} eps={eps} wd={weight_decay}")
        self.params = named
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.step_count = 0  # completed steps; checkpointed as the int64 scalar `step`
        self.state: dict[str, dict[str, torch.Tensor]] = {
            name: {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)} for name, p in named
        }
        self._names = {id(p): name for name, p in named}

    def _name(self, p: torch.Tensor) -> str:
        try:
            return self._names[id(p)]
        except KeyError:
            raise RepOpsError("bad_param", "tensor is not a parameter of this optimizer") from None

    def moments(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(exp_avg, exp_avg_sq) of parameter p."""
        st = self.state[self._name(p)]
        return st["exp_avg"], st["exp_avg_sq"]

    def set_moments(self, p: torch.Tensor, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor) -> None:
        for t in (exp_avg, exp_avg_sq):
            if t.shape != p.shape or t.dtype != torch.float32:
                raise RepOpsError("bad_state", f"moment of shape {tuple(t.shape)} for a {tuple(p.shape)} parameter")
        self.state[self._name(p)] = {"exp_avg": exp_avg.to(p.device).clone(), "exp_avg_sq": exp_avg_sq.to(p.device).clone()}

    def zero_grad(self) -> None:
        for _, p in self.params:
            p.grad = None

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {"step": torch.tensor(self.step_count, dtype=torch.int64)}
        for name, st in self.state.items():
            out[f"{name}.exp_avg"] = st["exp_avg"]
            out[f"{name}.exp_avg_sq"] = st["exp_avg_sq"]
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        try:
            step = tensors["step"]
            new = {n: {"exp_avg": tensors[f"{n}.exp_avg"], "exp_avg_sq": tensors[f"{n}.exp_avg_sq"]}
                   for n, _ in self.params}
        except KeyError as exc:
            raise RepOpsError("bad_state", f"optimizer state lacks {exc}") from None
        if step.dtype != torch.int64 or step.dim() != 0 or int(step) < 0:
            raise RepOpsError("bad_state", "step must be an int64 scalar")
        for name, p in self.params:
            for k, t in new[name].items():
                if t.shape != p.shape or t.dtype != torch.float32:
                    raise RepOpsError("bad_state", f"{name}.{k} has shape {tuple(t.shape)}")
                self.state[name][k] = t.to(p.device).clone()
        self.step_count = int(step)

    @torch.no_grad()
    def step(self) -> None:
        t = self.step_count + 1
        self.step_count = t
        b1, b2 = _f32(self.betas[0]), _f32(self.betas[1])
        bc1 = _f32(np.float32(1.0) - np.float32(pow_int(b1, t)))
        bc2 = _f32(np.float32(1.0) - np.float32(pow_int(b2, t)))
        decay = _f32(np.float32(1.0) - np.float32(self.lr) * np.float32(self.weight_decay))
        step_size = _f32(np.float32(self.lr) / np.float32(bc1))
        c1 = _f32(np.float32(1.0) - np.float32(b1))
        c2 = _f32(np.float32(1.0) - np.float32(b2))
        attrs = {"lr": float(self.lr), "beta1": float(b1), "beta2": float(b2), "eps": float(self.eps),
                 "weight_decay": float(self.weight_decay), "step": t}
        live = [(name, p) for name, p in self.params if p.grad is not None]
        if not live:
            return
        # One elementwise program over all parameters at once (concatenated): the same
        # per-element operations as a per-parameter loop, with far fewer torch calls.
        device = live[0][1].device
        flat = [torch.cat([t.reshape(-1) for t in ts]) for ts in zip(*[
            (p.detach(), p.grad, self.state[name]["exp_avg"], self.state[name]["exp_avg_sq"]) for name, p in live])]
        p_all, g_all, m_all, v_all = flat
        sqrt_bc2 = P.sqrt(torch.tensor(bc2, dtype=torch.float32, device=device))
        # In place on the fresh concatenations: the same binary32 operations in the same order.
        p_new = p_all.mul_(P.scalar(decay, p_all.dtype, device))
        m_new = m_all.mul_(P.scalar(b1, m_all.dtype, device)).add_(P.mul(g_all, c1))
        v_new = v_all.mul_(P.scalar(b2, v_all.dtype, device)).add_(P.mul(g_all, c2).mul_(g_all))
        denom = P.sqrt(v_new).div_(sqrt_bc2).add_(P.scalar(float(np.float32(self.eps)), v_new.dtype, device))
        p_new = p_new.sub_(torch.div(m_new, denom).mul_(P.scalar(step_size, p_all.dtype, device)))
        offset = 0
        for name, p in live:
            n = p.numel()
            pn, mn, vn = (t[offset : offset + n].view(p.shape) for t in (p_new, m_new, v_new))
            st = self.state[name]
            trace.record("adamw", (p, p.grad, st["exp_avg"], st["exp_avg_sq"]), (pn, mn, vn), attrs)
            p.copy_(pn)
            # own storage per moment: checkpoints (safetensors) refuse tensors sharing memory
            st["exp_avg"], st["exp_avg_sq"] = mn.clone(), vn.clone()
            offset += n
