"""Loss functions and modules against numpy, every reduction, and gradients."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F

RNG = np.random.default_rng(4)


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


def reduce(x, reduction):
    return {"none": x, "mean": x.mean(), "sum": x.sum()}[reduction]


def log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


RED = ["none", "mean", "sum"]


@pytest.mark.parametrize("reduction", RED)
def test_regression_losses(reduction):
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)) * 2
    d = x - y
    cases = [
        (F.mse_loss, {}, d**2),
        (F.l1_loss, {}, np.abs(d)),
        (
            F.smooth_l1_loss,
            {"beta": 0.5},
            np.where(np.abs(d) < 0.5, 0.5 * d**2 / 0.5, np.abs(d) - 0.25),
        ),
        (
            F.huber_loss,
            {"delta": 0.7},
            np.where(np.abs(d) < 0.7, 0.5 * d**2, 0.7 * (np.abs(d) - 0.35)),
        ),
    ]
    for fn, kw, ref in cases:
        out = fn(T(x), T(y), reduction=reduction, **kw)
        np.testing.assert_allclose(to_np(out), reduce(ref, reduction), rtol=1e-10)
        gradcheck(
            lambda a, b, fn=fn, kw=kw: fn(a, b, reduction=reduction, **kw), T(x, True), T(y, True)
        )


def test_regression_modules_and_defaults():
    x, y = T(RNG.standard_normal(5)), T(RNG.standard_normal(5))
    for mod, fn in [
        (nn.MSELoss(), F.mse_loss),
        (nn.L1Loss(), F.l1_loss),
        (nn.SmoothL1Loss(beta=2.0), lambda a, b: F.smooth_l1_loss(a, b, beta=2.0)),
        (nn.HuberLoss(delta=0.3), lambda a, b: F.huber_loss(a, b, delta=0.3)),
    ]:
        np.testing.assert_allclose(to_np(mod(x, y)), to_np(fn(x, y)))
    assert nn.MSELoss(reduction="sum").reduction == "sum"
    assert repr(nn.MSELoss()) == "MSELoss()"
    np.testing.assert_allclose(to_np(F.smooth_l1_loss(x, y, beta=0.0)), to_np(F.l1_loss(x, y)))
    with pytest.warns(UserWarning):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.raises(ValueError):
        F.mse_loss(x, y, reduction="avg")


def np_ce(x, t, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """x: (N, C, ...) logits, t: (N, ...) class indices."""
    c = x.shape[1]
    logp = log_softmax(x, 1)
    w = np.ones(c) if weight is None else weight
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    wt = w[safe] * valid
    nll = -picked * wt
    smooth = -(logp * w.reshape([1, c] + [1] * (x.ndim - 2))).sum(1) * valid
    if reduction == "none":
        return (1 - ls) * nll + ls / c * smooth
    if reduction == "sum":
        return (1 - ls) * nll.sum() + ls / c * smooth.sum()
    return (1 - ls) * nll.sum() / wt.sum() + ls / c * smooth.sum() / wt.sum()


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_class_indices(reduction, weighted, ls):
    x = RNG.standard_normal((6, 4))
    t = np.array([0, 3, 1, -100, 2, 3])
    w = RNG.uniform(0.5, 2, 4) if weighted else None
    out = F.cross_entropy(
        T(x), T(t), weight=None if w is None else T(w), reduction=reduction, label_smoothing=ls
    )
    np.testing.assert_allclose(to_np(out), np_ce(x, t, w, -100, reduction, ls), rtol=1e-9)
    gradcheck(
        lambda a: F.cross_entropy(
            a, T(t), None if w is None else T(w), reduction=reduction, label_smoothing=ls
        ),
        T(x, True),
    )


def test_cross_entropy_nd_and_unbatched():
    x = RNG.standard_normal((2, 3, 4, 5))
    t = RNG.integers(0, 3, (2, 4, 5))
    for red in RED:
        np.testing.assert_allclose(
            to_np(F.cross_entropy(T(x), T(t), reduction=red)), np_ce(x, t, reduction=red), rtol=1e-9
        )
    x1 = RNG.standard_normal(5)
    out = F.cross_entropy(T(x1), T(np.array(2)))
    np.testing.assert_allclose(to_np(out), -log_softmax(x1, 0)[2], rtol=1e-10)
    for red in RED:
        un = F.cross_entropy(T(x1), T(np.array(2)), reduction=red)
        assert tuple(un.shape) == ()
        un = F.nll_loss(T(log_softmax(x1, 0)), T(np.array(2)), reduction=red)
        assert tuple(un.shape) == ()
        np.testing.assert_allclose(to_np(un), -log_softmax(x1, 0)[2], rtol=1e-10)
    out = F.cross_entropy(T(x), T(t), ignore_index=1)
    np.testing.assert_allclose(to_np(out), np_ce(x, t, ignore_index=1), rtol=1e-9)


@pytest.mark.parametrize("reduction", RED)
def test_cross_entropy_probability_targets(reduction):
    x = RNG.standard_normal((5, 3))
    p = RNG.random((5, 3))
    p /= p.sum(1, keepdims=True)
    w = RNG.uniform(0.5, 2, 3)
    for ls, weight in [(0.0, None), (0.1, w)]:
        pt = p * (1 - ls) + ls / 3
        loss = -(log_softmax(x, 1) * pt * (1 if weight is None else weight)).sum(1)
        ref = {"none": loss, "sum": loss.sum(), "mean": loss.sum() / 5}[reduction]
        out = F.cross_entropy(
            T(x),
            T(p),
            weight=None if weight is None else T(weight),
            reduction=reduction,
            label_smoothing=ls,
        )
        np.testing.assert_allclose(to_np(out), ref, rtol=1e-9)
    gradcheck(lambda a, b: F.cross_entropy(a, b, reduction=reduction), T(x, True), T(p, True))


def test_cross_entropy_module_and_errors():
    x = RNG.standard_normal((3, 4))
    t = np.array([1, 0, 3])
    mod = nn.CrossEntropyLoss(weight=T(np.array([1.0, 2.0, 3.0, 4.0])), label_smoothing=0.1)
    assert [n for n, _ in mod.named_buffers()] == ["weight"]
    np.testing.assert_allclose(
        to_np(mod(T(x), T(t))), np_ce(x, t, np.array([1.0, 2, 3, 4]), ls=0.1), rtol=1e-9
    )
    with pytest.raises(IndexError):
        F.cross_entropy(T(x), T(np.array([1, 0, 7])))


@pytest.mark.parametrize("reduction", RED)
def test_nll_loss(reduction):
    logp = log_softmax(RNG.standard_normal((5, 3)), 1)
    t = np.array([2, 0, 1, 1, -100])
    w = np.array([0.2, 1.0, 3.0])
    valid = t != -100
    safe = np.where(valid, t, 0)
    per = -logp[np.arange(5), safe] * w[safe] * valid
    ref = {"none": per, "sum": per.sum(), "mean": per.sum() / (w[safe] * valid).sum()}[reduction]
    out = F.nll_loss(T(logp), T(t), T(w), reduction=reduction)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-10)
    np.testing.assert_allclose(
        to_np(nn.NLLLoss(T(w), reduction=reduction)(T(logp), T(t))), ref, rtol=1e-10
    )
    gradcheck(lambda a: F.nll_loss(a, T(t), T(w), reduction=reduction), T(logp, True))


@pytest.mark.parametrize("reduction", RED)
def test_binary_cross_entropy(reduction):
    p = RNG.uniform(0.05, 0.95, (4, 3))
    y = (RNG.random((4, 3)) > 0.5).astype(np.float64)
    w = RNG.uniform(0.5, 2, (4, 3))
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * w
    out = F.binary_cross_entropy(T(p), T(y), T(w), reduction=reduction)
    np.testing.assert_allclose(to_np(out), reduce(ref, reduction), rtol=1e-10)
    np.testing.assert_allclose(
        to_np(nn.BCELoss(T(w), reduction=reduction)(T(p), T(y))), reduce(ref, reduction), rtol=1e-10
    )
    gradcheck(lambda a: F.binary_cross_entropy(a, T(y), T(w), reduction=reduction), T(p, True))


def test_binary_cross_entropy_edges():
    out = F.binary_cross_entropy(T(np.array([0.0, 1.0])), T(np.array([1.0, 0.0])), reduction="none")
    np.testing.assert_allclose(to_np(out), [100.0, 100.0])
    with pytest.raises(ValueError):
        F.binary_cross_entropy(T(np.array([0.5])), T(np.array([[1.0]])))
    with pytest.raises(RuntimeError):
        F.binary_cross_entropy(T(np.array([1.5])), T(np.array([1.0])))


@pytest.mark.parametrize("reduction", RED)
def test_bce_with_logits(reduction):
    x = RNG.standard_normal((4, 3)) * 3
    y = RNG.random((4, 3))
    pw = RNG.uniform(0.5, 3, 3)
    w = RNG.uniform(0.5, 2, (4, 3))
    logsig = -np.log1p(np.exp(-x))
    ref = -(pw * y * logsig + (1 - y) * (logsig - x)) * w
    out = F.binary_cross_entropy_with_logits(
        T(x), T(y), T(w), reduction=reduction, pos_weight=T(pw)
    )
    np.testing.assert_allclose(to_np(out), reduce(ref, reduction), rtol=1e-9)
    mod = nn.BCEWithLogitsLoss(weight=T(w), reduction=reduction, pos_weight=T(pw))
    np.testing.assert_allclose(to_np(mod(T(x), T(y))), reduce(ref, reduction), rtol=1e-9)
    gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, pos_weight=T(pw), reduction=reduction
        ),
        T(x, True),
        T(y, True),
    )


def test_bce_with_logits_is_stable():
    x = T(np.array([-1000.0, 1000.0, 0.0]), True)
    y = T(np.array([1.0, 0.0, 1.0]))
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(to_np(loss), [1000.0, 1000.0, np.log(2)], rtol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), [-1.0, 1.0, -0.5])
    with pytest.raises(ValueError):
        F.binary_cross_entropy_with_logits(x, T(np.array([1.0])))


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")
@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean", "mean"])
def test_kl_div(reduction):
    logq = log_softmax(RNG.standard_normal((3, 4)), 1)
    p = RNG.random((3, 4))
    p[0, 1] = 0.0
    p /= p.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pointwise = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0) - p * logq
    ref = {
        "none": pointwise,
        "sum": pointwise.sum(),
        "batchmean": pointwise.sum() / 3,
        "mean": pointwise.mean(),
    }[reduction]
    np.testing.assert_allclose(to_np(F.kl_div(T(logq), T(p), reduction=reduction)), ref, rtol=1e-10)
    logp = np.log(np.where(p > 0, p, 1e-3))
    ref_log = np.exp(logp) * (logp - logq)
    ref_log = {
        "none": ref_log,
        "sum": ref_log.sum(),
        "batchmean": ref_log.sum() / 3,
        "mean": ref_log.mean(),
    }[reduction]
    out = nn.KLDivLoss(reduction=reduction, log_target=True)(T(logq), T(logp))
    np.testing.assert_allclose(to_np(out), ref_log, rtol=1e-10)
    gradcheck(lambda a: F.kl_div(a, T(p), reduction=reduction), T(logq, True))


@pytest.mark.parametrize("reduction", RED)
def test_cosine_embedding_and_margin_ranking(reduction):
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    ref = np.where(y == 1, 1 - cos, np.maximum(cos - 0.1, 0))
    out = F.cosine_embedding_loss(T(a), T(b), T(y), margin=0.1, reduction=reduction)
    np.testing.assert_allclose(to_np(out), reduce(ref, reduction), rtol=1e-10)
    mod = nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction)
    np.testing.assert_allclose(to_np(mod(T(a), T(b), T(y))), reduce(ref, reduction), rtol=1e-10)
    gradcheck(
        lambda p, q: F.cosine_embedding_loss(p, q, T(y), 0.1, reduction=reduction),
        T(a, True),
        T(b, True),
    )
    x1, x2 = RNG.standard_normal(5), RNG.standard_normal(5)
    ref = np.maximum(-y * (x1 - x2) + 0.5, 0)
    out = F.margin_ranking_loss(T(x1), T(x2), T(y), margin=0.5, reduction=reduction)
    np.testing.assert_allclose(to_np(out), reduce(ref, reduction), rtol=1e-10)
    mod = nn.MarginRankingLoss(0.5, reduction=reduction)
    np.testing.assert_allclose(to_np(mod(T(x1), T(x2), T(y))), reduce(ref, reduction))


def test_other_losses():
    x, y = RNG.standard_normal(6), np.sign(RNG.standard_normal(6))
    np.testing.assert_allclose(
        to_np(F.soft_margin_loss(T(x), T(y))), np.log1p(np.exp(-y * x)).mean(), rtol=1e-10
    )
    np.testing.assert_allclose(
        to_np(F.hinge_embedding_loss(T(x), T(y), margin=1.0)),
        np.where(y == 1, x, np.maximum(1 - x, 0)).mean(),
        rtol=1e-10,
    )
    a, p, n = (RNG.standard_normal((4, 3)) for _ in range(3))
    dp = np.linalg.norm(a - p + 1e-6, axis=1)
    dn = np.linalg.norm(a - n + 1e-6, axis=1)
    np.testing.assert_allclose(
        to_np(nn.TripletMarginLoss()(T(a), T(p), T(n))),
        np.maximum(1 + dp - dn, 0).mean(),
        rtol=1e-10,
    )
    rate, counts = RNG.standard_normal(5), RNG.integers(0, 4, 5).astype(np.float64)
    np.testing.assert_allclose(
        to_np(F.poisson_nll_loss(T(rate), T(counts))),
        (np.exp(rate) - counts * rate).mean(),
        rtol=1e-10,
    )
    mu, tgt, var = RNG.standard_normal(4), RNG.standard_normal(4), RNG.uniform(0.5, 2, 4)
    np.testing.assert_allclose(
        to_np(F.gaussian_nll_loss(T(mu), T(tgt), T(var))),
        (0.5 * (np.log(var) + (mu - tgt) ** 2 / var)).mean(),
        rtol=1e-10,
    )
