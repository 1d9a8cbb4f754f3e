"""The composed fallbacks agree with the fused kernels (values and gradients).

Each functional uses a fused core kernel when one exists; this file forces the
composition path and compares it with the default path, so both stay covered.
"""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch.nn.functional import _core

RNG = np.random.default_rng(8)
FUSED = [
    "softmax",
    "log_softmax",
    "layer_norm",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool2d",
    "embedding",
    "batch_norm",
    "group_norm",
    "dropout",
    "rms_norm",
]
FUSED_C = [
    "_cross_entropy",
    "_nll_loss",
    "_max_pool2d_with_indices",
    "_avg_pool2d",
    "_unfold",
    "_fold",
]


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


def run(fn, arrays, composed, monkeypatch):
    with monkeypatch.context() as m:
        if composed:
            for name in FUSED:
                m.setitem(_core.HAS, name, False)
            for name in FUSED_C:
                m.setitem(_core.HAS_C, name, False)
        inputs = [T(a, a.dtype == np.float64) for a in arrays]
        out = fn(*inputs)
        out = out[0] if isinstance(out, tuple) else out
        weights = T(np.random.default_rng(0).standard_normal(tuple(out.shape)))
        (out * weights).sum().backward()
        return to_np(out), [to_np(i.grad) for i in inputs if i.grad is not None]


def x(*shape):
    return RNG.standard_normal(shape)


_NLL_WEIGHT = T(np.abs(x(3)))
_ND_TARGET = T(RNG.integers(0, 3, (2, 4)))
CASES = [
    (
        "conv2d",
        lambda a, w, b: F.conv2d(a, w, b, (2, 1), (1, 2), (1, 2), 2),
        [x(2, 4, 7, 8), x(6, 2, 3, 3), x(6)],
    ),
    ("conv2d_same", lambda a, w: F.conv2d(a, w, padding="same"), [x(1, 2, 5, 6), x(3, 2, 4, 3)]),
    ("conv1d", lambda a, w, b: F.conv1d(a, w, b, 2, 1, 1, 1), [x(2, 3, 9), x(4, 3, 3), x(4)]),
    (
        "conv_transpose2d",
        lambda a, w, b: F.conv_transpose2d(a, w, b, 2, 1, 1, 2, 1),
        [x(2, 4, 3, 4), x(4, 3, 3, 3), x(6)],
    ),
    ("max_pool2d", lambda a: F.max_pool2d(a, 3, 2, 1, ceil_mode=True), [x(2, 3, 7, 8)]),
    ("max_pool2d_idx", lambda a: F.max_pool2d(a, 2, return_indices=True), [x(1, 2, 6, 6)]),
    ("max_pool1d", lambda a: F.max_pool1d(a, 3, 2, 1), [x(2, 3, 9)]),
    ("avg_pool2d", lambda a: F.avg_pool2d(a, 3, 2, 1, True, False), [x(2, 2, 7, 6)]),
    ("layer_norm", lambda a, w, b: F.layer_norm(a, (4,), w, b), [x(3, 5, 4), x(4), x(4)]),
    (
        "batch_norm",
        lambda a, w, b: F.batch_norm(a, None, None, w, b, True),
        [x(4, 3, 5), x(3), x(3)],
    ),
    ("group_norm", lambda a, w, b: F.group_norm(a, 2, w, b), [x(2, 4, 3, 3), x(4), x(4)]),
    ("rms_norm", lambda a, w: F.rms_norm(a, (4,), w, 1e-6), [x(3, 4), x(4)]),
    ("softmax", lambda a: F.softmax(a, 1), [x(3, 5)]),
    ("log_softmax", lambda a: F.log_softmax(a, 0), [x(3, 5)]),
    (
        "embedding",
        lambda w: F.embedding(T(np.array([[0, 3], [3, 1]])), w, padding_idx=1),
        [x(4, 3)],
    ),
    (
        "cross_entropy",
        lambda a: F.cross_entropy(a, T(np.array([0, 2, -100, 1])), label_smoothing=0.1),
        [x(4, 3)],
    ),
    (
        "cross_entropy_nd",
        lambda a: F.cross_entropy(a, _ND_TARGET, reduction="none"),
        [x(2, 3, 4)],
    ),
    (
        "nll_loss",
        lambda a: F.nll_loss(a, T(np.array([2, 0, 1])), _NLL_WEIGHT, reduction="sum"),
        [x(3, 3)],
    ),
    ("unfold", lambda a: F.unfold(a, (2, 3), 1, 1, (2, 1)), [x(2, 2, 5, 4)]),
    ("fold", lambda a: F.fold(a, (4, 5), 2, 1, 0, 1), [x(2, 8, 12)]),
]


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_composition_matches_default_path(name, fn, arrays, monkeypatch):
    seed = int(RNG.integers(0, 1000))
    torch.manual_seed(seed)
    out_default, grads_default = run(fn, arrays, False, monkeypatch)
    torch.manual_seed(seed)
    out_composed, grads_composed = run(fn, arrays, True, monkeypatch)
    np.testing.assert_allclose(out_composed, out_default, rtol=1e-9, atol=1e-12)
    assert len(grads_composed) == len(grads_default)
    for a, b in zip(grads_composed, grads_default):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_composed_dropout_statistics(monkeypatch):
    monkeypatch.setitem(_core.HAS, "dropout", False)
    torch.manual_seed(0)
    x = torch.ones(100, 100, requires_grad=True)
    y = F.dropout(x, 0.3)
    kept = to_np(y) != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(to_np(y)[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), to_np(y))
