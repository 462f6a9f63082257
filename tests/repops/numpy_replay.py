"""Re-execute one traced RepOps op from its recorded inputs with the numpy reference
(repops.reference, the specification), following each op's documented program (forward and
backward, repops/ops/autograd.py docstrings). Used by the determinism suite: when every op of
a step matches here bit for bit, the whole step has been re-run on the numpy backend."""

from __future__ import annotations

import numpy as np

from repops import reference as R

F32 = np.float32


def sum_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Leading extra dims flattened and tree-summed first, then each size-1 dim left to right."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = R.tree_sum(g.reshape(-1, *g.shape[extra:]), 0)
    for d, size in enumerate(shape):
        if size == 1 and g.shape[d] != 1:
            g = R.tree_sum(g, d, keepdims=True)
    return g


def _swap(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(x, -1, -2))


def _binary_backward(op, g, a, b, y):
    if op == "add":
        ga, gb = g, g
    elif op == "sub":
        ga, gb = g, -g
    elif op == "mul":
        ga, gb = R.mul(g, b), R.mul(g, a)
    elif op == "div":
        ga = R.div(g, b)
        gb = -R.mul(ga, y)
    else:
        took_a = (a > b) if op == "maximum" else (a < b)
        ga, gb = np.where(took_a, g, F32(0)), np.where(took_a, F32(0), g)
    return [sum_to_shape(np.asarray(ga, F32), a.shape), sum_to_shape(np.asarray(gb, F32), b.shape)]


def _unary_backward(op, g, x, y):
    if op == "exp":
        return R.mul(g, y)
    if op == "log":
        return R.div(g, x)
    if op == "tanh":
        return R.mul(R.sub(F32(1), R.mul(y, y)), g)
    if op == "gelu":
        return R.mul(g, R.gelu_grad(x))
    if op == "relu":
        return R.relu_backward(g, x)
    return -g


def reference_outputs(op: str, ins: list[np.ndarray], attrs: dict | None, out_shapes: list[tuple]) -> list[np.ndarray] | None:
    """The op's outputs as the numpy reference computes them, or None for an unknown op."""
    a = attrs or {}
    base, _, backward = op.partition(".")
    if backward:
        g = ins[0]
        if base in ("add", "sub", "mul", "div", "maximum", "minimum"):
            return _binary_backward(base, *ins)
        if base in ("exp", "log", "tanh", "gelu", "relu", "neg"):
            return [_unary_backward(base, *ins)]
        if base in ("sum", "mean"):
            gk = g if a["keepdim"] else np.expand_dims(g, a["dim"])
            if base == "mean":
                gk = R.div(gk, F32(out_shapes[0][a["dim"]]))
            return [np.broadcast_to(gk, out_shapes[0])]
        if base == "matmul":
            _, x, w = ins
            return [sum_to_shape(R.matmul(g, _swap(w)), x.shape), sum_to_shape(R.matmul(_swap(x), g), w.shape)]
        if base == "linear":
            _, x, w = ins
            g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
            outs = [R.matmul(g2, w).reshape(x.shape), R.matmul(_swap(g2), x2)]
            return outs + [R.tree_sum(g2, 0)] if len(out_shapes) == 3 else outs
        if base == "embedding":
            onehot_t = (np.arange(a["num"])[:, None] == ins[1].reshape(-1)[None, :]).astype(F32)
            return [R.matmul(onehot_t, g.reshape(-1, g.shape[-1]))]
        if base == "softmax":
            y = ins[1]
            d = R.tree_sum(R.mul(g, y), a["dim"], keepdims=True)
            return [R.mul(y, R.sub(g, d))]
        if base == "log_softmax":
            p = ins[1]
            return [R.sub(g, R.mul(p, R.tree_sum(g, a["dim"], keepdims=True)))]
        if base == "layer_norm":
            _, xhat, rstd, w = ins
            n = F32(g.shape[-1])
            gh = R.mul(g, w)
            mean_gh = R.div(R.tree_sum(gh, -1, keepdims=True), n)
            c = R.div(R.tree_sum(R.mul(gh, xhat), -1, keepdims=True), n)
            dx = R.mul(R.sub(R.sub(gh, mean_gh), R.mul(xhat, c)), rstd)
            rows = g.reshape(-1, g.shape[-1])
            return [dx, R.tree_sum(R.mul(rows, xhat.reshape(rows.shape)), 0), R.tree_sum(rows, 0)]
        if base == "fanout":
            return [R.tree_sum(np.stack(ins, 0), 0)]
        if base == "gather":
            idx, dim = ins[1], a["dim"]
            acc = np.zeros(out_shapes[0], F32)
            for k in range(idx.shape[dim]):
                part = np.zeros_like(acc)
                sl = [slice(None)] * idx.ndim
                sl[dim] = slice(k, k + 1)
                np.put_along_axis(part, idx[tuple(sl)], g[tuple(sl)], dim)
                acc = R.add(acc, part)
            return [acc]
        if base == "masked_fill":
            return [np.where(ins[1], F32(0), g)]
        if base == "where":
            cond = ins[1]
            return [sum_to_shape(np.where(cond, g, F32(0)), out_shapes[0]),
                    sum_to_shape(np.where(cond, F32(0), g), out_shapes[1])]
        return None
    if op in ("add", "sub", "mul", "div", "maximum", "minimum"):
        return [getattr(R, op)(ins[0], ins[1])]
    if op == "neg":
        return [-ins[0]]
    if op in ("exp", "log", "tanh", "gelu", "relu"):
        return [getattr(R, op)(ins[0])]
    if op == "softmax":
        return [R.softmax(ins[0], a["dim"])]
    if op == "log_softmax":
        return [R.log_softmax(ins[0], a["dim"])]
    if op == "layer_norm":
        return [R.layer_norm(ins[0], ins[1], ins[2], F32(a["eps"]))]
    if op in ("sum", "mean"):
        y = R.tree_sum(ins[0], a["dim"], a["keepdim"])
        return [R.div(y, F32(ins[0].shape[a["dim"]])) if op == "mean" else y]
    if op == "matmul":
        return [R.matmul(ins[0], ins[1])]
    if op == "linear":
        x, w = ins[0], ins[1]
        y = R.matmul(x.reshape(-1, x.shape[-1]), _swap(w))
        if len(ins) == 3:
            y = R.add(y, ins[2])
        return [y.reshape(*x.shape[:-1], w.shape[0])]
    if op == "embedding":
        return [ins[1][ins[0]]]
    if op == "gather":
        return [np.take_along_axis(ins[0], ins[1], a["dim"])]
    if op == "masked_fill":
        return [np.where(ins[1], F32(a["value"]), ins[0])]
    if op == "where":
        return [np.where(ins[0], ins[1], ins[2])]
    if op == "adamw":
        p, g, m, v = ins
        return list(R.adamw(p, g, m, v, a["step"], a["lr"], a["beta1"], a["beta2"], a["eps"], a["weight_decay"]))
    return None
