"""Parametrizations, weight/spectral norm, extra losses and extra layers.

Values are checked against numpy / hand references, and side by side against PyTorch
(with copied weights) when it is installed.
"""

import warnings

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F
import rtorch.nn.utils as U
from rtorch.nn.utils import parametrizations as PZ
from rtorch.nn.utils import parametrize as P

RNG = np.random.default_rng(7)


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def arr(t):
    return np.asarray(t.detach().tolist())


def close(a, b, tol=1e-8):
    np.testing.assert_allclose(arr(a), np.asarray(b), rtol=tol, atol=tol)


def gradcheck(fn, *inputs):
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-4)


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).t()


class Double(nn.Module):
    def forward(self, x):
        return x * 2

    def right_inverse(self, x):
        return x / 2


class Split(nn.Module):
    def forward(self, a, b):
        return a + b

    def right_inverse(self, x):
        return x * 0.25, x * 0.75


# ------------------------------------------------------------------------ parametrize
def test_register_parametrization_layout_and_values():
    m = nn.Linear(3, 3)
    w = arr(m.weight)
    P.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert P.type_before_parametrizations(m) is nn.Linear
    assert isinstance(m, nn.Linear)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    close(m.weight, np.triu(w) + np.triu(w, 1).T)
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    assert "ParametrizationList(\n      (0): Symmetric()" in repr(m)
    m(torch.randn(2, 3)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None


def test_right_inverse_and_assignment():
    m = nn.Linear(3, 3)
    original = m.weight
    P.register_parametrization(m, "weight", Double())
    assert m.parametrizations.weight.original is original  # same Parameter object kept
    m.weight = torch.eye(3)
    close(m.parametrizations.weight.original, np.eye(3) / 2)
    close(m.weight, np.eye(3))
    # Chained: the list is applied in order, right_inverse in reverse.
    P.register_parametrization(m, "weight", Double())
    close(m.weight, 2 * np.eye(3))
    assert len(m.parametrizations.weight) == 2
    with pytest.raises(RuntimeError, match="Symmetric does not implement right_inverse"):
        s = nn.Linear(2, 2)
        P.register_parametrization(s, "weight", Symmetric())
        s.weight = torch.eye(2)


def test_sequence_right_inverse_names_originals():
    m = nn.Linear(2, 2)
    w = arr(m.weight)
    P.register_parametrization(m, "weight", Split())
    keys = list(m.state_dict())
    assert keys == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    close(m.parametrizations.weight.original0, w * 0.25)
    close(m.weight, w)
    with pytest.raises(ValueError, match="sequence of tensors"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations")
    assert isinstance(m.weight, nn.Parameter)
    close(m.weight, w)


def test_remove_parametrizations_keeps_value_or_original():
    m = nn.Linear(3, 3)
    w = arr(m.weight)
    original = m.weight
    P.register_parametrization(m, "weight", Double())
    P.remove_parametrizations(m, "weight")
    assert m.weight is original
    close(m.weight, w)  # right_inverse stored w / 2, so the value read was w
    P.register_parametrization(m, "weight", Double())
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    close(m.weight, w / 2)
    assert list(m.state_dict()) == ["bias", "weight"]


def test_cached_computes_once():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x * 1

    m = nn.Linear(2, 2)
    P.register_parametrization(m, "weight", Counting())
    calls.clear()
    with P.cached():
        first = m.weight
        assert m.weight is first
    assert len(calls) == 1
    assert m.weight is not first
    assert len(calls) == 2


def test_parametrize_errors():
    with pytest.raises(ValueError, match="may not change the shape"):

        class First(nn.Module):
            def forward(self, x):
                return x[0]

        P.register_parametrization(nn.Linear(3, 3), "weight", First())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(nn.Linear(3, 3), "weight")
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        P.register_parametrization(nn.Linear(3, 3), "foo", Symmetric())


def test_parametrize_buffer_and_state_dict_roundtrip():
    m = nn.BatchNorm1d(3)
    P.register_parametrization(m, "running_var", Double())
    assert "parametrizations.running_var.original" in m.state_dict()
    other = nn.Linear(3, 3)
    P.register_parametrization(other, "weight", Double())
    copy = nn.Linear(3, 3)
    P.register_parametrization(copy, "weight", Double())
    copy.load_state_dict(other.state_dict())
    close(copy.weight, arr(other.weight))


# ----------------------------------------------------------------- weight/spectral norm
def test_parametrized_weight_norm_layout_and_value():
    m = PZ.weight_norm(nn.Linear(3, 4))
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {
        "bias": (4,),
        "parametrizations.weight.original0": (4, 1),
        "parametrizations.weight.original1": (4, 3),
    }
    v = arr(m.parametrizations.weight.original1)
    g = arr(m.parametrizations.weight.original0)
    close(m.weight, v * g / np.linalg.norm(v, axis=1, keepdims=True), 1e-6)
    whole = PZ.weight_norm(nn.Linear(3, 4), dim=None)
    assert tuple(whole.parametrizations.weight.original0.shape) == ()
    conv = PZ.weight_norm(nn.Conv2d(3, 4, 2), dim=1)
    assert tuple(conv.parametrizations.weight.original0.shape) == (1, 3, 1, 1)


def test_hook_weight_norm_layout_value_and_removal():
    m = U.weight_norm(nn.Linear(3, 4))
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {
        "bias": (4,),
        "weight_g": (4, 1),
        "weight_v": (4, 3),
    }
    with torch.no_grad():
        m.weight_g.fill_(2.0)
    x = torch.randn(2, 3)
    out = m(x)
    v = arr(m.weight_v)
    close(m.weight, 2 * v / np.linalg.norm(v, axis=1, keepdims=True), 1e-6)
    out.sum().backward()
    assert m.weight_g.grad is not None and m.weight_v.grad is not None
    U.remove_weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        U.remove_weight_norm(m)
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        U.weight_norm(U.weight_norm(nn.Linear(2, 2)))
    assert tuple(U.weight_norm(nn.Linear(3, 4), dim=None).weight_g.shape) == ()


def _top_singular(w):
    return np.linalg.svd(w.reshape(w.shape[0], -1), compute_uv=False)[0]


def test_spectral_norm_parametrization():
    m = PZ.spectral_norm(nn.Linear(5, 4))
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {
        "bias": (4,),
        "parametrizations.weight.original": (4, 5),
        "parametrizations.weight.0._u": (4,),
        "parametrizations.weight.0._v": (5,),
    }
    for _ in range(30):
        weight = m.weight
    assert abs(_top_singular(arr(weight)) - 1.0) < 1e-3
    assert abs(_top_singular(arr(m.weight)) - 1.0) < 1e-3
    m.eval()
    u_before = arr(m.parametrizations.weight[0]._u)
    assert m.weight is not None
    close(m.parametrizations.weight[0]._u, u_before)
    t = PZ.spectral_norm(nn.ConvTranspose2d(3, 4, 2))
    assert tuple(t.parametrizations.weight[0]._u.shape) == (4,)
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        PZ.spectral_norm(nn.Linear(3, 4), n_power_iterations=0)


def test_hook_spectral_norm():
    m = U.spectral_norm(nn.Linear(5, 4))
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"]
    assert [n for n, _ in m.named_buffers()] == ["weight_u", "weight_v"]
    for _ in range(30):
        m(torch.randn(2, 5))
    assert abs(_top_singular(arr(m.weight)) - 1.0) < 1e-3
    m(torch.randn(2, 5)).sum().backward()
    assert m.weight_orig.grad is not None
    U.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        U.spectral_norm(U.spectral_norm(nn.Linear(2, 2)))


def test_norms_vs_torch(real_torch):
    ref = real_torch
    src = nn.Linear(4, 3).double()
    tgt = ref.nn.Linear(4, 3).double()
    tgt.load_state_dict({k: ref.tensor(arr(v)) for k, v in src.state_dict().items()})
    PZ.spectral_norm(src)
    ref.nn.utils.parametrizations.spectral_norm(tgt)
    theirs = {k: arr(v) for k, v in src.state_dict().items()}
    tgt.load_state_dict({k: ref.tensor(v) for k, v in theirs.items()})
    x = RNG.standard_normal((2, 4))
    for _ in range(3):  # training: power iterations on copied u, v agree
        ours = arr(src(T(x)))
        np.testing.assert_allclose(ours, tgt(ref.tensor(x)).detach().numpy(), atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = U.weight_norm(nn.Linear(4, 3).double())
        b = ref.nn.utils.weight_norm(ref.nn.Linear(4, 3).double())
    assert list(a.state_dict()) == list(b.state_dict())
    b.load_state_dict({k: ref.tensor(arr(v)) for k, v in a.state_dict().items()})
    np.testing.assert_allclose(arr(a(T(x))), b(ref.tensor(x)).detach().numpy(), atol=1e-12)


# ------------------------------------------------------------------------------ losses
def _multi_margin_ref(x, y, p, margin, w):
    out = []
    for xi, yi in zip(x, y):
        terms = [
            max(0.0, margin - xi[yi] + xi[i]) ** p * (1 if w is None else w[yi])
            for i in range(len(xi))
            if i != yi
        ]
        out.append(sum(terms) / len(xi))
    return np.array(out)


def _multilabel_margin_ref(x, y):
    out = []
    for xi, yi in zip(x, y):
        targets = []
        for t in yi:
            if t < 0:
                break
            targets.append(t)
        total = sum(
            max(0.0, 1 - (xi[j] - xi[i]))
            for j in targets
            for i in range(len(xi))
            if i not in targets
        )
        out.append(total / len(xi))
    return np.array(out)


def test_multi_margin_values_and_grad():
    x = RNG.standard_normal((4, 5))
    y = np.array([1, 0, 4, 2])
    w = RNG.random(5)
    for p in (1, 2):
        got = F.multi_margin_loss(T(x), torch.tensor(y), p=p, margin=0.7, reduction="none")
        close(got, _multi_margin_ref(x, y, p, 0.7, None))
    got = F.multi_margin_loss(T(x), torch.tensor(y), weight=T(w))
    close(got, _multi_margin_ref(x, y, 1, 1.0, w).mean())
    gradcheck(lambda t: F.multi_margin_loss(t, torch.tensor(y), p=2), T(x, True))
    loss = nn.MultiMarginLoss(p=2, weight=T(w))
    assert list(loss.state_dict()) == ["weight"] and repr(loss) == "MultiMarginLoss()"
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(T(x), torch.tensor(y), p=3)


def test_multilabel_margin_values_and_grad():
    x = RNG.standard_normal((4, 5))
    y = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 1, 2, 3, 4], [4, 4, -1, 0, 0]])
    got = F.multilabel_margin_loss(T(x), torch.tensor(y), reduction="none")
    close(got, _multilabel_margin_ref(x, y))
    close(nn.MultiLabelMarginLoss()(T(x), torch.tensor(y)), _multilabel_margin_ref(x, y).mean())
    close(F.multilabel_margin_loss(T(x[0]), torch.tensor(y[0])), _multilabel_margin_ref(x, y)[0])
    gradcheck(lambda t: F.multilabel_margin_loss(t, torch.tensor(y)), T(x, True))


