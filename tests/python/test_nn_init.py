"""nn.init: gains, fans, distributions, and no_grad behaviour."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
from rtorch.nn import init


def to_np(t):
    t = t.detach()
    try:
        return t.numpy()
    except Exception:
        return np.array(t.tolist())


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(torch.empty(3, 5)) == (5, 3)
    assert init._calculate_fan_in_and_fan_out(torch.empty(8, 4, 3, 2)) == (24, 48)
    with pytest.raises(ValueError):
        init._calculate_fan_in_and_fan_out(torch.empty(3))


def test_uniform_normal_constant():
    torch.manual_seed(0)
    w = torch.empty(200, 200)
    assert init.uniform_(w, -2, 3) is w
    a = to_np(w)
    assert a.min() >= -2 and a.max() <= 3 and abs(a.mean() - 0.5) < 0.05
    init.normal_(w, 1.0, 2.0)
    a = to_np(w)
    assert abs(a.mean() - 1) < 0.05 and abs(a.std() - 2) < 0.05
    init.constant_(w, 0.3)
    assert np.allclose(to_np(w), 0.3)
    init.ones_(w)
    assert np.all(to_np(w) == 1)
    init.zeros_(w)
    assert np.all(to_np(w) == 0)


def test_init_runs_without_grad_on_parameters():
    p = nn.Parameter(torch.empty(3, 4))
    init.kaiming_uniform_(p)
    init.xavier_normal_(p)
    init.trunc_normal_(p)
    init.orthogonal_(p)
    assert p.grad_fn is None and p.requires_grad


def test_eye_and_dirac():
    w = torch.empty(3, 5)
    init.eye_(w)
    np.testing.assert_array_equal(to_np(w), np.eye(3, 5))
    with pytest.raises(ValueError):
        init.eye_(torch.empty(2, 2, 2))
    c = torch.empty(2, 2, 3, 3)
    init.dirac_(c)
    arr = to_np(c)
    assert arr[0, 0, 1, 1] == 1 and arr[1, 1, 1, 1] == 1 and arr.sum() == 2


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(mode):
    torch.manual_seed(1)
    w = torch.empty(256, 128)
    fan = 128 if mode == "fan_in" else 256
    init.kaiming_uniform_(w, mode=mode, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan)
    a = to_np(w)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.98 * bound
    init.kaiming_normal_(w, mode=mode, nonlinearity="relu")
    assert abs(to_np(w).std() - math.sqrt(2 / fan)) < 0.03 * math.sqrt(2 / fan)
    with pytest.raises(ValueError):
        init.kaiming_uniform_(w, mode="fan_avg")


def test_xavier():
    torch.manual_seed(2)
    w = torch.empty(100, 300)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 400)
    a = to_np(w)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.98 * bound
    init.xavier_normal_(w)
    assert abs(to_np(w).std() - math.sqrt(2 / 400)) < 0.03 * math.sqrt(2 / 400)


def test_trunc_normal():
    torch.manual_seed(3)
    w = torch.empty(100, 100)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-0.5, b=1.0)
    a = to_np(w)
    assert a.min() >= -0.5 and a.max() <= 1.0
    # mean of N(0.5, 1) truncated to [-0.5, 1]
    from math import erf, exp, pi, sqrt

    def pdf(z):
        return exp(-z * z / 2) / sqrt(2 * pi)

    def cdf(z):
        return (1 + erf(z / sqrt(2))) / 2

    alpha, beta = -1.0, 0.5
    mean = 0.5 + (pdf(alpha) - pdf(beta)) / (cdf(beta) - cdf(alpha))
    assert abs(a.mean() - mean) < 0.02


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3)])
def test_orthogonal(shape):
    torch.manual_seed(4)
    w = torch.empty(*shape)
    init.orthogonal_(w, gain=2.0)
    m = to_np(w).reshape(shape[0], -1) / 2.0
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-5)
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-5)
    with pytest.raises(ValueError):
        init.orthogonal_(torch.empty(3))


def test_zero_element_warns():
    with pytest.warns(UserWarning):
        init.kaiming_uniform_(torch.empty(0, 3))
