"""torch.autograd.Functions for every RepOps composite. Forward and backward are programs
from repops.ops.kernels (fixed order), and each reports itself to repops.trace: one record
per forward call (`<op>`) and one per backward call (`<op>.backward`, inputs = the output
gradient(s) then the saved tensors, outputs = the input gradients in argument order, an
input that needs no gradient getting a zero tensor or none).

Gradient accumulation: torch's autograd engine adds the gradients of a tensor consumed by
several ops itself (in an order set by the engine's scheduling, with no trace record), so a
tensor used more than once must go through `Fanout`, whose backward sums the n gradients in
a fixed pairwise tree and records it.
"""

from __future__ import annotations

import torch

from repops import primitives as P
from repops import trace
from repops.ops import kernels as K


# ------------------------------------------------------------------------------ elementwise


class Binary(torch.autograd.Function):
    """add / sub / mul / div / maximum / minimum with broadcasting; gradients un-broadcast by
    tree sums."""

    @staticmethod
    def forward(ctx, op: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        y = getattr(P, op)(a, b)
        trace.record(op, (a, b), (y,))
        ctx.op = op
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        a, b, y = ctx.saved_tensors
        op = ctx.op
        if op == "add":
            ga, gb = g, g
        elif op == "sub":
            ga, gb = g, P.neg(g)
        elif op == "mul":
            ga, gb = P.mul(g, b), P.mul(g, a)
        elif op == "div":  # d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b
            ga = P.div(g, b)
            gb = P.neg(P.mul(ga, y))
        else:  # maximum / minimum: the gradient follows the operand the select took
            took_a = (a > b) if op == "maximum" else (a < b)
            zero = P.scalar(0.0, g.dtype, g.device)
            ga, gb = P.where(took_a, g, zero), P.where(took_a, zero, g)
        ga = K.sum_to_shape(ga, a.shape)
        gb = K.sum_to_shape(gb, b.shape)
        trace.record(op + ".backward", (g, a, b, y), (ga, gb))
        return None, ga, gb


class Unary(torch.autograd.Function):
    """exp, log, tanh, gelu, relu, neg. Backward (binary32):
    exp: g * y;  log: g / x;  tanh: (1 - y * y) * g;  gelu: g * gelu_grad(x);
    relu: where(x > 0, g, +0);  neg: -g."""

    @staticmethod
    def forward(ctx, op: str, x: torch.Tensor) -> torch.Tensor:
        ctx.gelu_q = None
        if op == "gelu":  # keep the binary64 exp of the forward for the backward
            y, ctx.gelu_q = K.gelu_with_q(x)
        elif op == "relu":  # maximum(x, +0): NaN -> NaN, -0 -> +0
            y = K.relu(x)
        else:
            y = P.neg(x) if op == "neg" else getattr(K, op)(x)
        trace.record(op, (x,), (y,))
        ctx.op = op
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, y = ctx.saved_tensors
        op = ctx.op
        if op == "exp":
            gx = P.mul(g, y)
        elif op == "log":
            gx = P.div(g, x)
        elif op == "tanh":
            gx = P.mul(P.sub(1.0, P.mul(y, y)), g)
        elif op == "gelu":
            gx = P.mul(g, K.gelu_grad_from_q(x, ctx.gelu_q))
            ctx.gelu_q = None
        elif op == "relu":
            gx = K.relu_backward(g, x)
        else:
            gx = P.neg(g)
        trace.record(op + ".backward", (g, x, y), (gx,))
        return None, gx


class Sum(torch.autograd.Function):
    """Tree sum over one dim (mean: then / n). Backward: g (/ n) broadcast back."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int, keepdim: bool, mean: bool) -> torch.Tensor:
        n = x.shape[dim]
        y = K.tree_sum(x, dim, keepdim=keepdim)
        if mean:
            y = P.div(y, float(n))
        op = "mean" if mean else "sum"
        trace.record(op, (x,), (y,), {"dim": dim % x.dim(), "keepdim": keepdim})
        ctx.meta = (op, dim % x.dim(), keepdim, n, x.shape)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        op, dim, keepdim, n, shape = ctx.meta
        gk = g if keepdim else g.unsqueeze(dim)
        if op == "mean":
            gk = P.div(gk, float(n))
        gx = gk.expand(shape).contiguous()
        trace.record(op + ".backward", (g,), (gx,), {"dim": dim, "keepdim": keepdim})
        return gx, None, None, None


# ---------------------------------------------------------------------------- linear algebra


class Matmul(torch.autograd.Function):
    """y = matmul(a, b) (batched, broadcasting). Backward: ga = matmul(g, b^T),
    gb = matmul(a^T, g), each un-broadcast over batch dims by tree sums."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        y = K.matmul(a, b)
        trace.record("matmul", (a, b), (y,))
        ctx.save_for_backward(a, b)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        a, b = ctx.saved_tensors
        ga = K.sum_to_shape(K.matmul(g, b.transpose(-1, -2)), a.shape)
        gb = K.sum_to_shape(K.matmul(a.transpose(-1, -2), g), b.shape)
        trace.record("matmul.backward", (g, a, b), (ga, gb))
        return ga, gb


class Linear(torch.autograd.Function):
    """y = matmul(x, W^T) + b over the last dim of x (rows = all leading dims flattened).
    Backward: gx = matmul(g, W); gW = matmul(g_rows^T, x_rows); gb = tree_sum(g_rows, 0)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        y = K.matmul(rows, w.t())
        if b is not None:
            y = P.add(y, b)
        y = y.reshape(*x.shape[:-1], w.shape[0])
        ins = (x, w) if b is None else (x, w, b)
        trace.record("linear", ins, (y,))
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, w = ctx.saved_tensors
        g_rows = g.reshape(-1, g.shape[-1])
        x_rows = x.reshape(-1, x.shape[-1])
        gx = K.matmul(g_rows, w).reshape(x.shape)
        gw = K.matmul(g_rows.t(), x_rows)
        outs = [gx, gw]
        gb = None
        if ctx.has_bias:
            gb = K.tree_sum(g_rows, 0)
            outs.append(gb)
        trace.record("linear.backward", (g, x, w), tuple(outs))
        return gx, gw, gb


class Embedding(torch.autograd.Function):
    """y = weight[idx] (a copy). Backward: gW = matmul(onehot(idx)^T, g_rows), so a row used
    by several tokens sums their gradients by the matmul's exact program (computed as an
    exact binary64 index_add of the grid values: kernels.onehot_matmul)."""

    @staticmethod
    def forward(ctx, idx: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        y = weight.index_select(0, idx.reshape(-1)).reshape(*idx.shape, weight.shape[1])
        trace.record("embedding", (idx, weight), (y,))
        ctx.save_for_backward(idx)
        ctx.num = weight.shape[0]
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (idx,) = ctx.saved_tensors
        gw = K.onehot_matmul(idx.reshape(-1), ctx.num, g.reshape(-1, g.shape[-1]))
        trace.record("embedding.backward", (g, idx), (gw,), {"num": ctx.num})
        return None, gw


# --------------------------------------------------------------------------- normalisation


class Softmax(torch.autograd.Function):
    """Forward: kernels.softmax. Backward: d = tree_sum(g * y); gx = y * (g - d)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int) -> torch.Tensor:
        y = K.softmax(x, dim)
        trace.record("softmax", (x,), (y,), {"dim": dim % x.dim()})
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (y,) = ctx.saved_tensors
        d = K.tree_sum(P.mul(g, y), ctx.dim, keepdim=True)
        gx = P.mul(y, P.sub(g, d))
        trace.record("softmax.backward", (g, y), (gx,), {"dim": ctx.dim % y.dim()})
        return gx, None