def test_multilabel_soft_margin_values_and_grad():
    x = RNG.standard_normal((3, 4))
    y = (RNG.random((3, 4)) > 0.5).astype(np.float64)
    w = RNG.random(4)
    sig = 1 / (1 + np.exp(-x))
    ref = -(y * np.log(sig) + (1 - y) * np.log(1 - sig)) * w
    got = F.multilabel_soft_margin_loss(T(x), T(y), weight=T(w), reduction="none")
    close(got, ref.mean(1))
    mod = nn.MultiLabelSoftMarginLoss(weight=T(w), reduction="sum")
    close(mod(T(x), T(y)), ref.mean(1).sum())
    gradcheck(lambda t: F.multilabel_soft_margin_loss(t, T(y)), T(x, True))


def test_triplet_margin_with_distance():
    a, p, n = RNG.standard_normal((3, 4, 6))

    def dist(u, v):
        return np.linalg.norm(u - v + 1e-6, axis=-1)

    ref = np.maximum(dist(a, p) - np.minimum(dist(a, n), dist(p, n)) + 1.0, 0)
    got = F.triplet_margin_with_distance_loss(T(a), T(p), T(n), swap=True, reduction="none")
    close(got, ref)
    l1 = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda u, v: (u - v).abs().sum(-1), margin=0.5
    )
    l1_ref = np.maximum(np.abs(a - p).sum(-1) - np.abs(a - n).sum(-1) + 0.5, 0).mean()
    close(l1(T(a), T(p), T(n)), l1_ref)
    assert "(distance_function): PairwiseDistance()" in repr(nn.TripletMarginWithDistanceLoss())
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
    gradcheck(lambda u: F.triplet_margin_with_distance_loss(u, T(p), T(n)), T(a, True))


