"""Fixed-order backward: gradients agree with float64 torch autograd within tolerance, and
every RepOps backward records itself to the trace."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import repops
from repops import functional as F
from repops import trace
from repops.errors import RepOpsError


def close(got: torch.Tensor, ref: torch.Tensor, rtol: float = 2e-4) -> bool:
    ref = ref.to(torch.float64)
    return bool(((got.double() - ref).abs() <= rtol * ref.abs().max().clamp_min(1e-30) + 1e-30).all())


def leaf(*shape, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(*shape, generator=g) * scale).requires_grad_()
    return x, x.detach().double().requires_grad_()


CASES = {
    "add_broadcast": (lambda a, b: F.add(a, b), lambda a, b: a + b, [(4, 5), (5,)]),
    "sub": (lambda a, b: F.sub(a, b), lambda a, b: a - b, [(4, 5), (4, 1)]),
    "mul": (lambda a, b: F.mul(a, b), lambda a, b: a * b, [(3, 4, 5), (4, 5)]),
    "div": (lambda a, b: F.div(a, F.add(F.mul(b, b), 1.0)), lambda a, b: a / (b * b + 1), [(4, 5), (4, 5)]),
    "exp": (lambda a: F.exp(a), torch.exp, [(6, 7)]),
    "log": (lambda a: F.log(F.add(F.mul(a, a), 0.5)), lambda a: torch.log(a * a + 0.5), [(6, 7)]),
    "tanh": (lambda a: F.tanh(a), torch.tanh, [(6, 7)]),
    "gelu": (lambda a: F.gelu(a), lambda a: TF.gelu(a, approximate="tanh"), [(6, 7)]),
    "sum": (lambda a: F.sum(a, 1), lambda a: a.sum(1), [(6, 7)]),
    "mean": (lambda a: F.mean(a, 0, keepdim=True), lambda a: a.mean(0, keepdim=True), [(6, 7)]),
    "matmul": (F.matmul, torch.matmul, [(2, 6, 7), (7, 3)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b, [(2, 4, 7), (3, 7), (3,)]),
    "softmax": (lambda a: F.softmax(a, -1), lambda a: torch.softmax(a, -1), [(5, 9)]),
    "log_softmax": (lambda a: F.log_softmax(a, 0), lambda a: torch.log_softmax(a, 0), [(5, 9)]),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, w, b, 1e-5),
        lambda x, w, b: TF.layer_norm(x, (x.shape[-1],), w, b, 1e-5),
        [(3, 4, 8), (8,), (8,)],
    ),
    "maximum": (F.maximum, torch.maximum, [(4, 5), (4, 5)]),
    "relu": (F.relu, torch.relu, [(6, 7)]),
    "where": (
        lambda a, b: F.where(torch.arange(5) % 2 == 0, a, b),
        lambda a, b: torch.where(torch.arange(5) % 2 == 0, a, b),
        [(4, 5), (5,)],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_float64(name):
    ours, ref, shapes = CASES[name]
    pairs = [leaf(*s, seed=i) for i, s in enumerate(shapes)]
    weight = torch.randn(ours(*[p[0] for p in pairs]).shape, generator=torch.Generator().manual_seed(9))
    F.sum(F.mul(ours(*[p[0] for p in pairs]), weight).reshape(-1), 0).backward()
    (ref(*[p[1] for p in pairs]) * weight.double()).sum().backward()
    for ours_leaf, ref_leaf in pairs:
        assert close(ours_leaf.grad, ref_leaf.grad), name


def test_cross_entropy_and_embedding_and_gather():
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, 11, (4, 6), generator=g)
    emb = repops.Embedding(11, 8, generator=g)
    lin = repops.Linear(8, 5, generator=g)
    targets = torch.randint(0, 5, (24,), generator=g)
    loss = F.cross_entropy(lin(emb(idx)).reshape(-1, 5), targets)
    loss.backward()
    w = emb.weight.detach().double().requires_grad_()
    lw, lb = lin.weight.detach().double().requires_grad_(), lin.bias.detach().double().requires_grad_()
    ref = TF.cross_entropy((w[idx] @ lw.T + lb).reshape(-1, 5), targets)
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-5
    assert close(emb.weight.grad, w.grad) and close(lin.weight.grad, lw.grad) and close(lin.bias.grad, lb.grad)

    x, xd = leaf(3, 7)
    sel = torch.tensor([[1, 1], [0, 6], [2, 3]])
    F.sum(F.gather(x, 1, sel).reshape(-1), 0).backward()
    xd.gather(1, sel).sum().backward()
    assert torch.equal(x.grad.double(), xd.grad)


def test_fanout_sums_in_fixed_tree_order():
    """Three consumers: padded to 4 with -0, the halving tree gives (g0 + g2) + (g1 + -0),
    recorded as one fanout.backward op, not torch's engine-ordered accumulation."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    a, b, c = F.fanout(x, 3)
    big, tiny = 2.0**24, 1.0
    out = F.add(F.add(F.mul(a, big), F.mul(b, tiny)), F.mul(c, -big))
    with trace.tracing() as tr:
        F.sum(out, 0).backward()
    g = np.float32(np.float32(big + -big) + np.float32(tiny))  # (g0 + g2) + g1 in binary32
    assert g != np.float32(np.float32(big + tiny) + np.float32(-big))  # the order matters here
    assert x.grad.tolist() == [float(g)] * 2
    assert "fanout.backward" in [r.op for r in tr.records]