class LogSoftmax(torch.autograd.Function):
    """Forward: kernels.log_softmax. Backward: gx = g - p * tree_sum(g), p = e / s saved."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int) -> torch.Tensor:
        y, p = K.log_softmax(x, dim)
        trace.record("log_softmax", (x,), (y,), {"dim": dim % x.dim()})
        ctx.dim = dim
        ctx.save_for_backward(p)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (p,) = ctx.saved_tensors
        gx = P.sub(g, P.mul(p, K.tree_sum(g, ctx.dim, keepdim=True)))
        trace.record("log_softmax.backward", (g, p), (gx,), {"dim": ctx.dim % p.dim()})
        return gx, None


class CrossEntropy(torch.autograd.Function):
    """loss = tree_sum(-log_softmax(x)[i, t_i], rows) / N for logits (N, C), int64 targets.
    Backward: gx = (p - onehot(t)) * (g / N)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        ls, p = K.log_softmax(logits, -1)
        nll = P.neg(ls.gather(1, targets.reshape(-1, 1)).reshape(-1))
        n = logits.shape[0]
        loss = P.div(K.tree_sum(nll, 0), float(n))
        trace.record("cross_entropy", (logits, targets), (loss,))
        ctx.save_for_backward(p, targets)
        return loss

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        p, targets = ctx.saved_tensors
        onehot = torch.zeros_like(p).scatter(1, targets.reshape(-1, 1), 1.0)
        gx = P.mul(P.sub(p, onehot), P.div(g, float(p.shape[0])))
        trace.record("cross_entropy.backward", (g, p, targets), (gx,))
        return gx, None