def _ctc_ref(lp, target, blank=0):
    """Plain-python alpha recursion in probability space (small cases only)."""
    probs = np.exp(lp)
    ext = [blank]
    for c in target:
        ext += [c, blank]
    alpha = np.zeros(len(ext))
    alpha[0] = probs[0, blank]
    if len(ext) > 1:
        alpha[1] = probs[0, ext[1]]
    for t in range(1, len(lp)):
        new = np.zeros_like(alpha)
        for s in range(len(ext)):
            total = alpha[s] + (alpha[s - 1] if s >= 1 else 0)
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                total += alpha[s - 2]
            new[s] = total * probs[t, ext[s]]
        alpha = new
    total = alpha[-1] + (alpha[-2] if len(ext) > 1 else 0)
    return -np.log(total)


def _log_softmax(x, axis):
    x = x - x.max(axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis, keepdims=True))


def test_ctc_loss_values_reductions_and_grad():
    tn, n, c = 8, 3, 4
    lp = _log_softmax(RNG.standard_normal((tn, n, c)), 2)
    targets = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]])
    in_lens, tgt_lens = [8, 6, 5], [3, 2, 1]
    refs = np.array([_ctc_ref(lp[: in_lens[b], b], targets[b, : tgt_lens[b]]) for b in range(n)])
    got = F.ctc_loss(T(lp), torch.tensor(targets), in_lens, tgt_lens, reduction="none")
    close(got, refs)
    close(
        F.ctc_loss(T(lp), torch.tensor(targets), in_lens, tgt_lens),
        (refs / np.array(tgt_lens)).mean(),
    )
    flat = np.concatenate([targets[b, : tgt_lens[b]] for b in range(n)])
    close(
        nn.CTCLoss(reduction="sum")(
            T(lp), torch.tensor(flat), torch.tensor(in_lens), torch.tensor(tgt_lens)
        ),
        refs.sum(),
    )
    close(F.ctc_loss(T(lp[:, 0]), torch.tensor(targets[0]), [8], [3], reduction="none"), refs[0])
    logits = RNG.standard_normal((tn, n, c))
    gradcheck(
        lambda z: F.ctc_loss(z.log_softmax(2), torch.tensor(targets), in_lens, tgt_lens),
        T(logits, True),
    )


