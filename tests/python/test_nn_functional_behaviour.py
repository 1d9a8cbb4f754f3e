"""Behaviour of functional ops and small tensor/package helpers: argument checks, masks,
legacy arguments and unbatched inputs. Compared against PyTorch when it is installed,
against numpy / hand-computed values otherwise."""

import math
import warnings

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch.nn.functional import _core

try:
    import torch as real_torch
except ImportError:  # pragma: no cover - exercised on machines without PyTorch
    real_torch = None

needs_torch = pytest.mark.skipif(real_torch is None, reason="PyTorch not installed")
# Some cases mix a bool padding mask with a float attention mask on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning")


def arr(t):
    return t.detach().numpy()


def to_real(t):
    return real_torch.from_numpy(np.ascontiguousarray(t.detach().numpy()))


# ---------------------------------------------------------------------- attention
def _mha_params(e, seed=0, bias_kv=False):
    torch.manual_seed(seed)
    p = {
        "in_proj_weight": torch.randn(3 * e, e) * 0.3,
        "in_proj_bias": torch.randn(3 * e) * 0.1,
        "out_proj_weight": torch.randn(e, e) * 0.3,
        "out_proj_bias": torch.randn(e) * 0.1,
        "bias_k": torch.randn(1, 1, e) if bias_kv else None,
        "bias_v": torch.randn(1, 1, e) if bias_kv else None,
    }
    return p


def _mha(q, k, v, p, heads, **kw):
    return F.multi_head_attention_forward(
        q, k, v, q.shape[-1], heads, p["in_proj_weight"], p["in_proj_bias"], p["bias_k"],
        p["bias_v"], kw.pop("add_zero_attn", False), 0.0, p["out_proj_weight"],
        p["out_proj_bias"], training=False, **kw,
    )


def _mha_real(q, k, v, p, heads, **kw):
    conv = {n: None if t is None else to_real(t) for n, t in p.items()}
    for name in ("key_padding_mask", "attn_mask"):
        if kw.get(name) is not None:
            kw[name] = to_real(kw[name])
    return real_torch.nn.functional.multi_head_attention_forward(
        to_real(q), to_real(k), to_real(v), q.shape[-1], heads, conv["in_proj_weight"],
        conv["in_proj_bias"], conv["bias_k"], conv["bias_v"], kw.pop("add_zero_attn", False),
        0.0, conv["out_proj_weight"], conv["out_proj_bias"], training=False, **kw,
    )


MHA_CASES = [
    {},
    {"bias_kv": True},
    {"add_zero_attn": True},
    {"bias_kv": True, "add_zero_attn": True, "kpm": "bool", "mask": "2d"},
    {"kpm": "float", "mask": "3d"},
    {"mask": "bool2d", "average_attn_weights": False},
    {"kpm": "bool", "need_weights": False},
    {"mask": "causal", "is_causal": True, "need_weights": False},
]


def _mha_inputs(case, l_len=4, s_len=5, bsz=2, e=8, heads=2):
    torch.manual_seed(1)
    q = torch.randn(l_len, bsz, e)
    k = torch.randn(s_len, bsz, e)
    v = torch.randn(s_len, bsz, e)
    kw = {}
    kpm = case.get("kpm")
    if kpm == "bool":
        m = torch.zeros(bsz, s_len, dtype=torch.bool)
        m[0, -1] = True
        kw["key_padding_mask"] = m
    elif kpm == "float":
        kw["key_padding_mask"] = torch.randn(bsz, s_len)
    mask = case.get("mask")
    if mask == "2d":
        kw["attn_mask"] = torch.randn(l_len, s_len) * 0.5
    elif mask == "3d":
        kw["attn_mask"] = torch.randn(bsz * heads, l_len, s_len) * 0.5
    elif mask == "bool2d":
        m = torch.zeros(l_len, s_len, dtype=torch.bool)
        m[1, 2] = True
        kw["attn_mask"] = m
    elif mask == "causal":
        kw["attn_mask"] = torch.ones(l_len, s_len, dtype=torch.bool).triu(1)
    for name in ("need_weights", "average_attn_weights", "is_causal", "add_zero_attn"):
        if name in case:
            kw[name] = case[name]
    return q, k, v, kw, e, heads


