"""The fused native CPU kernels (repops/ops/native) against the torch programs and the numpy
reference, bit for bit, on extreme inputs; and a whole training step with native kernels on
and off. The extension is built (or loaded from the cache) once per session."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from repops import reference as R
from repops.model import Policy, PolicyConfig
from repops.ops import kernels as K
from repops.ops import native
from repops.step import Batch, StepConfig, make_optimizer, train_step

finite = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.floats(-1e3, 1e3, width=32),
    st.sampled_from([0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 3.4028235e38, -3.4028235e38]),
)
extreme = st.one_of(finite, st.sampled_from([np.inf, -np.inf, np.nan]))
# softmax inputs: anything, plus masked (-inf) entries, the common non-finite case
logits = st.one_of(st.floats(-100, 100, width=32), finite, st.just(-np.inf))


@pytest.fixture(scope="module")
def ext():
    mod = native.load()
    if mod is None:
        if shutil.which("c++") or shutil.which("g++"):
            pytest.fail("a C++ compiler is present but the native RepOps kernels did not build")
        pytest.skip("no C++ compiler: native kernels unavailable (the torch programs are used)")
    return mod


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def bits(x: torch.Tensor) -> np.ndarray:
    return x.contiguous().view(torch.int32 if x.dtype == torch.float32 else torch.int64).numpy()


def both(fn, *args):
    with native.use(True):
        on = fn(*args)
    with native.use(False):
        off = fn(*args)
    return on, off


def mats(elements, max_side=10):
    return st.tuples(st.integers(1, 3), st.integers(1, max_side), st.integers(1, 40), st.integers(1, max_side)).flatmap(
        lambda bmkn: st.tuples(
            hnp.arrays(np.float32, (bmkn[0], bmkn[1], bmkn[2]), elements=elements),
            hnp.arrays(np.float32, (bmkn[2], bmkn[3]), elements=elements),
            st.sampled_from(["plain", "transposed", "strided"]),
        )
    )


def layout(x: torch.Tensor, kind: str) -> torch.Tensor:
    """The same values as a transposed-contiguous or a strided view (as the model uses)."""
    if kind == "transposed":
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    if kind == "strided":
        wide = torch.zeros(*x.shape[:-1], 2 * x.shape[-1])
        wide[..., ::2] = x
        return wide[..., ::2]
    return x


@settings(max_examples=150, deadline=None)
@given(mats(extreme))
def test_matmul_native_equals_torch_program_and_reference(ext, abk):
    a, b, kind = abk
    ta, tb = layout(t(a), kind), layout(t(b), kind)
    on, off = both(K.matmul, ta, tb)
    assert np.array_equal(bits(on), bits(off))
    assert R.same_bits(on.numpy(), R.matmul(a, b))


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 50)), elements=finite),
       st.booleans())
def test_grid_rounding_native_equals_torch_grid(ext, x, rows):
    """The grid values themselves (binary64), for finite lines the kernel must handle."""
    tx = t(x)
    k = x.shape[2] if rows else x.shape[1]
    s = K.matmul_slice_bits(k)
    out = torch.empty(tx.shape, dtype=torch.float64)
    assert ext.to_grid(tx, out, rows, s)
    want, pen = K._to_grid(tx, -1 if rows else -2, s)
    assert np.array_equal(bits(out), bits(want))
    assert not pen.isnan().any()


def test_matmul_native_single_row_and_column_operands(ext):
    """Regression: (8, 1) views of (1, 8) tensors count as contiguous with a non-unit last
    stride; the grid kernel must take them."""
    g = torch.Generator().manual_seed(1)
    row, col = torch.randn(1, 8, generator=g), torch.randn(8, 1, generator=g)
    for a, b in ((row.t(), row), (col, col.t()), (row, col), (col.t().t(), row.t().t())):
        on, off = both(K.matmul, a, b)
        assert np.array_equal(bits(on), bits(off))


def test_grid_rounding_reports_non_finite_lines(ext):
    for bad in (np.inf, -np.inf, np.nan):
        x = torch.ones(1, 3, 4)
        x[0, 1, 2] = bad
        out = torch.empty(x.shape, dtype=torch.float64)
        assert not ext.to_grid(x, out, True, 20)
        assert not ext.to_grid(x, out, False, 20)


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 70)), elements=st.one_of(logits, extreme)))
def test_softmax_native_equals_torch_program_and_reference(ext, x):
    on, off = both(K.softmax, t(x))
    assert np.array_equal(bits(on), bits(off))
    assert R.same_bits(on.numpy(), R.softmax(x))
    (y_on, p_on), (y_off, p_off) = both(K.log_softmax, t(x))
    assert np.array_equal(bits(y_on), bits(y_off)) and np.array_equal(bits(p_on), bits(p_off))
    assert R.same_bits(y_on.numpy(), R.log_softmax(x))


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 300)), elements=logits))
def test_softmax_rows_kernel_runs_on_finite_maxima(ext, x):
    """Rows with a finite maximum and no NaN are computed natively (not handed back)."""
    tx = t(x)
    finite_max = np.isfinite(x.max(axis=1)).all()
    p, y = torch.empty_like(tx), torch.empty_like(tx)
    assert ext.softmax_rows(tx, p, y, True) == bool(finite_max)
    if finite_max:
        with native.use(False):
            y_off, p_off = K.log_softmax(tx)
        assert np.array_equal(bits(p), bits(p_off)) and np.array_equal(bits(y), bits(y_off))


def test_softmax_other_dim_and_batched_attention_shape(ext):
    g = torch.Generator().manual_seed(3)
    att = torch.randn(2, 4, 16, 16, generator=g) * 8
    att = att.masked_fill(torch.triu(torch.ones(16, 16, dtype=torch.bool), 1), float("-inf"))
    for dim in (-1, 2):
        on, off = both(K.softmax, att, dim)
        assert np.array_equal(bits(on), bits(off))


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 70)), elements=st.one_of(finite, extreme)),
       st.booleans())
def test_tree_sum_native_equals_torch_program_and_reference(ext, x, keepdim):
    for axis in (0, 1):
        on, off = both(K.tree_sum, t(x), axis, keepdim)
        assert on.shape == off.shape and np.array_equal(bits(on), bits(off))
        assert R.same_bits(on.numpy(), R.tree_sum(x, axis, keepdims=keepdim))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 6)), elements=finite), st.booleans())
def test_tree_sum_kernel_runs_unless_nan(ext, x, inner):
    tx = t(x)
    out = torch.empty(x.shape[0] if inner else x.shape[1])
    ran = ext.tree_sum_2d(tx, out, inner)
    with native.use(False):
        want = K.tree_sum(tx, 1 if inner else 0)
    assert ran == (not want.isnan().any())  # finite inputs: only an inf - inf hands back
    if ran:
        assert np.array_equal(bits(out), bits(want))


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 300), elements=st.one_of(finite, extreme, st.floats(-12, 12, width=32))))
def test_gelu_native_equals_torch_program_and_reference(ext, x):
    (y_on, q_on), (y_off, q_off) = both(K.gelu_with_q, t(x))
    assert np.array_equal(bits(y_on), bits(y_off)) and np.array_equal(bits(q_on), bits(q_off))
    assert R.same_bits(y_on.numpy(), R.gelu(x))
    d_on, d_off = both(K.gelu_grad_from_q, t(x), q_off)
    assert np.array_equal(bits(d_on), bits(d_off))
    assert R.same_bits(d_on.numpy(), R.gelu_grad(x))
    if not np.isnan(x).any():  # the kernels ran (a NaN hands back to the torch program)
        y, q, d = torch.empty_like(t(x)), torch.empty(x.shape, dtype=torch.float64), torch.empty_like(t(x))
        assert ext.gelu_forward(t(x), y, q) and ext.gelu_backward(t(x), q, d)


def test_disabled_means_torch_programs(monkeypatch):
    monkeypatch.setenv("SWARM_REPOPS_NATIVE", "0")
    assert native.module() is None
    with native.use(True):
        assert native.module() is native.load()


CFG = StepConfig(model=PolicyConfig(context=16, d_model=32, n_layer=2, n_head=4, d_mlp=64), lr=1e-2, weight_decay=0.01)


def _two_steps(activation: str) -> list[tuple[str, str, int]]:
    model = Policy(dataclasses.replace(CFG.model, activation=activation), seed=5)
    opt = make_optimizer(model, CFG)
    out = []
    for k in range(2):
        g = torch.Generator().manual_seed(k)
        toks = torch.randint(0, CFG.model.vocab_size, (8, 17), generator=g)
        b = Batch(toks[:, :-1].contiguous(), toks[:, 1:].contiguous(), torch.ones(8, 16), torch.randn(8, generator=g))
        r = train_step(model, opt, b)
        out.append((r.ckpt_after.hex(), r.trace_root.hex(), int(np.float32(r.loss).view(np.uint32))))
    return out


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_training_step_same_bits_native_on_and_off(ext, activation):
    on, off = both(_two_steps, activation)
    assert on == off


def test_failed_build_falls_back_to_torch_programs(tmp_path):
    """A compiler that fails (CXX=false, empty extensions dir): load() reports once and
    returns None, and the ops give the reference bits through the torch programs."""
    import os
    import subprocess
    import sys

    code = (
        "import logging, numpy as np, torch\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from repops.ops import native, kernels as K\n"
        "from repops import reference as R\n"
        "assert native.load() is None and native.module() is None\n"
        "a = torch.randn(5, 7); b = torch.randn(7, 3)\n"
        "assert R.same_bits(K.matmul(a, b).numpy(), R.matmul(a.numpy(), b.numpy()))\n"
        "assert R.same_bits(K.softmax(a).numpy(), R.softmax(a.numpy()))\n"
        "print('fallback ok')\n"
    )
    env = dict(os.environ, CXX="false", TORCH_EXTENSIONS_DIR=str(tmp_path), SWARM_REPOPS_NATIVE="1")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "fallback ok" in r.stdout
    assert r.stderr.count("native CPU kernels unavailable") == 1