def test_ctc_infeasible_and_zero_infinity():
    lp = _log_softmax(RNG.standard_normal((3, 1, 3)), 2)
    tgt = torch.tensor([[1, 1, 1]])  # needs 5 frames, only 3 given
    assert arr(F.ctc_loss(T(lp), tgt, [3], [3], reduction="none"))[0] == np.inf
    x = T(lp, True)
    loss = F.ctc_loss(x, tgt, [3], [3], zero_infinity=True)
    assert float(loss) == 0.0
    loss.backward()
    assert np.all(arr(x.grad) == 0)
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        F.ctc_loss(T(lp), tgt, [3], [3], blank=5)


def test_losses_vs_torch(real_torch):
    ref = real_torch
    x = RNG.standard_normal((4, 5))
    y = np.array([1, 0, 4, 2])
    ours = F.multi_margin_loss(T(x), torch.tensor(y), p=2, margin=0.3)
    theirs = ref.nn.functional.multi_margin_loss(ref.tensor(x), ref.tensor(y), p=2, margin=0.3)
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-12)
    tn, n, c = 10, 2, 5
    logits = RNG.standard_normal((tn, n, c))
    targets = np.array([[1, 2, 2, 3], [4, 1, 0, 0]])
    a = T(logits, True)
    b = ref.tensor(logits, requires_grad=True)
    la = F.ctc_loss(a.log_softmax(2), torch.tensor(targets), [10, 7], [4, 2])
    lb = ref.nn.functional.ctc_loss(b.log_softmax(2), ref.tensor(targets), [10, 7], [4, 2])
    la.backward()
    lb.backward()
    np.testing.assert_allclose(float(la), float(lb.detach()), rtol=1e-12)
    np.testing.assert_allclose(arr(a.grad), b.grad.numpy(), atol=1e-12)


