"""The fused Rust kernels behind nn: values against numpy, first and second derivatives
by finite differences (float64), and running-statistics updates."""

import numpy as np
import pytest

import rtorch as torch
from rtorch.autograd import gradcheck, gradgradcheck


def f64(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)


def test_batch_norm_training_matches_numpy_and_updates_running_stats():
    x = f64(4, 3, 5, 5)
    w, b = f64(3, seed=1), f64(3, seed=2)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    y = torch.batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5, False)
    xn = x.detach().numpy()
    mean = xn.mean(axis=(0, 2, 3))
    var = xn.var(axis=(0, 2, 3))
    ref = (xn - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    ref = ref * w.detach().numpy()[None, :, None, None] + b.detach().numpy()[None, :, None, None]
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    n = 4 * 5 * 5
    np.testing.assert_allclose(rm.numpy(), 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients(training):
    x, w, b = f64(3, 2, 4), f64(2, seed=1), f64(2, seed=2)
    rm, rv = torch.zeros(2, dtype=torch.float64), torch.full((2,), 2.0, dtype=torch.float64)

    def fn(x, w, b):
        return torch.batch_norm(x, w, b, rm.clone(), rv.clone(), training, 0.1, 1e-5, False)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.batch_norm(torch.randn(1, 3), None, None, None, None, True, 0.1, 1e-5, False)
    with pytest.raises(RuntimeError, match="running_mean and running_var"):
        torch.batch_norm(torch.randn(2, 3), None, None, None, None, False, 0.1, 1e-5, False)


def test_layer_norm_gradients():
    x, w, b = f64(3, 4), f64(4, seed=1), f64(4, seed=2)
    fn = lambda x, w, b: torch.layer_norm(x, [4], w, b, 1e-5)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 1, 2, 2)])
def test_conv2d_gradients(stride, padding, dilation, groups):
    x, w, b = f64(2, 4, 5, 5), f64(2, 4 // groups, 3, 3, seed=1), f64(2, seed=2)
    fn = lambda x, w, b: torch.conv2d(x, w, b, stride, padding, dilation, groups)  # noqa: E731
    assert gradcheck(fn, (x, w, b))


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    x, w = f64(1, 2, 4, 4), f64(2, 3, 3, 3, seed=1)
    y = f64(1, 3, 6, 6, seed=2)
    # <conv_transpose(x, w), y> == <x, conv(y, w)>
    lhs = (torch.conv_transpose2d(x, w) * y).sum()
    rhs = (x * torch.conv2d(y, w)).sum()
    assert abs(lhs.item() - rhs.item()) < 1e-9
    assert gradcheck(lambda x, w: torch.conv_transpose2d(x, w, None, 2, 1), (x, w))


def test_pooling_gradients():
    x = f64(1, 2, 5, 5)
    assert gradcheck(lambda x: torch.max_pool2d(x, 2, 2, 0, 1, True), (x,))
    assert gradcheck(lambda x: torch._C._avg_pool2d(x, 3, 2, 1, False, False, None), (x,))


def test_unfold_fold_are_adjoint():
    x = f64(1, 2, 4, 4)
    cols = torch._C._unfold(x, 2, 1, 0, 1)
    assert tuple(cols.shape) == (1, 8, 9)
    y = f64(1, 8, 9, seed=1)
    lhs = (cols * y).sum().item()
    rhs = (x * torch._C._fold(y, (4, 4), 2, 1, 0, 1)).sum().item()
    assert abs(lhs - rhs) < 1e-9
    assert gradgradcheck(lambda x: torch._C._unfold(x, 2, 1, 0, 1), (x,))


def test_cross_entropy_matches_numpy_with_weights_ignore_and_smoothing():
    logits = f64(5, 4)
    target = torch.tensor([0, 3, 1, -100, 2])
    weight = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)
    got = torch._C._cross_entropy(logits, target, weight, -100, 0.1, "mean")
    z = logits.detach().numpy()
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    wn, t = weight.numpy(), target.numpy()
    valid = t != -100
    tv = np.where(valid, t, 0)
    nll = -wn[tv] * logp[np.arange(5), tv] * valid
    smooth = -(logp * wn).sum(1) * valid
    ref = (0.9 * nll + 0.1 / 4 * smooth).sum() / (wn[tv] * valid).sum()
    assert abs(got.item() - ref) < 1e-10
    assert gradcheck(lambda x: torch._C._cross_entropy(x, target, weight, -100, 0.1, "mean"), (logits,))


@pytest.mark.parametrize(
    "call,exc,msg",
    [
        (lambda: torch.max_pool2d(torch.randn(1, 1, 4, 4), 2, 0), RuntimeError, "stride should be greater than zero"),
        (lambda: torch.max_pool2d(torch.randn(1, 1, 4, 4), 0), RuntimeError, "kernel size should be greater than zero"),
        (lambda: torch.conv2d(torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3), None, 0), RuntimeError, "stride"),
        (lambda: torch.conv2d(torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3), None, 1, 0, 0), RuntimeError, "dilation"),
        (lambda: torch.conv_transpose2d(torch.randn(1, 1, 2, 2), torch.randn(1, 1, 3, 3), None, 0), RuntimeError, "stride"),
        (lambda: torch.randn(2, 3).softmax(0, dtype=torch.int64), RuntimeError, "softmax: expected a floating point"),
        (lambda: torch.embedding(torch.randn(5), torch.tensor([1])), RuntimeError, "must be 2-D"),
        (lambda: torch._C._adam_step([torch.zeros(2)], [], [], [], [], [], 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False, False), ValueError, "one entry per parameter"),
    ],
)
def test_bad_arguments_raise_python_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()
