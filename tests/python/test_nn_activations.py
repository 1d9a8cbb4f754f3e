"""Activation functions and modules: values against numpy, gradients, reprs."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F

RNG = np.random.default_rng(2)
_erf = np.vectorize(math.erf)


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


def softplus_np(x, beta=1.0, threshold=20.0):
    return np.where(
        x * beta > threshold, x, np.log1p(np.exp(np.minimum(x * beta, threshold))) / beta
    )


def sigmoid_np(x):
    return 1 / (1 + np.exp(-x))


REFERENCE = {
    "relu": (lambda x: F.relu(x), lambda x: np.maximum(x, 0)),
    "relu6": (lambda x: F.relu6(x), lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x))),
    "selu": (
        lambda x: F.selu(x),
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    ),
    "celu": (lambda x: F.celu(x, 2.0), lambda x: np.where(x > 0, x, 2.0 * np.expm1(x / 2.0))),
    "gelu": (lambda x: F.gelu(x), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "silu": (lambda x: F.silu(x), lambda x: x * sigmoid_np(x)),
    "mish": (lambda x: F.mish(x), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "sigmoid": (lambda x: F.sigmoid(x), sigmoid_np),
    "tanh": (lambda x: F.tanh(x), np.tanh),
    "softplus": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: softplus_np(x, 2.0, 3.0)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    "hardswish": (lambda x: F.hardswish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hardsigmoid": (lambda x: F.hardsigmoid(x), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "logsigmoid": (lambda x: F.logsigmoid(x), lambda x: -np.log1p(np.exp(-x))),
    "softsign": (lambda x: F.softsign(x), lambda x: x / (1 + np.abs(x))),
    "tanhshrink": (lambda x: F.tanhshrink(x), lambda x: x - np.tanh(x)),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: np.where(x > 0.5, x, -2.0)),
    "softshrink": (
        lambda x: F.softshrink(x, 0.5),
        lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    ),
    "hardshrink": (lambda x: F.hardshrink(x, 0.5), lambda x: np.where(np.abs(x) > 0.5, x, 0)),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_values_and_grad(name):
    fn, ref = REFERENCE[name]
    x = RNG.uniform(-4, 4, size=(3, 7))
    np.testing.assert_allclose(to_np(fn(T(x))), ref(x), rtol=1e-7, atol=1e-10)
    # keep away from kinks, where finite differences are meaningless
    xs = RNG.uniform(-4, 4, size=(2, 5))
    for kink in (-3.0, -0.5, 0.0, 0.5, 1.5, 3.0, 6.0):
        xs = np.where(np.abs(xs - kink) < 0.05, xs + 0.2, xs)
    assert torch.autograd.gradcheck(fn, (T(xs, True),), eps=1e-6, atol=1e-4)


def test_extreme_inputs_stay_finite():
    x = T(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), True)
    for fn in (F.softplus, F.logsigmoid, F.elu, F.mish, F.silu, F.selu, F.celu):
        y = fn(x)
        y.sum().backward()
        assert np.all(np.isfinite(to_np(x.grad))), fn.__name__
        x.grad = None
    np.testing.assert_allclose(to_np(F.softplus(x))[[0, 4]], [0.0, 1000.0])
    np.testing.assert_allclose(to_np(F.logsigmoid(x))[[0, 4]], [-1000.0, 0.0])


def test_softmax_family():
    x = RNG.standard_normal((3, 4, 5))
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(to_np(F.softmax(T(x), dim=1)), sm, rtol=1e-10)
    np.testing.assert_allclose(to_np(F.log_softmax(T(x), 1)), np.log(sm), rtol=1e-10)
    np.testing.assert_allclose(to_np(nn.Softmax(dim=1)(T(x))), sm, rtol=1e-10)
    np.testing.assert_allclose(to_np(nn.LogSoftmax(1)(T(x))), np.log(sm), rtol=1e-10)
    em = np.exp(-x - (-x).max(-1, keepdims=True))
    np.testing.assert_allclose(to_np(F.softmin(T(x), -1)), em / em.sum(-1, keepdims=True))
    big = T(np.array([[1000.0, 0.0], [-1000.0, 0.0]]))
    assert np.all(np.isfinite(to_np(F.log_softmax(big, 1))))
    assert torch.autograd.gradcheck(
        lambda t: F.softmax(t, -1), (T(x[0], True),), eps=1e-6, atol=1e-4
    )
    assert torch.autograd.gradcheck(
        lambda t: F.log_softmax(t, 0), (T(x[0], True),), eps=1e-6, atol=1e-4
    )
    with pytest.warns(UserWarning):
        implicit = F.softmax(T(x[0]))
    np.testing.assert_allclose(to_np(implicit), to_np(F.softmax(T(x[0]), 1)))
    f32 = F.softmax(T(x[0]), 1, dtype=torch.float32)
    assert f32.dtype == torch.float32


def test_prelu_and_glu():
    pr = nn.PReLU(3).double()
    assert np.allclose(to_np(pr.weight), 0.25)
    x = RNG.standard_normal((2, 3, 4))
    w = np.array([0.1, 0.2, 0.3])
    with torch.no_grad():
        pr.weight.copy_(T(w))
    np.testing.assert_allclose(to_np(pr(T(x))), np.where(x > 0, x, w[None, :, None] * x))
    assert torch.autograd.gradcheck(
        lambda a, b: F.prelu(a, b), (T(x, True), T(w, True)), eps=1e-6, atol=1e-4
    )
    g = RNG.standard_normal((2, 6))
    np.testing.assert_allclose(to_np(F.glu(T(g))), g[:, :3] * sigmoid_np(g[:, 3:]))


def test_inplace_variants_modify_input_and_keep_grads():
    x = RNG.standard_normal((4,))
    t = T(x)
    out = F.relu(t, inplace=True)
    assert out is t
    np.testing.assert_allclose(to_np(t), np.maximum(x, 0))
    for fn in (
        lambda v: F.leaky_relu(v, 0.1, True),
        lambda v: F.elu(v, inplace=True),
        lambda v: F.silu(v, inplace=True),
        lambda v: F.hardtanh(v, inplace=True),
    ):
        leaf = T(x, True)
        y = leaf * 1.0
        fn(y).sum().backward()
        ref_leaf = T(x, True)
        fn(ref_leaf * 1.0).sum().backward()
        assert leaf.grad is not None
        np.testing.assert_allclose(to_np(leaf.grad), to_np(ref_leaf.grad))


def test_activation_reprs():
    cases = [
        (nn.ReLU(), "ReLU()"),
        (nn.ReLU(inplace=True), "ReLU(inplace=True)"),
        (nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
        (nn.LeakyReLU(0.2, True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
        (nn.ELU(), "ELU(alpha=1.0)"),
        (nn.GELU(), "GELU(approximate='none')"),
        (nn.GELU("tanh"), "GELU(approximate='tanh')"),
        (nn.SiLU(), "SiLU()"),
        (nn.Mish(), "Mish()"),
        (nn.Sigmoid(), "Sigmoid()"),
        (nn.Tanh(), "Tanh()"),
        (nn.Softmax(dim=-1), "Softmax(dim=-1)"),
        (nn.LogSoftmax(dim=1), "LogSoftmax(dim=1)"),
        (nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
        (nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
        (nn.Hardtanh(-2, 2, True), "Hardtanh(min_val=-2, max_val=2, inplace=True)"),
        (nn.ReLU6(), "ReLU6()"),
        (nn.ReLU6(True), "ReLU6(inplace=True)"),
        (nn.PReLU(), "PReLU(num_parameters=1)"),
        (nn.Hardswish(), "Hardswish()"),
        (nn.Hardsigmoid(), "Hardsigmoid()"),
        (nn.Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)"),
        (nn.CELU(), "CELU(alpha=1.0)"),
        (nn.SELU(inplace=True), "SELU(inplace=True)"),
        (nn.Hardshrink(), "Hardshrink(0.5)"),
        (nn.GLU(), "GLU(dim=-1)"),
    ]
    for mod, text in cases:
        assert repr(mod) == text


def test_activation_modules_match_functional():
    x = T(RNG.standard_normal((3, 4)))
    pairs = [
        (nn.ReLU(), F.relu),
        (nn.GELU(), F.gelu),
        (nn.SiLU(), F.silu),
        (nn.Mish(), F.mish),
        (nn.Softplus(), F.softplus),
        (nn.Hardswish(), F.hardswish),
        (nn.Hardsigmoid(), F.hardsigmoid),
        (nn.ELU(), F.elu),
        (nn.ReLU6(), F.relu6),
        (nn.LeakyReLU(), F.leaky_relu),
        (nn.Tanh(), torch.tanh),
        (nn.Sigmoid(), torch.sigmoid),
        (nn.LogSigmoid(), F.logsigmoid),
        (nn.Hardtanh(), F.hardtanh),
    ]
    for mod, fn in pairs:
        np.testing.assert_allclose(to_np(mod(x)), to_np(fn(x)), rtol=1e-6)


def test_gradients_at_kinks_follow_pytorch():
    def grad_at(fn, value):
        x = T(np.array([value]), True)
        fn(x).sum().backward()
        return float(to_np(x.grad)[0])

    assert grad_at(F.relu, 0.0) == 0.0
    assert grad_at(lambda x: F.elu(x, 2.0), 0.0) == 2.0
    assert grad_at(F.logsigmoid, 0.0) == 0.5
    assert grad_at(lambda x: F.leaky_relu(x, 0.1), 0.0) == pytest.approx(0.1)
    assert grad_at(F.hardswish, -3.0) == 0.0
    assert grad_at(F.hardswish, 3.0) == 1.0
    assert grad_at(F.hardswish, 0.0) == pytest.approx(0.5)
    assert grad_at(F.hardtanh, 1.0) == 0.0
    assert grad_at(F.hardtanh, -1.0) == 0.0
    assert grad_at(F.relu6, 6.0) == 0.0
    assert grad_at(F.hardsigmoid, 3.0) == 0.0
    assert grad_at(F.hardsigmoid, 0.0) == pytest.approx(1 / 6)
    assert grad_at(F.softplus, 0.0) == pytest.approx(0.5)