# ------------------------------------------------------------------------- more layers
def test_pdist_and_distance_modules():
    x = RNG.standard_normal((5, 3))
    ref = [np.linalg.norm(x[i] - x[j]) for i in range(5) for j in range(i + 1, 5)]
    close(F.pdist(T(x)), ref)
    close(F.pdist(T(x), 1), [np.abs(x[i] - x[j]).sum() for i in range(5) for j in range(i + 1, 5)])
    gradcheck(lambda t: F.pdist(t), T(x, True))
    a, b = RNG.standard_normal((2, 4, 3))
    close(nn.PairwiseDistance(p=1)(T(a), T(b)), np.abs(a - b + 1e-6).sum(-1))
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    close(nn.CosineSimilarity(dim=1)(T(a), T(b)), cos)
    assert repr(nn.PairwiseDistance()) == "PairwiseDistance()"
    assert nn.PairwiseDistance(p=3).norm == 3
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors"):
        F.pdist(T(x[0]))


def test_local_response_norm():
    x = RNG.standard_normal((2, 5, 3))
    size, alpha, beta, k = 3, 0.2, 0.75, 2.0
    sq = np.pad(x**2, ((0, 0), (1, 1), (0, 0)))
    avg = sum(sq[:, i : i + 5] for i in range(3)) / size
    close(nn.LocalResponseNorm(size, alpha, beta, k)(T(x)), x / (k + alpha * avg) ** beta)
    assert repr(nn.LocalResponseNorm(2)) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"
    gradcheck(lambda t: F.local_response_norm(t, 2, alpha=0.3), T(x, True))
    with pytest.raises(ValueError, match="Expected 3D or higher"):
        F.local_response_norm(T(x[0]), 2)


