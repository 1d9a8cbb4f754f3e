"""The GEMM-side fast paths against NumPy in float64: the fused `linear` node (bias added into
the GEMM output, leading dims folded into rows), `matmul` folding a stack of matrices times one
matrix, the mirrored product for few rows against many columns, tiled copies of transposed
and permuted views, and the convolution's column matrix written without a zero pass."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch.autograd import gradcheck

RNG = np.random.default_rng(7)


def T(a, requires_grad=False):
    t = torch.from_numpy(np.ascontiguousarray(a)).clone()
    return t.requires_grad_(True) if requires_grad else t


# ---- linear


@pytest.mark.parametrize("lead", [(), (5,), (3, 4), (2, 0, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_values_and_gradients(lead, with_bias):
    x = RNG.standard_normal((*lead, 6))
    w = RNG.standard_normal((4, 6))
    b = RNG.standard_normal(4)
    xt, wt = T(x, True), T(w, True)
    bt = T(b, True) if with_bias else None
    out = F.linear(xt, wt, bt)
    ref = x @ w.T + (b if with_bias else 0)
    assert tuple(out.shape) == ref.shape
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(ref.shape)
    out.backward(T(g))
    g2, x2 = g.reshape(-1, 4), x.reshape(-1, 6)
    np.testing.assert_allclose(wt.grad.numpy(), g2.T @ x2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), (g2 @ w).reshape(x.shape), rtol=1e-10, atol=1e-12)
    if with_bias:
        np.testing.assert_allclose(bt.grad.numpy(), g2.sum(0), rtol=1e-10, atol=1e-12)


def test_linear_gradcheck_and_second_order():
    x = T(RNG.standard_normal((2, 3, 5)), True)
    w = T(RNG.standard_normal((4, 5)), True)
    b = T(RNG.standard_normal(4), True)
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), (x, w, b))
    # Second derivatives flow through the backward's own products.
    (gx,) = torch.autograd.grad(F.linear(x, w, b).pow(2).sum(), (x,), create_graph=True)
    (gw,) = torch.autograd.grad(gx.sum(), (w,))
    xs, ws, bs = (t.detach().numpy() for t in (x, w, b))
    # d/dW of sum_x 2 (xWᵀ + b) W summed: 2·(1ᵀ W ... ) checked by finite differences instead.
    eps = 1e-6
    num = np.zeros_like(ws)
    for i in np.ndindex(ws.shape):
        for s in (1, -1):
            wp = ws.copy()
            wp[i] += s * eps
            y = xs @ wp.T + bs
            num[i] += s * (2 * y @ wp).sum() / (2 * eps)
    np.testing.assert_allclose(gw.numpy(), num, rtol=1e-5, atol=1e-6)


def test_linear_non_contiguous_input_and_names():
    x = T(RNG.standard_normal((6, 5, 3))).permute(2, 0, 1).requires_grad_(True)
    w = T(RNG.standard_normal((2, 5)), True)
    b = T(RNG.standard_normal(2), True)
    out = F.linear(x, w, b)
    np.testing.assert_allclose(
        out.detach().numpy(), x.detach().numpy() @ w.detach().numpy().T + b.detach().numpy()
    )
    assert out.grad_fn.name() == "ViewBackward0"
    names = [fn.name() for fn, _ in out.grad_fn.next_functions if fn is not None]
    assert names == ["AddmmBackward0"]
    assert F.linear(x, w).grad_fn.next_functions[0][0].name() == "MmBackward0"


def test_linear_errors_and_fallbacks():
    x = T(RNG.standard_normal((3, 5)))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(3x5 and 4x2\)"):
        F.linear(x, T(RNG.standard_normal((2, 4))))
    # Mixed dtypes and broadcast biases keep the generic ops' behaviour.
    w32 = torch.randn(2, 5)
    with pytest.raises(RuntimeError):
        F.linear(x, w32)
    b2 = T(RNG.standard_normal((3, 2)))
    out = F.linear(x, T(RNG.standard_normal((2, 5))), b2)
    assert tuple(out.shape) == (3, 2)
    with pytest.raises(RuntimeError):
        F.linear(torch.ones(3, 5, dtype=torch.int64), torch.ones(2, 5, dtype=torch.int64) * 1.5)


# ---- matmul folding and the mirrored product


@pytest.mark.parametrize(
    "m,k,n", [(32, 256, 1024), (16, 256, 2048), (32, 300, 1536), (31, 256, 1024), (1, 3, 5)]
)
def test_matmul_shapes_and_layouts(m, k, n):
    a = RNG.standard_normal((m, k))
    b = RNG.standard_normal((k, n))
    ref = a @ b
    for A in (T(a), T(a.T).t()):
        for B in (T(b), T(b.T).t()):
            np.testing.assert_allclose((A @ B).numpy(), ref, rtol=1e-10, atol=1e-10)
    # float32 and float16 through the same paths
    r32 = (T(a).float() @ T(b).float()).numpy()
    np.testing.assert_allclose(r32, ref, rtol=1e-4, atol=1e-3 * np.sqrt(k))


def test_matmul_fold_of_stacked_lhs_and_gradients():
    a = T(RNG.standard_normal((2, 3, 4, 5)), True)
    b = T(RNG.standard_normal((5, 6)), True)
    out = a @ b
    np.testing.assert_allclose(out.detach().numpy(), a.detach().numpy() @ b.detach().numpy())
    assert gradcheck(lambda a, b: a @ b, (a, b))
    # A transposed (non-contiguous) stack folds through a copy.
    at = T(RNG.standard_normal((4, 3, 5))).transpose(0, 1).requires_grad_(True)
    assert gradcheck(lambda a, b: a @ b, (at, b))
    # Empty stacks
    e = torch.zeros(0, 3, 5, dtype=torch.float64) @ b.detach()
    assert tuple(e.shape) == (0, 3, 6)


# ---- tiled copies of transposed views


@pytest.mark.parametrize(
    "shape,perm",
    [
        ((64, 48), (1, 0)),
        ((33, 70), (1, 0)),
        ((2, 16, 9, 20), (0, 2, 3, 1)),
        ((3, 5, 17, 40), (0, 2, 1, 3)),
        ((4, 20, 6, 24), (3, 1, 2, 0)),
        ((2, 3, 40, 18), (0, 1, 3, 2)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
def test_contiguous_of_permuted_views(shape, perm, dtype):
    a = (RNG.standard_normal(shape) * 50).astype(dtype)
    t = T(a)
    got = t.permute(*perm).contiguous()
    np.testing.assert_array_equal(got.numpy(), np.ascontiguousarray(a.transpose(perm)))
    # A view with an offset and a step keeps its geometry.
    sl = t[..., 1:].permute(*perm).contiguous()
    np.testing.assert_array_equal(sl.numpy(), np.ascontiguousarray(a[..., 1:].transpose(perm)))


def test_large_transpose_parallel_path():
    a = RNG.standard_normal((700, 900)).astype(np.float32)
    np.testing.assert_array_equal(T(a).t().contiguous().numpy(), np.ascontiguousarray(a.T))


# ---- convolution columns


@pytest.mark.parametrize(
    "stride,padding,dilation", [(1, 1, 1), (2, 0, 1), (1, 2, 2), (3, 4, 1), (1, 0, 3)]
)
def test_unfold_padding_is_zero(stride, padding, dilation):
    x = RNG.standard_normal((2, 3, 9, 11))
    # Fill a recycled buffer with garbage first: padding must still read as zero.
    junk = torch.full((2, 3 * 9, 200), float("nan"), dtype=torch.float64)
    del junk
    cols = F.unfold(T(x), 3, dilation=dilation, padding=padding, stride=stride).numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (xp.shape[2] - dilation * 2 - 1) // stride + 1
    ow = (xp.shape[3] - dilation * 2 - 1) // stride + 1
    ref = np.empty((2, 3 * 9, oh * ow))
    for c in range(3):
        for i in range(3):
            for j in range(3):
                win = xp[:, c, i * dilation :, j * dilation :][:, : oh * stride : stride, : ow * stride : stride]
                ref[:, c * 9 + i * 3 + j] = win[:, :oh, :ow].reshape(2, -1)
    np.testing.assert_array_equal(cols, ref)


# ---- the AVX2 code on CPUs that would choose the AVX-512 one


def test_avx2_code_when_chosen_by_environment():
    """`RTORCH_ISA=avx2` keeps the 6×16 AVX2 GEMM kernel and the AVX2 builds of the
    vectorised math: a fresh process (the choice is made once) checks float32 products of
    several shapes and layouts, softmax (with a NaN row) and tanh against float64 NumPy."""
    import os
    import subprocess
    import sys

    code = """
import numpy as np, rtorch as torch
rng = np.random.default_rng(3)
for m, k, n in [(1, 16, 1), (37, 70, 45), (256, 300, 129), (5, 64, 2000)]:
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32).T
    got = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
    ref = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)) + 1e-6
    assert np.all(np.abs(got - ref) <= tol), (m, k, n)
x = rng.standard_normal((7, 1000)).astype(np.float32) * 4
x[3, 17] = np.nan
e = np.exp(x.astype(np.float64) - x.astype(np.float64).max(-1, keepdims=True))
want = e / e.sum(-1, keepdims=True)
got = torch.softmax(torch.from_numpy(x), dim=-1).numpy()
assert np.isnan(got[3]).all() and not np.isnan(np.delete(got, 3, 0)).any()
ok = ~np.isnan(want)
assert np.allclose(got[ok], want[ok], rtol=1e-5, atol=1e-7)
assert np.allclose(torch.tanh(torch.from_numpy(x)).numpy()[ok], np.tanh(x.astype(np.float64))[ok], rtol=1e-6, atol=1e-6)
print("ok")
"""
    env = dict(os.environ, RTORCH_ISA="avx2")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
