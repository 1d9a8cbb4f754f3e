"""nn.utils: gradient clipping and parameter/vector conversion."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
from rtorch.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


def T(a):
    a = np.asarray(a)
    return torch.tensor(a.tolist(), dtype=getattr(torch, str(a.dtype)))


def to_np(t):
    t = t.detach()
    try:
        return t.numpy()
    except Exception:
        return np.array(t.tolist())


def params_with_grads(grads):
    ps = []
    for g in grads:
        p = nn.Parameter(torch.zeros(len(g), dtype=torch.float64))
        p.grad = T(np.array(g, dtype=np.float64))
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm(norm_type):
    grads = [[3.0, -4.0], [12.0]]
    ps = params_with_grads(grads)
    flat = np.array([3.0, -4.0, 12.0])
    total = (
        np.abs(flat).max()
        if norm_type == math.inf
        else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    )
    out = clip_grad_norm_(ps, max_norm=1.0, norm_type=norm_type)
    assert isinstance(out, torch.Tensor)
    assert float(out) == pytest.approx(total)
    coef = min(1.0 / (total + 1e-6), 1.0)
    np.testing.assert_allclose(to_np(ps[0].grad), np.array(grads[0]) * coef, rtol=1e-9)
    np.testing.assert_allclose(to_np(ps[1].grad), np.array(grads[1]) * coef, rtol=1e-9)


def test_clip_grad_norm_noop_when_small_and_single_tensor():
    ps = params_with_grads([[0.3, 0.4]])
    total = clip_grad_norm_(ps[0], max_norm=10)
    assert float(total) == pytest.approx(0.5)
    np.testing.assert_allclose(to_np(ps[0].grad), [0.3, 0.4])
    assert float(clip_grad_norm_([nn.Parameter(torch.zeros(2))], 1.0)) == 0.0


def test_clip_grad_norm_nonfinite():
    ps = params_with_grads([[float("inf"), 1.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    clip_grad_norm_(ps, 1.0)


def test_clip_grad_value():
    ps = params_with_grads([[-3.0, 0.5, 2.0]])
    clip_grad_value_(ps, 1.0)
    np.testing.assert_allclose(to_np(ps[0].grad), [-1.0, 0.5, 1.0])


def test_parameters_to_vector_round_trip():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(net.parameters())
    assert tuple(vec.shape) == (3 * 2 + 2 + 2 + 1,)
    np.testing.assert_allclose(to_np(vec[:6]), to_np(net[0].weight).reshape(-1))
    new = torch.arange(11, dtype=torch.float32)
    w = net[0].weight
    vector_to_parameters(new, net.parameters())
    assert net[0].weight is w
    np.testing.assert_allclose(to_np(net[0].weight).reshape(-1), np.arange(6))
    np.testing.assert_allclose(to_np(net[1].bias), [10.0])
    with pytest.raises(TypeError):
        vector_to_parameters([1.0], net.parameters())
