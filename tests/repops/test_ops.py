"""Composite ops (tree sum, max, matmul, softmax, log-softmax, layer norm, cross-entropy,
AdamW) against the numpy reference, bit for bit, on wide-range and extreme inputs."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import repops
from repops import functional as F
from repops import reference as R
from repops.ops import kernels as K

# values over the whole binary32 range, biased to the awkward ones
wide = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.floats(-1e3, 1e3, width=32),
    st.sampled_from([0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38]),
)
extreme = st.one_of(wide, st.sampled_from([np.inf, -np.inf, np.nan]))
moderate = st.floats(-30, 30, width=32)


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def mats(elements, max_side=12):
    return st.tuples(st.integers(1, max_side), st.integers(1, 40), st.integers(1, max_side)).flatmap(
        lambda mkn: st.tuples(
            hnp.arrays(np.float32, (mkn[0], mkn[1]), elements=elements),
            hnp.arrays(np.float32, (mkn[1], mkn[2]), elements=elements),
        )
    )


@settings(max_examples=80)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 70)), elements=extreme))
def test_tree_sum_and_amax(x):
    for axis in (0, 1):
        assert R.same_bits(K.tree_sum(t(x), axis).numpy(), R.tree_sum(x, axis))
        assert R.same_bits(K.amax(t(x), axis).numpy(), R.amax(x, axis))


def test_tree_sum_keeps_negative_zero_and_pads_exactly():
    x = np.array([[-0.0, -0.0, -0.0], [1e-45, -0.0, -1e-45]], np.float32)
    got = K.tree_sum(t(x), 1).numpy()
    assert np.signbit(got[0]) and got[0] == 0
    assert R.same_bits(got, R.tree_sum(x, 1))


@settings(max_examples=80)
@given(mats(extreme))
def test_matmul_matches_integer_reference(ab):
    a, b = ab
    assert R.same_bits(K.matmul(t(a), t(b)).numpy(), R.matmul(a, b))


@given(mats(st.floats(-4, 4, width=32)))
def test_matmul_close_to_float64(ab):
    a, b = ab
    exact = a.astype(np.float64) @ b.astype(np.float64)
    # block floating point: each operand keeps s bits below its row's / column's maximum
    k = a.shape[1]
    rowmax = np.abs(a).max(axis=1, keepdims=True).astype(np.float64)
    colmax = np.abs(b).max(axis=0, keepdims=True).astype(np.float64)
    bound = k * 4 * rowmax * colmax * 2.0 ** -K.matmul_slice_bits(k) + 2.0**-126
    got = K.matmul(t(a), t(b)).numpy().astype(np.float64)
    assert np.all(np.abs(got - exact) <= bound + np.abs(exact) * 2.0**-24)


def test_matmul_batched_broadcast_and_large_k():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 5, 3000)).astype(np.float32)
    b = rng.standard_normal((3000, 7)).astype(np.float32)
    assert R.same_bits(K.matmul(t(a), t(b)).numpy(), R.matmul(a, b))


@settings(max_examples=60)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 40)), elements=extreme))
def test_relu_forward_and_backward(x):
    xt = t(x).requires_grad_(True)
    y = F.relu(xt)
    assert R.same_bits(y.detach().numpy(), R.relu(x))
    g = np.random.default_rng(x.size).standard_normal(x.shape).astype(np.float32)
    y.backward(t(g))
    assert R.same_bits(xt.grad.numpy(), R.relu_backward(g, x))


@settings(max_examples=60)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 40)), elements=st.one_of(moderate, wide)))
def test_softmax_family(x):
    assert R.same_bits(K.softmax(t(x)).numpy(), R.softmax(x))
    assert R.same_bits(K.log_softmax(t(x))[0].numpy(), R.log_softmax(x))


def test_softmax_with_masked_entries():
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, -np.inf, 0.5], [np.nan, 1.0, 2.0]], np.float32)
    got = K.softmax(t(x)).numpy()
    assert R.same_bits(got, R.softmax(x))
    assert got[1].tolist() == [0.0, 0.0, 1.0] and np.isnan(got[2]).all()


@settings(max_examples=60)
@given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 40)), elements=st.one_of(moderate, wide)),
    st.sampled_from([1e-5, 1e-6, 0.0]),
)
def test_layer_norm(x, eps):
    rng = np.random.default_rng(x.size)
    w = rng.standard_normal(x.shape[-1]).astype(np.float32)
    b = rng.standard_normal(x.shape[-1]).astype(np.float32)
    got = K.layer_norm(t(x), t(w), t(b), eps)[0].numpy()
    assert R.same_bits(got, R.layer_norm(x, w, b, eps))


@settings(max_examples=40)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(2, 30)), elements=moderate), st.data())
def test_cross_entropy(logits, data):
    n, c = logits.shape
    targets = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), np.int64)
    got = F.cross_entropy(t(logits), torch.from_numpy(targets)).numpy()
    assert R.same_bits(got, R.cross_entropy(logits, targets))


@settings(max_examples=30)
@given(
    hnp.arrays(np.float32, 17, elements=st.floats(-10, 10, width=32)),
    st.integers(1, 3000),
    st.sampled_from([(1e-3, 0.9, 0.999, 1e-8, 0.01), (0.5, 0.5, 0.75, 1e-3, 0.0), (1e-4, 0.0, 0.0, 1e-6, 0.1)]),
)
def test_adamw_matches_reference(g, step, hp):
    lr, b1, b2, eps, wd = hp
    rng = np.random.default_rng(step)
    p0 = rng.standard_normal(17).astype(np.float32)
    m0 = rng.standard_normal(17).astype(np.float32) * 0.1
    v0 = np.abs(rng.standard_normal(17).astype(np.float32)) * 0.01
    param = torch.nn.Parameter(t(p0.copy()))
    opt = repops.AdamW([("w", param)], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    opt.load_state_tensors({"step": torch.tensor(step - 1), "w.exp_avg": t(m0), "w.exp_avg_sq": t(v0)})
    param.grad = t(g)
    opt.step()
    p, m, v = R.adamw(p0, g, m0, v0, step, lr, b1, b2, eps, wd)
    st_ = opt.state_tensors()
    assert R.same_bits(param.detach().numpy(), p)
    assert R.same_bits(st_["w.exp_avg"].numpy(), m)
    assert R.same_bits(st_["w.exp_avg_sq"].numpy(), v)
    assert int(st_["step"]) == step and st_["step"].dtype == torch.int64


@settings(max_examples=60)
@given(st.integers(1, 7), st.integers(1, 40), st.integers(1, 5), st.data())
def test_embedding_gradient_is_the_onehot_matmul(num, n, c, data):
    """kernels.onehot_matmul (exact binary64 index_add of grid values) gives the bits of the
    specified matmul(onehot(idx)^T, g), infs and NaNs included."""
    idx = np.array(data.draw(st.lists(st.integers(0, num - 1), min_size=n, max_size=n)), np.int64)
    g = data.draw(hnp.arrays(np.float32, (n, c), elements=st.one_of(wide, moderate) if data.draw(st.booleans()) else extreme))
    onehot_t = (np.arange(num)[:, None] == idx[None, :]).astype(np.float32)
    got = K.onehot_matmul(torch.from_numpy(idx), num, t(g)).numpy()
    assert R.same_bits(got, R.matmul(onehot_t, g))


@settings(max_examples=60)
@given(
    st.integers(1, 4), st.integers(65, 1100), st.integers(1, 4),
    st.sampled_from([1.0, 2.0**-120, 2.0**-126, 2.0**-130, 2.0**100, 2.0**110, 2.0**125]),
    st.integers(0, 2**32 - 1), st.booleans(),
)
def test_matmul_large_k_near_the_binary32_rounding_limits(m, k, n, scale, seed, transposed):
    """K > 64 (s <= 22) rounds to the grid in binary32 when every line maximum is a normal
    number below 2**(104+s), in binary64 otherwise: both must give the reference's bits,
    at and across those limits (subnormal, tiny and huge lines, zero lines, transposed b)."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((m, k)) * scale).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    a[rng.random((m, k)) < 0.1] = 0.0
    if rng.random() < 0.3:
        a[0] = 0.0  # an all-zero line
    if rng.random() < 0.3:
        b[:, 0] *= np.float32(2.0**-140)  # a subnormal column
    bt = t(np.ascontiguousarray(b.T)).t() if transposed else t(b)
    assert R.same_bits(K.matmul(t(a), bt).numpy(), R.matmul(a, b))
    assert R.same_bits(K.matmul(bt.t(), t(a).t()).numpy(), R.matmul(b.T.copy(), a.T.copy()))