@needs_torch
@pytest.mark.parametrize("case", MHA_CASES, ids=[str(c) for c in MHA_CASES])
def test_mha_matches_pytorch(case):
    q, k, v, kw, e, heads = _mha_inputs(case)
    p = _mha_params(e, bias_kv=case.get("bias_kv", False))
    out, w = _mha(q, k, v, p, heads, **dict(kw))
    ref_out, ref_w = _mha_real(q, k, v, p, heads, **dict(kw))
    np.testing.assert_allclose(arr(out), ref_out.numpy(), rtol=1e-4, atol=1e-5)
    if ref_w is None:
        assert w is None
    else:
        np.testing.assert_allclose(arr(w), ref_w.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", MHA_CASES[:6], ids=[str(c) for c in MHA_CASES[:6]])
def test_mha_with_and_without_weights_agree(case):
    q, k, v, kw, e, heads = _mha_inputs(case)
    p = _mha_params(e, bias_kv=case.get("bias_kv", False))
    kw.pop("need_weights", None)
    with_w, w = _mha(q, k, v, p, heads, need_weights=True, **dict(kw))
    without_w, none = _mha(q, k, v, p, heads, need_weights=False, **dict(kw))
    assert none is None
    np.testing.assert_allclose(arr(with_w), arr(without_w), rtol=1e-5, atol=1e-6)
    extra = int(case.get("bias_kv", False)) + int(case.get("add_zero_attn", False))
    src = k.shape[0] + extra
    if case.get("average_attn_weights", True):
        assert tuple(w.shape) == (q.shape[1], q.shape[0], src)
        np.testing.assert_allclose(arr(w.sum(-1)), np.ones((q.shape[1], q.shape[0])), rtol=1e-5)
    else:
        assert tuple(w.shape) == (q.shape[1], heads, q.shape[0], src)


def test_mha_unbatched_is_batch_of_one():
    q, k, v, kw, e, heads = _mha_inputs({"kpm": "bool", "mask": "2d"}, bsz=1)
    p = _mha_params(e, bias_kv=True)
    out_b, w_b = _mha(q, k, v, p, heads, **kw)
    kw1 = dict(kw, key_padding_mask=kw["key_padding_mask"][0])
    out_u, w_u = _mha(q[:, 0], k[:, 0], v[:, 0], p, heads, **kw1)
    assert tuple(out_u.shape) == (q.shape[0], e) and tuple(w_u.shape) == (q.shape[0], 6)
    np.testing.assert_allclose(arr(out_u), arr(out_b[:, 0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(arr(w_u), arr(w_b[0]), rtol=1e-5, atol=1e-6)


def test_mha_key_padding_excludes_keys():
    q, k, v, kw, e, heads = _mha_inputs({"kpm": "bool"})
    _, w = _mha(q, k, v, _mha_params(e), heads, **kw)
    assert np.all(arr(w)[0, :, -1] == 0.0) and np.all(arr(w)[1, :, -1] > 0.0)


def test_mha_argument_errors():
    q, k, v, kw, e, heads = _mha_inputs({})
    p = _mha_params(e)
    with pytest.raises(AssertionError, match="For batched \\(3-D\\) `query`, expected `key`"):
        _mha(q, k[0], v, p, heads)
    with pytest.raises(AssertionError, match="`key_padding_mask` to be `None` or 2-D"):
        _mha(q, k, v, p, heads, key_padding_mask=torch.zeros(5, dtype=torch.bool))
    with pytest.raises(AssertionError, match="For unbatched \\(2-D\\) `query`"):
        _mha(q[:, 0], k[:, 0], v, p, heads)
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D"):
        _mha(q[0, 0], k, v, p, heads)
    with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask is"):
        _mha(q, k, v, p, heads, attn_mask=torch.zeros(4, 4))
    with pytest.raises(RuntimeError, match="The shape of the 3D attn_mask is"):
        _mha(q, k, v, p, heads, attn_mask=torch.zeros(3, 4, 5))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        _mha(q, k, v, p, heads, is_causal=True)
    bad = dict(p, bias_k=torch.zeros(1, 1, e))
    with pytest.raises(AssertionError, match="bias_k and bias_v must both be set"):
        _mha(q, k, v, bad, heads)
    with pytest.raises(RuntimeError, match="must be None or torch.Tensor"):
        F._none_or_dtype(3)
    assert F._none_or_dtype(None) is None
    assert F._none_or_dtype(torch.zeros(1, dtype=torch.bool)) == torch.bool


def test_canonical_mask_converts_bool():
    m = torch.tensor([True, False])
    out = F._canonical_mask(m, "mask", None, "", torch.float32)
    assert out.dtype == torch.float32
    assert arr(out)[0] == -math.inf and arr(out)[1] == 0.0
    f = torch.tensor([0.5, 0.0])
    assert F._canonical_mask(f, "mask", None, "", torch.float32) is f
    with pytest.raises(AssertionError, match="only bool and floating types of mask"):
        F._canonical_mask(torch.tensor([1, 0]), "mask", None, "", torch.float32)


# ---------------------------------------------------------------------- losses
def test_reduction_helpers():
    with pytest.raises(ValueError, match="^bogus is not a valid value for reduction$"):
        _core.apply_reduction(torch.ones(2), "bogus")
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), reduction="bogus")
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        F.mse_loss(torch.randn(2), torch.randn(2), reduction="bogus")
    table = {
        (None, None): "mean", (True, True): "mean", (False, True): "sum", (False, None): "sum",
        (True, False): "none", (False, False): "none", (None, False): "none",
    }
    for (size_average, reduce), expected in table.items():
        assert _core.legacy_get_string(size_average, reduce, emit_warning=False) == expected
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        assert _core.resolve_reduction(False, None, "mean") == "sum"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _core.resolve_reduction(None, None, "none") == "none"


def test_nll_loss_reductions_by_hand():
    logp = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -1.5, -2.5]])
    target = torch.tensor([2, 0])
    weight = torch.tensor([1.0, 2.0, 4.0])
    none = F.nll_loss(logp, target, weight, reduction="none")
    np.testing.assert_allclose(arr(none), [12.0, 0.5])
    assert float(F.nll_loss(logp, target, weight, reduction="sum")) == pytest.approx(12.5)
    assert float(F.nll_loss(logp, target, weight)) == pytest.approx(12.5 / 5.0)


