"""The fused layer-norm kernels on the paths a training step takes: float32 against float64
numpy (forward and the three gradients), an upstream gradient that is one broadcast value
(`y.sum().backward()`), a dense one and a non-contiguous one, odd row lengths, and gradcheck
in float64 with a broadcast upstream gradient."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F

RNG = np.random.default_rng(7)


def np_layer_norm(x, w, b, g, eps=1e-5):
    """Forward and (dx, dw, db) for the upstream gradient g, in float64."""
    mu = x.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xh = (x - mu) * rstd
    gh = g * w
    dx = rstd * (gh - gh.mean(-1, keepdims=True) - xh * (gh * xh).mean(-1, keepdims=True))
    return xh * w + b, dx, (g * xh).reshape(-1, x.shape[-1]).sum(0), g.reshape(-1, x.shape[-1]).sum(0)


@pytest.mark.parametrize("d", [1, 7, 37, 1024])
@pytest.mark.parametrize("upstream", ["ones", "dense", "strided"])
def test_float32_matches_float64_numpy(d, upstream):
    x = RNG.standard_normal((3, 11, d)) * 2 + 0.5
    w, b = RNG.standard_normal(d), RNG.standard_normal(d)
    if upstream == "ones":
        g = np.ones_like(x)
    else:
        g = RNG.standard_normal(x.shape)
    xt = torch.from_numpy(x.astype(np.float32)).requires_grad_(True)
    wt = torch.from_numpy(w.astype(np.float32)).requires_grad_(True)
    bt = torch.from_numpy(b.astype(np.float32)).requires_grad_(True)
    y = F.layer_norm(xt, (d,), wt, bt)
    if upstream == "ones":
        y.sum().backward()
    elif upstream == "dense":
        y.backward(torch.from_numpy(g.astype(np.float32)))
    else:
        gt = torch.from_numpy(np.ascontiguousarray(g.transpose(2, 0, 1)).astype(np.float32))
        y.backward(gt.permute(1, 2, 0))
    ref_y, dx, dw, db = np_layer_norm(x, w, b, g)
    np.testing.assert_allclose(y.detach().numpy(), ref_y, rtol=1e-4, atol=1e-4)
    tol = 1e-4 if d > 1 else 1e-3
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(wt.grad.numpy(), dw, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(bt.grad.numpy(), db, rtol=1e-4, atol=1e-3)


def test_gradcheck_with_broadcast_upstream():
    x = torch.from_numpy(RNG.standard_normal((4, 5))).requires_grad_(True)
    w = torch.from_numpy(RNG.standard_normal(5)).requires_grad_(True)
    b = torch.from_numpy(RNG.standard_normal(5)).requires_grad_(True)
    # sum() hands the kernel a gradient with all strides 0.
    assert torch.autograd.gradcheck(
        lambda x, w, b: F.layer_norm(x, (5,), w, b).sum(), (x, w, b), eps=1e-6, atol=1e-6
    )
    assert torch.autograd.gradcheck(
        lambda x: F.layer_norm(x, (5,)).mul(torch.arange(5.0, dtype=torch.float64)).sum(),
        (x,),
        eps=1e-6,
        atol=1e-6,
    )


def test_broadcast_gradient_gathers_one_value():
    # A broadcast scalar as an operand of a strided copy (the gather fast path).
    base = torch.tensor(3.5).expand(4, 6)
    np.testing.assert_array_equal(base.contiguous().numpy(), np.full((4, 6), 3.5, np.float32))
    np.testing.assert_array_equal((base * 2).numpy(), np.full((4, 6), 7.0, np.float32))
