"""Normalisation layers against numpy: BatchNorm, LayerNorm, GroupNorm, RMSNorm, InstanceNorm."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F

RNG = np.random.default_rng(1)


def T(a, requires_grad=False):
    a = np.asarray(a)
    t = torch.tensor(a.tolist(), dtype=getattr(torch, str(a.dtype)))
    return t.requires_grad_(True) if requires_grad else t


def to_np(t):
    t = t.detach()
    try:
        return t.numpy()
    except Exception:
        return np.array(t.tolist())


def gradcheck(fn, *inputs):
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-4)


def randn(*shape):
    return RNG.standard_normal(shape)


def np_bn(x, mean, var, w, b, eps):
    shape = [1, -1] + [1] * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(
        shape
    ) + b.reshape(shape)


def test_batchnorm2d_training_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.1).double()
    with torch.no_grad():
        bn.weight.copy_(T(np.array([1.0, 2.0, 0.5])))
        bn.bias.copy_(T(np.array([0.0, -1.0, 0.3])))
    x = randn(4, 3, 5, 2) * 2 + 1
    out = bn(T(x))
    mean = x.mean((0, 2, 3))
    var = x.var((0, 2, 3))
    ref = np_bn(x, mean, var, np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 0.3]), 1e-5)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-8, atol=1e-10)
    n = 4 * 5 * 2
    np.testing.assert_allclose(to_np(bn.running_mean), 0.1 * mean, rtol=1e-8)
    np.testing.assert_allclose(to_np(bn.running_var), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-8)
    assert int(bn.num_batches_tracked) == 1
    bn(T(x))
    assert int(bn.num_batches_tracked) == 2


def test_batchnorm_eval_uses_running_stats():
    bn = nn.BatchNorm1d(2).double()
    with torch.no_grad():
        bn.running_mean.copy_(T(np.array([1.0, -1.0])))
        bn.running_var.copy_(T(np.array([4.0, 0.25])))
    bn.eval()
    x = randn(3, 2)
    ref = np_bn(x, np.array([1.0, -1.0]), np.array([4.0, 0.25]), np.ones(2), np.zeros(2), 1e-5)
    np.testing.assert_allclose(to_np(bn(T(x))), ref, rtol=1e-8)
    assert int(bn.num_batches_tracked) == 0


def test_batchnorm_cumulative_momentum_and_no_tracking():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    a, b = randn(5, 2), randn(5, 2) + 3
    bn(T(a))
    bn(T(b))
    np.testing.assert_allclose(to_np(bn.running_mean), (a.mean(0) + b.mean(0)) / 2, rtol=1e-8)
    free = nn.BatchNorm1d(2, affine=False, track_running_stats=False).double()
    assert free.running_mean is None and free.weight is None
    assert [n for n, _ in free.named_buffers()] == []
    x = randn(6, 2, 3)
    free.eval()
    ref = np_bn(x, x.mean((0, 2)), x.var((0, 2)), np.ones(2), np.zeros(2), 1e-5)
    np.testing.assert_allclose(to_np(free(T(x))), ref, rtol=1e-8)


def test_batchnorm_errors_repr_and_state():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match="expected 4D input"):
        bn(torch.randn(2, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(torch.randn(1, 3))
    assert repr(bn) == (
        "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert bn.num_batches_tracked.dtype == torch.int64


def test_batchnorm_gradcheck():
    w, b = T(randn(3), True), T(randn(3), True)
    gradcheck(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        T(randn(4, 3, 2), True),
        w,
        b,
    )


def test_layernorm():
    ln = nn.LayerNorm([3, 4]).double()
    with torch.no_grad():
        ln.weight.copy_(T(randn(3, 4)))
        ln.bias.copy_(T(randn(3, 4)))
    x = randn(2, 5, 3, 4)
    mu = x.mean((2, 3), keepdims=True)
    var = x.var((2, 3), keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-5) * to_np(ln.weight) + to_np(ln.bias)
    np.testing.assert_allclose(to_np(ln(T(x))), ref, rtol=1e-8, atol=1e-10)
    assert repr(nn.LayerNorm(8)) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert nn.LayerNorm(4, bias=False).bias is None
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    gradcheck(
        lambda x, w, b: F.layer_norm(x, (4,), w, b),
        T(randn(3, 4), True),
        T(randn(4), True),
        T(randn(4), True),
    )
    with pytest.raises(RuntimeError):
        nn.LayerNorm(5)(torch.randn(2, 4))


def test_groupnorm():
    gn = nn.GroupNorm(2, 4).double()
    with torch.no_grad():
        gn.weight.copy_(T(randn(4)))
        gn.bias.copy_(T(randn(4)))
    x = randn(3, 4, 5)
    g = x.reshape(3, 2, 10)
    norm = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)
    ref = norm.reshape(3, 4, 5) * to_np(gn.weight)[:, None] + to_np(gn.bias)[:, None]
    np.testing.assert_allclose(to_np(gn(T(x))), ref, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError):
        nn.GroupNorm(3, 4)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    gradcheck(lambda x, w: F.group_norm(x, 2, w), T(randn(2, 4, 3), True), T(randn(4), True))


def test_rmsnorm():
    rn = nn.RMSNorm(4, eps=1e-6).double()
    with torch.no_grad():
        rn.weight.copy_(T(randn(4)))
    x = randn(3, 4)
    ref = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * to_np(rn.weight)
    np.testing.assert_allclose(to_np(rn(T(x))), ref, rtol=1e-10)
    default = nn.RMSNorm([4])
    x32 = randn(2, 4).astype(np.float32)
    ref32 = x32 / np.sqrt((x32 * x32).mean(-1, keepdims=True) + np.finfo(np.float32).eps)
    np.testing.assert_allclose(to_np(default(T(x32))), ref32, rtol=1e-5)
    assert repr(default) == "RMSNorm((4,), eps=None, elementwise_affine=True)"
    gradcheck(lambda x, w: F.rms_norm(x, (4,), w, 1e-5), T(randn(2, 4), True), T(randn(4), True))


def test_instancenorm():
    inn = nn.InstanceNorm2d(3).double()
    x = randn(2, 3, 4, 4)
    mu = x.mean((2, 3), keepdims=True)
    ref = (x - mu) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(to_np(inn(T(x))), ref, rtol=1e-8, atol=1e-10)
    assert tuple(inn(T(x[0])).shape) == (3, 4, 4)