class LayerNorm(torch.autograd.Function):
    """kernels.layer_norm / layer_norm_backward over the last dim."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
        y, xhat, rstd = K.layer_norm(x, w, b, eps)
        trace.record("layer_norm", (x, w, b), (y,), {"eps": float(eps)})
        ctx.save_for_backward(xhat, rstd, w)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        xhat, rstd, w = ctx.saved_tensors
        gx, gw, gb = K.layer_norm_backward(g, xhat, rstd, w)
        trace.record("layer_norm.backward", (g, xhat, rstd, w), (gx, gw, gb))
        return gx, gw, gb, None


# ------------------------------------------------------------------------ data movement


class Fanout(torch.autograd.Function):
    """n copies of x for n consumers; backward sums their gradients in a fixed pairwise tree
    (tree_sum over the stacked gradients, in argument order)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, n: int):
        ctx.n = n
        return tuple(x.clone() for _ in range(n))

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        gx = K.tree_sum(torch.stack(grads, 0), 0)
        trace.record("fanout.backward", tuple(grads), (gx,), {"n": ctx.n})
        return gx, None


class Gather(torch.autograd.Function):
    """y = x.gather(dim, idx) (a copy). Backward: for k = 0..K-1 in order (K = idx.shape[dim]),
    acc = acc + scatter(g[..., k]) starting from +0, so repeated indices add in index order."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int, idx: torch.Tensor) -> torch.Tensor:
        y = x.gather(dim, idx)
        trace.record("gather", (x, idx), (y,), {"dim": dim % x.dim()})
        ctx.dim = dim % x.dim()
        ctx.shape = x.shape
        ctx.save_for_backward(idx)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (idx,) = ctx.saved_tensors
        dim = ctx.dim
        acc = torch.zeros(ctx.shape, dtype=g.dtype, device=g.device)
        for k in range(idx.shape[dim]):
            part = torch.zeros_like(acc).scatter(dim, idx.narrow(dim, k, 1), g.narrow(dim, k, 1))
            acc = P.add(acc, part)
        trace.record("gather.backward", (g, idx), (acc,), {"dim": dim})
        return acc, None, None


class MaskedFill(torch.autograd.Function):
    """y = where(mask, value, x). Backward: where(mask, +0, g)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mask: torch.Tensor, value: float) -> torch.Tensor:
        y = P.where(mask, P.scalar(value, x.dtype, x.device), x)
        trace.record("masked_fill", (x, mask), (y,), {"value": float(value)})
        ctx.save_for_backward(mask)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (mask,) = ctx.saved_tensors
        gx = P.where(mask, P.scalar(0.0, g.dtype, g.device), g)
        trace.record("masked_fill.backward", (g, mask), (gx,))
        return gx, None, None


class Where(torch.autograd.Function):
    """y = where(cond, a, b) (a select, broadcasting). Backward: ga = where(cond, g, +0),
    gb = where(cond, +0, g), each un-broadcast by tree sums."""

    @staticmethod
    def forward(ctx, cond: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        y = P.where(cond, a, b)
        trace.record("where", (cond, a, b), (y,))
        ctx.save_for_backward(cond)
        ctx.shapes = (a.shape, b.shape)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (cond,) = ctx.saved_tensors
        zero = P.scalar(0.0, g.dtype, g.device)
        ga = K.sum_to_shape(P.where(cond, g, zero), ctx.shapes[0])
        gb = K.sum_to_shape(P.where(cond, zero, g), ctx.shapes[1])
        trace.record("where.backward", (g, cond), (ga, gb))
        return None, ga, gb