def test_lp_pool():
    x = RNG.random((1, 2, 6))
    ref = np.stack([(x[..., i : i + 2] ** 3).sum(-1) ** (1 / 3) for i in (0, 2, 4)], -1)
    close(nn.LPPool1d(3, 2)(T(x)), ref)
    x2 = RNG.random((1, 1, 4, 4))
    ref2 = np.sqrt((x2**2).reshape(1, 1, 2, 2, 2, 2).sum((3, 5)))
    close(F.lp_pool2d(T(x2), 2, 2), ref2)
    assert (
        repr(nn.LPPool2d(2, 3))
        == "LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    )
    gradcheck(lambda t: F.lp_pool2d(t, 2, 2), T(x2 + 0.1, True))


def test_max_unpool_roundtrip():
    x = T(RNG.random((1, 2, 4, 6)) + 0.1)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    up = nn.MaxUnpool2d(2)(out, idx)
    assert tuple(up.shape) == (1, 2, 4, 6)
    back = F.max_pool2d(up, 2)
    close(back, arr(out))
    assert float((up != 0).sum()) == out.numel()
    assert tuple(F.max_unpool2d(out, idx, 2, output_size=(5, 7)).shape) == (1, 2, 5, 7)
    assert repr(nn.MaxUnpool1d(2)) == "MaxUnpool1d(kernel_size=(2,), stride=(2,), padding=(0,))"
    o1, i1 = F.max_pool1d(x[0], 2, return_indices=True)
    assert tuple(F.max_unpool1d(o1, i1, 2).shape) == (2, 4, 6)
    gradcheck(lambda t: F.max_unpool2d(t, idx, 2), T(arr(out), True))
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(out, idx, 2, output_size=(9, 9))


def test_max_unpool3d_places_values_at_their_indices():
    x = RNG.random((2, 3, 4, 4, 6)) + 0.1
    out, idx = F.max_pool3d(T(x), 2, return_indices=True)
    up = nn.MaxUnpool3d(2)(out, idx)
    # Reference: a zero volume with each window's maximum at its flat (d, h, w) index.
    ref = np.zeros((2, 3, 4 * 4 * 6))
    flat_idx = arr(idx).astype(np.int64).reshape(2, 3, -1)
    np.put_along_axis(ref, flat_idx, arr(out).reshape(2, 3, -1), axis=2)
    close(up, ref.reshape(2, 3, 4, 4, 6))
    windows = x.reshape(2, 3, 2, 2, 2, 2, 3, 2).max((3, 5, 7))
    close(out, windows)
    assert tuple(F.max_unpool3d(out, idx, 2, output_size=(5, 5, 7)).shape) == (2, 3, 5, 5, 7)
    assert tuple(F.max_unpool3d(out[0], idx[0], (2, 2, 2)).shape) == (3, 4, 4, 6)
    assert repr(nn.MaxUnpool3d(2)) == (
        "MaxUnpool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0))"
    )
    gradcheck(lambda t: F.max_unpool3d(t, idx, 2), T(arr(out), True))
    with pytest.raises(RuntimeError, match="max_unpool3d: expected 4D or 5D input"):
        F.max_unpool3d(out[0, 0, 0], idx[0, 0, 0], 2)


def test_interpolate_area_3d_is_block_means():
    x = RNG.random((1, 2, 4, 6, 6))
    got = F.interpolate(T(x, True), size=(2, 3, 2), mode="area")
    close(got, x.reshape(1, 2, 2, 2, 3, 2, 2, 3).mean((3, 5, 7)))
    gradcheck(lambda t: F.interpolate(t, scale_factor=0.5, mode="area"), T(x[:, :, :2, :2], True))


def test_feature_alpha_dropout():
    x = torch.randn(4, 6, 5)
    m = nn.FeatureAlphaDropout(0.5)
    m.eval()
    assert m(x) is x
    m.train()
    y = arr(m(x))
    # Each (sample, channel) is either kept (affine of x) or a constant.
    for s in range(4):
        for c in range(6):
            row = y[s, c]
            assert np.allclose(row, row[0]) or not np.allclose(row, row.mean())
    assert repr(m) == "FeatureAlphaDropout(p=0.5, inplace=False)"
    with pytest.raises(ValueError, match="dropout probability"):
        nn.FeatureAlphaDropout(1.5)


def test_embedding_bag_modes():
    w = RNG.standard_normal((10, 3))
    inp = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    offs = np.array([0, 4, 4, 6])
    bags = [inp[0:4], inp[4:4], inp[4:6], inp[6:8]]
    for mode, red in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        ref = np.stack([red(w[b], 0) if len(b) else np.zeros(3) for b in bags])
        got = F.embedding_bag(torch.tensor(inp), T(w), torch.tensor(offs), mode=mode)
        close(got, ref)
    psw = RNG.random(8)
    got = F.embedding_bag(
        torch.tensor(inp), T(w), torch.tensor(offs), mode="sum", per_sample_weights=T(psw)
    )
    ref = np.stack(
        [(w[inp[s:e]] * psw[s:e, None]).sum(0) for s, e in ((0, 4), (4, 4), (4, 6), (6, 8))]
    )
    close(got, ref)
    got = F.embedding_bag(torch.tensor(inp.reshape(2, 4)), T(w), mode="mean", padding_idx=4)
    close(got, np.stack([w[[1, 2, 5]].mean(0), w[[3, 2, 9]].mean(0)]))
    bag = nn.EmbeddingBag(10, 3, mode="sum")
    assert repr(bag) == "EmbeddingBag(10, 3, mode='sum')" and list(bag.state_dict()) == ["weight"]
    gradcheck(
        lambda t: F.embedding_bag(torch.tensor(inp), t, torch.tensor(offs), mode="max"),
        T(w, True),
    )
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(torch.tensor(inp), T(w), torch.tensor(offs), per_sample_weights=T(psw))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(torch.tensor(inp), T(w))


def test_gumbel_softmax():
    logits = T(RNG.standard_normal((6, 4)), True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(arr(soft).sum(1), 1.0)
    hard = F.gumbel_softmax(logits, hard=True)
    h = arr(hard)
    assert set(np.unique(h)) <= {0.0, 1.0} and np.all(h.sum(1) == 1)
    (hard * T(RNG.standard_normal((6, 4)))).sum().backward()
    assert logits.grad is not None and np.abs(arr(logits.grad)).sum() > 0


def _bilinear_ref(img, gx, gy, align):
    n, c, h, w = img.shape

    def unnorm(v, size):
        return (v + 1) * (size - 1) / 2 if align else ((v + 1) * size - 1) / 2

    out = np.zeros((n, c) + gx.shape[1:])
    for b in range(n):
        for idx in np.ndindex(gx.shape[1:]):
            x, y = unnorm(gx[b][idx], w), unnorm(gy[b][idx], h)
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            total = np.zeros(c)
            for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
                for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                    if 0 <= yy < h and 0 <= xx < w:
                        total += img[b, :, yy, xx] * wy * wx
            out[(b, slice(None)) + idx] = total
    return out


def test_affine_grid_and_grid_sample():
    theta = RNG.standard_normal((2, 2, 3))
    grid = F.affine_grid(T(theta), (2, 3, 4, 5), align_corners=False)
    xs = np.linspace(-1, 1, 5) * 4 / 5
    ys = np.linspace(-1, 1, 4) * 3 / 4
    base = np.stack(list(np.meshgrid(xs, ys)) + [np.ones((4, 5))], -1)
    close(grid, np.einsum("hwk,njk->nhwj", base, theta))
    img = RNG.standard_normal((2, 3, 4, 5))
    g = RNG.uniform(-1.2, 1.2, (2, 3, 2, 2))
    for align in (True, False):
        got = F.grid_sample(T(img), T(g), align_corners=align)
        close(got, _bilinear_ref(img, g[..., 0], g[..., 1], align))
    gradcheck(lambda i, gg: F.grid_sample(i, gg, align_corners=False), T(img, True), T(g, True))
    gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 3), align_corners=True), T(theta, True))
    with pytest.raises(ValueError, match="expected padding_mode"):
        F.grid_sample(T(img), T(g), padding_mode="wrap", align_corners=False)
    with pytest.warns(UserWarning, match="align_corners"):
        F.affine_grid(T(theta), (2, 3, 4, 5))


