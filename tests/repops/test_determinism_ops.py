"""The same bits with 1 or 2 threads, with rows computed alone or in a batch, and in a fresh
process: ops forward and backward, and an AdamW step."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import repops
from repops import functional as F
from repops.ops import kernels as K


def workload(device: str = "cpu") -> str:
    """Forward, backward and AdamW through every composite; sha256 of all results."""
    g = torch.Generator().manual_seed(42)
    x = (torch.randn(24, 40, generator=g) * 3).to(device).requires_grad_()
    idx = torch.randint(0, 30, (24,), generator=g).to(device)
    emb = repops.Embedding(30, 40, generator=g).to(device)
    ln = repops.LayerNorm(40).to(device)
    fc = repops.Linear(40, 96, generator=g).to(device)
    head = repops.Linear(96, 17, generator=g).to(device)
    h = F.add(x, emb(idx))
    h1, h2 = F.fanout(F.layer_norm(h, ln.weight, ln.bias), 2)
    att = F.softmax(F.matmul(h1, h2.transpose(0, 1)), -1)
    z = F.gelu(fc(F.tanh(F.matmul(att, h))))
    logits = head(z)
    loss = F.add(F.cross_entropy(logits, idx % 17), F.mean(F.exp(F.log_softmax(logits, -1)).reshape(-1), 0))
    loss.backward()
    params = [("emb", emb.weight), ("ln.w", ln.weight), ("ln.b", ln.bias), ("fc.w", fc.weight), ("fc.b", fc.bias),
              ("head.w", head.weight), ("head.b", head.bias)]
    opt = repops.AdamW(params, lr=1e-2, weight_decay=0.1)
    opt.step()
    digest = hashlib.sha256()
    for tensor in [loss, logits, x.grad, *[p for _, p in params], *opt.state_tensors().values()]:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def test_same_bits_with_one_and_two_threads():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = workload()
        torch.set_num_threads(2)
        two = workload()
    finally:
        torch.set_num_threads(before)
    assert one == two


def test_rows_alone_equal_rows_in_a_batch():
    rng = np.random.default_rng(5)
    a = torch.from_numpy((rng.standard_normal((33, 70)) * np.exp(rng.standard_normal((33, 70)) * 4)).astype(np.float32))
    b = torch.from_numpy(rng.standard_normal((70, 50)).astype(np.float32))
    w = torch.from_numpy(rng.standard_normal(70).astype(np.float32))
    for fn in (
        lambda t: K.matmul(t, b),
        lambda t: K.softmax(t),
        lambda t: K.log_softmax(t)[0],
        lambda t: K.layer_norm(t, w, w, 1e-5)[0],
        lambda t: K.tree_sum(t, -1),
        lambda t: K.gelu(t),
    ):
        whole = fn(a)
        alone = torch.cat([fn(a[i : i + 1]) for i in range(a.shape[0])])
        split = torch.cat([fn(a[:10]), fn(a[10:])])
        assert torch.equal(whole.view(torch.int32), alone.view(torch.int32))
        assert torch.equal(whole.view(torch.int32), split.view(torch.int32))


def test_input_gradients_of_rows_alone_equal_batch():
    g = torch.Generator().manual_seed(3)
    lin = repops.Linear(16, 8, generator=g)
    ln = repops.LayerNorm(8)
    x = torch.randn(12, 16, generator=g)

    def grad_rows(rows: torch.Tensor) -> torch.Tensor:
        r = rows.clone().requires_grad_()
        y = F.log_softmax(F.gelu(ln(lin(r))), -1)
        F.sum(F.mul(y, y).reshape(-1), 0).backward()
        return r.grad

    whole = grad_rows(x)
    alone = torch.cat([grad_rows(x[i : i + 1]) for i in range(12)])
    assert torch.equal(whole.view(torch.int32), alone.view(torch.int32))


@pytest.mark.slow
def test_fresh_process_gives_the_same_bits():
    code = "import torch; torch.set_num_threads(1); from tests.repops.test_determinism_ops import workload; print(workload())"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=root)
    assert out.stdout.strip() == workload()


GPU = "cuda" if torch.cuda.is_available() else None


@pytest.mark.skipif(GPU is None, reason="no CUDA device here")
def test_cuda_gives_the_cpu_bits():
    """The CPU-vs-CUDA check docs/repops.md asks for: every primitive and transcendental on
    random bit patterns against the numpy reference, the matmul, and the whole workload."""
    from repops import primitives as P
    from repops import reference as R

    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**32, 1 << 20, dtype=np.uint64).astype(np.uint32).view(np.float32)
    b = rng.integers(0, 2**32, 1 << 20, dtype=np.uint64).astype(np.uint32).view(np.float32)
    ta, tb = torch.from_numpy(a).to(GPU), torch.from_numpy(b).to(GPU)
    for name in ("add", "sub", "mul", "div", "maximum", "minimum"):
        assert R.same_bits(getattr(P, name)(ta, tb).cpu().numpy(), getattr(R, name)(a, b)), name
    assert R.same_bits(P.div(3.0, ta).cpu().numpy(), R.div(np.float32(3.0), a))
    assert R.same_bits(P.div(ta, 3.0).cpu().numpy(), R.div(a, np.float32(3.0)))
    assert R.same_bits(P.sqrt(ta).cpu().numpy(), R.sqrt(a))
    for name in ("exp", "log", "tanh", "gelu", "gelu_grad"):
        assert R.same_bits(getattr(K, name)(ta).cpu().numpy(), getattr(R, name)(a)), name
    m = (rng.standard_normal((300, 700)) * np.exp(rng.standard_normal((300, 700)) * 4)).astype(np.float32)
    w = rng.standard_normal((700, 200)).astype(np.float32)
    assert R.same_bits(K.matmul(torch.from_numpy(m).to(GPU), torch.from_numpy(w).to(GPU)).cpu().numpy(), R.matmul(m, w))
    assert workload(GPU) == workload("cpu")