def test_every_backward_is_traced():
    x, _ = leaf(4, 6)
    ln = repops.LayerNorm(6)
    with trace.tracing() as tr:
        y = F.softmax(F.gelu(ln(x)), -1)
        F.sum(y.reshape(-1), 0).backward()
    ops = [r.op for r in tr.records]
    for op in ("layer_norm", "gelu", "softmax", "sum", "sum.backward", "softmax.backward", "gelu.backward",
               "layer_norm.backward"):
        assert op in ops, op


def test_bad_inputs_raise_repops_error():
    with pytest.raises(RepOpsError):
        F.add(torch.ones(2, dtype=torch.float64), 1.0)
    with pytest.raises(RepOpsError):
        F.matmul(torch.ones(2, 3), torch.ones(2, 3))
    with pytest.raises(RepOpsError):
        F.embedding(torch.tensor([5]), torch.ones(3, 2))
    with pytest.raises(RepOpsError):
        F.cross_entropy(torch.ones(2, 3), torch.tensor([0, 3]))
    with pytest.raises(RepOpsError):
        repops.AdamW([torch.ones(2, dtype=torch.float64)])


def test_relu_is_an_exact_select():
    x = torch.tensor([-1.0, -0.0, 0.0, 2.5, float("nan"), float("inf")], requires_grad=True)
    y = F.relu(x)
    assert torch.equal(y[:4].detach(), torch.tensor([0.0, 0.0, 0.0, 2.5]))
    assert not torch.signbit(y[1]) and torch.isnan(y[4]) and y[5] == float("inf")
    F.sum(y[:4], 0).backward()
    assert x.grad.tolist()[:4] == [0.0, 0.0, 0.0, 1.0]


def test_empty_and_degenerate_shapes():
    assert torch.equal(F.matmul(torch.ones(2, 0), torch.ones(0, 3)), torch.zeros(2, 3))
    assert F.sum(torch.ones(3, 0), 1).tolist() == [0.0, 0.0, 0.0]
    for bad in (lambda: F.softmax(torch.ones(2, 0)), lambda: F.mean(torch.ones(0), 0),
                lambda: F.sum(torch.ones(2), 3), lambda: F.log_softmax(torch.tensor(1.0))):
        with pytest.raises(RepOpsError):
            bad()