def test_bce_with_logits_pos_weight_by_hand():
    x = torch.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.3])
    pw = torch.tensor([2.0, 3.0, 0.5])
    out = F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    xs, ys, ps = np.array([-2.0, 0.5, 3.0]), np.array([1.0, 0.0, 0.3]), np.array([2.0, 3.0, 0.5])
    sig = 1 / (1 + np.exp(-xs))
    expected = -(ps * ys * np.log(sig) + (1 - ys) * np.log(1 - sig))
    np.testing.assert_allclose(arr(out), expected, rtol=1e-5)
    plain = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(
        arr(plain), -(ys * np.log(sig) + (1 - ys) * np.log(1 - sig)), rtol=1e-5
    )
    out.sum().backward()
    np.testing.assert_allclose(
        arr(x.grad), (ps * ys + 1 - ys) * sig - ps * ys, rtol=1e-5, atol=1e-6
    )


def test_poisson_and_gaussian_nll_by_hand():
    x = torch.tensor([0.5, 2.0, 4.0])
    t = torch.tensor([0.0, 1.0, 3.0])
    out = F.poisson_nll_loss(x, t, log_input=False, reduction="none", eps=1e-8)
    xs, ts = np.array([0.5, 2.0, 4.0]), np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(arr(out), xs - ts * np.log(xs + 1e-8), rtol=1e-5)
    out = F.poisson_nll_loss(x, t, log_input=True, full=True, reduction="none")
    safe = np.maximum(ts, 1)
    stirling = np.where(ts > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0)
    np.testing.assert_allclose(arr(out), np.exp(xs) - ts * xs + stirling, rtol=1e-5)

    var = torch.tensor([0.5, 1.0, 2.0])
    out = F.gaussian_nll_loss(x, t, var, full=True, reduction="none")
    vs = np.array([0.5, 1.0, 2.0])
    expected = 0.5 * (np.log(vs) + (xs - ts) ** 2 / vs) + 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(arr(out), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(x, t, -var)


def test_kl_div_warnings_and_legacy_args():
    x = torch.log(torch.tensor([[0.2, 0.8], [0.5, 0.5]]))
    t = torch.tensor([[0.1, 0.9], [0.5, 0.5]])
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        mean = F.kl_div(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batchmean = F.kl_div(x, t, reduction="batchmean")
    assert float(mean) * 2 == pytest.approx(float(batchmean))
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        summed = F.kl_div(x, t, size_average=False)
    assert float(summed) == pytest.approx(float(batchmean) * 2, rel=1e-5)


def test_margin_ranking_rank_mismatch():
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        F.margin_ranking_loss(torch.zeros(3), torch.zeros(3), torch.zeros(1, 3))
    out = F.margin_ranking_loss(
        torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]), margin=0.5
    )
    assert float(out) == pytest.approx((0.0 + 1.5) / 2)