def test_more_layers_vs_torch(real_torch):
    ref = real_torch
    img = RNG.standard_normal((2, 3, 5, 6))
    g = RNG.uniform(-3, 3, (2, 4, 7, 2))
    for mode in ("bilinear", "nearest"):
        for pad in ("zeros", "border", "reflection"):
            for align in (True, False):
                ours = F.grid_sample(T(img), T(g), mode, pad, align)
                theirs = ref.nn.functional.grid_sample(
                    ref.tensor(img), ref.tensor(g), mode, pad, align
                )
                np.testing.assert_allclose(arr(ours), theirs.numpy(), atol=1e-12)
    w = RNG.standard_normal((10, 3))
    inp = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    offs = np.array([0, 4, 4, 6])
    for mode in ("sum", "mean", "max"):
        # With include_last_offset the final offset closes the last bag (= len(input)).
        for last, o in ((False, offs), (True, np.append(offs, 8))):
            ours = F.embedding_bag(
                torch.tensor(inp), T(w), torch.tensor(o), mode=mode, include_last_offset=last
            )
            theirs = ref.nn.functional.embedding_bag(
                ref.tensor(inp),
                ref.tensor(w),
                ref.tensor(o),
                mode=mode,
                include_last_offset=last,
            )
            np.testing.assert_allclose(arr(ours), theirs.numpy(), atol=1e-12)
    x = RNG.standard_normal((2, 6, 4, 3))
    np.testing.assert_allclose(
        arr(F.local_response_norm(T(x), 3, alpha=0.1)),
        ref.nn.functional.local_response_norm(ref.tensor(x), 3, alpha=0.1).numpy(),
        atol=1e-12,
    )
    for mod in ("LocalResponseNorm(2)", "LPPool1d(2, 3)", "MaxUnpool2d(2)", "EmbeddingBag(5, 3)"):
        assert repr(eval("nn." + mod)) == repr(eval("ref.nn." + mod))


def test_spectral_norm_power_iteration_order():
    # From deliberately poor estimates one step differs by order: the parametrization
    # updates u then v, the hook version v then u (as PyTorch does).
    def unit(a):
        return a / np.linalg.norm(a)

    w = np.arange(12.0).reshape(3, 4) / 7.0 - 0.6
    u0, v0 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
    u_a = unit(w @ v0)
    v_a = unit(w.T @ u_a)
    v_b = unit(w.T @ u0)
    u_b = unit(w @ v_b)
    for make, (u1, v1), keys in [
        (lambda m: PZ.spectral_norm(m), (u_a, v_a), ("parametrizations.weight.0._u",
                                                     "parametrizations.weight.0._v")),
        (lambda m: U.spectral_norm(m), (u_b, v_b), ("weight_u", "weight_v")),
    ]:
        m = make(nn.Linear(4, 3).double())
        state = m.state_dict()
        weight_key = [k for k in state if k.endswith(("original", "weight_orig"))][0]
        state[weight_key] = torch.tensor(w)
        state[keys[0]], state[keys[1]] = torch.tensor(u0), torch.tensor(v0)
        m.load_state_dict(state)
        m.train()
        m(torch.zeros(1, 4, dtype=torch.float64))  # one power-iteration step
        m.eval()  # reading a parametrized weight in training mode would step again
        np.testing.assert_allclose(arr(m.weight), w / (u1 @ w @ v1), atol=1e-12)