# ---------------------------------------------------------------------- activations, linear
def test_softmax_family_implicit_dim_warns_at_caller():
    x = torch.randn(2, 3)
    for fn in (F.softmax, F.softmin, F.log_softmax):
        with pytest.warns(UserWarning, match="Implicit dimension choice") as rec:
            out = fn(x)
        assert rec[0].filename == __file__
        np.testing.assert_allclose(arr(out), arr(fn(x, dim=1)), rtol=1e-6)
    np.testing.assert_allclose(arr(F.softmin(x, 0)), arr(F.softmax(-x, 0)), rtol=1e-6)
    out = F.softmax(x, 1, dtype=torch.float64)
    assert out.dtype == torch.float64


def test_hardtanh_and_dropout_checks():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(torch.zeros(2), 1.0, -1.0)
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"between 0 and 1, but got {p}"):
            F.dropout(torch.zeros(2), p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout2d(torch.zeros(1, 2, 3, 3), p)


def test_embedding_padding_idx_normalised():
    w = torch.randn(5, 3, requires_grad=True)
    idx = torch.tensor([0, 4, 4, 2])
    F.embedding(idx, w, padding_idx=-1).sum().backward()
    g = arr(w.grad)
    assert np.all(g[4] == 0.0) and np.all(g[0] == 1.0) and np.all(g[2] == 1.0)
    for bad in (5, -6):
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            F.embedding(idx, w, padding_idx=bad)
    F.embedding(idx, w, padding_idx=0)


# ---------------------------------------------------------------------- norm
def test_instance_norm_running_stats_by_hand():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4)
    rm, rv = torch.zeros(3), torch.ones(3)
    F.instance_norm(x, rm, rv, momentum=0.5)
    xs = arr(x)
    mean = xs.mean(axis=2).mean(axis=0)
    var = xs.var(axis=2, ddof=1).mean(axis=0)
    np.testing.assert_allclose(arr(rm), 0.5 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(arr(rv), 0.5 + 0.5 * var, rtol=1e-5)


def test_batch_norm_composed_matches_fused(monkeypatch):
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2)
    w, b = torch.randn(3), torch.randn(3)
    rm1, rv1 = torch.zeros(3), torch.ones(3)
    fused = F.batch_norm(x, rm1, rv1, w, b, training=True, momentum=0.2)
    monkeypatch.setitem(_core.HAS, "batch_norm", False)
    rm2, rv2 = torch.zeros(3), torch.ones(3)
    composed = F.batch_norm(x, rm2, rv2, w, b, training=True, momentum=0.2)
    np.testing.assert_allclose(arr(composed), arr(fused), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(arr(rm2), arr(rm1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(arr(rv2), arr(rv1), rtol=1e-5)
    with pytest.raises(RuntimeError, match="running_mean and running_var must be defined"):
        F.batch_norm(x, None, None, training=False)


# ---------------------------------------------------------------------- pooling, conv
def test_interpolate_size_and_scale_checks_and_upsample():
    x = torch.arange(8.0).reshape(1, 2, 4)
    with pytest.raises(ValueError, match="^only one of size or scale_factor should be defined$"):
        F.interpolate(x, size=8, scale_factor=2.0)
    with pytest.raises(ValueError, match="^either size or scale_factor should be defined$"):
        F.interpolate(x)
    with pytest.warns(UserWarning, match="`nn.functional.upsample` is deprecated"):
        up = F.upsample(x, scale_factor=2, mode="linear")
    np.testing.assert_array_equal(
        arr(up), arr(F.interpolate(x, scale_factor=2, mode="linear", align_corners=False))
    )


def test_pooling_unbatched_and_divisor(monkeypatch):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 5)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    for name in ("_avg_pool2d", "_max_pool2d_with_indices"):
        monkeypatch.setitem(_core.HAS_C, name, False)
    monkeypatch.setitem(_core.HAS, "avg_pool2d", False)
    v, i = F.max_pool2d(x[0], 2, return_indices=True)
    vb, ib = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(arr(v), arr(vb[0]))
    np.testing.assert_array_equal(arr(i), arr(ib[0]))
    a = F.avg_pool2d(x[1], 3, 2, 1, count_include_pad=False, divisor_override=2)
    np.testing.assert_allclose(arr(a), arr(F.avg_pool2d(x, 3, 2, 1, divisor_override=2)[1]))


def test_unfold_fold_unbatched(monkeypatch):
    torch.manual_seed(0)
    x = torch.randn(2, 6, 6)
    for fused in (True, False):
        if not fused:
            monkeypatch.setitem(_core.HAS_C, "_unfold", False)
            monkeypatch.setitem(_core.HAS_C, "_fold", False)
        cols = F.unfold(x, 3, padding=1, stride=2)
        np.testing.assert_array_equal(arr(cols), arr(F.unfold(x.unsqueeze(0), 3, 1, 1, 2)[0]))
        back = F.fold(cols, (6, 6), 3, padding=1, stride=2)
        assert tuple(back.shape) == (2, 6, 6)
        batched = F.fold(cols.unsqueeze(0), (6, 6), 3, padding=1, stride=2)[0]
        np.testing.assert_allclose(arr(back), arr(batched))


# ---------------------------------------------------------------------- package helpers
def test_meshgrid_and_atleast():
    a, b = torch.arange(3.0), torch.arange(2.0)
    for indexing in ("ij", "xy"):
        ours = torch.meshgrid(a, b, indexing=indexing)
        ref = np.meshgrid(arr(a), arr(b), indexing=indexing)
        for o, r in zip(ours, ref):
            np.testing.assert_array_equal(arr(o), r)
        listed = torch.meshgrid([a, b], indexing=indexing)
        for o, r in zip(listed, ref):
            np.testing.assert_array_equal(arr(o), r)
    c = torch.arange(4.0)
    ours = torch.meshgrid(a, b, c, indexing="xy")
    for o, r in zip(ours, np.meshgrid(arr(a), arr(b), arr(c), indexing="xy")):
        np.testing.assert_array_equal(arr(o), r)
    with pytest.raises(ValueError, match="indexing must be one of 'xy' or 'ij'"):
        torch.meshgrid(a, b, indexing="yx")
    s = torch.tensor(5.0)
    assert tuple(torch.atleast_1d(s).shape) == (1,)
    assert tuple(torch.atleast_2d(a).shape) == (1, 3)
    assert tuple(torch.atleast_2d(s).shape) == (1, 1)
    pair = torch.atleast_1d(s, a)
    assert isinstance(pair, tuple) and [tuple(t.shape) for t in pair] == [(1,), (3,)]
    one = torch.atleast_2d([a])
    assert isinstance(one, tuple) and tuple(one[0].shape) == (1, 3)


def test_new_factories_default_to_self():
    base = torch.zeros(2, dtype=torch.float64)
    for t in (base.new_zeros(3), base.new_ones(3), base.new_empty(3), base.new_full((3,), 2.0),
              base.new_tensor([1.0, 2.0, 3.0])):
        assert t.dtype == torch.float64 and t.device == base.device and not t.requires_grad
    t = base.new_full((2,), 1, dtype=torch.int64, device="cpu", requires_grad=False)
    assert t.dtype == torch.int64
    assert base.new_zeros(2, requires_grad=True).requires_grad


def test_gradcheck_accepts_lists_and_tensors():
    from rtorch.autograd import gradcheck

    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a: a * a, x)
    assert gradcheck(lambda a, b: a * b, (x, y))
    assert gradcheck(lambda a, b: a * b, [x, y])


def test_cuda_device_index_messages():
    idx = torch.cuda._get_device_index
    assert idx(torch.device("cuda:2")) == 2 and idx("cuda:0") == 0 and idx(1) == 1
    with pytest.raises(ValueError, match="^Expected a cuda device, but got: cpu$"):
        idx(torch.device("cpu"))
    with pytest.raises(
        ValueError,
        match="^Expected a torch.device with a specified index or an integer, but got:None$",
    ):
        idx("cuda")
    with pytest.raises(ValueError, match="Expected a torch.device or an integer, but got: 1.5"):
        idx(1.5)
    with pytest.raises(ValueError, match="Expected a torch.device or an integer, but got: True"):
        idx(True)
