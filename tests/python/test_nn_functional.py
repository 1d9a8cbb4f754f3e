"""nn.functional utilities: pad, interpolate, one_hot, normalize, similarity, unfold/fold, SDPA."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F

RNG = np.random.default_rng(3)


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


# ---------------------------------------------------------------- pad
def test_pad_constant():
    x = randn(2, 3, 4)
    out = F.pad(T(x), (1, 2, 0, 1), value=5.0)
    ref = np.pad(x, ((0, 0), (0, 1), (1, 2)), constant_values=5.0)
    np.testing.assert_allclose(to_np(out), ref)
    np.testing.assert_allclose(
        to_np(F.pad(T(x), (-1, 1))), np.pad(x[:, :, 1:], ((0, 0), (0, 0), (0, 1)))
    )
    gradcheck(lambda t: F.pad(t, (1, 1, 2, 0)), T(randn(2, 2), True))
    with pytest.raises(RuntimeError):
        F.pad(T(x), (1, 2, 3))


@pytest.mark.parametrize(
    "mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]
)
def test_pad_modes(mode, np_mode):
    x = randn(1, 2, 4, 5)
    out = F.pad(T(x), (2, 1, 1, 3), mode=mode)
    ref = np.pad(x, ((0, 0), (0, 0), (1, 3), (2, 1)), mode=np_mode)
    np.testing.assert_allclose(to_np(out), ref)
    gradcheck(lambda t: F.pad(t, (1, 2), mode=mode), T(randn(1, 2, 4), True))


def test_pad_reflect_too_large():
    with pytest.raises(RuntimeError):
        F.pad(T(randn(1, 1, 3)), (3, 0), mode="reflect")


# ---------------------------------------------------------------- interpolate
def test_interpolate_nearest():
    x = randn(1, 2, 3, 4)
    up = F.interpolate(T(x), scale_factor=2)
    np.testing.assert_allclose(to_np(up), x.repeat(2, 2).repeat(2, 3))
    out = F.interpolate(T(x), size=(5, 3))
    rows = np.floor(np.arange(5) * (3 / 5)).astype(int)
    cols = np.floor(np.arange(3) * (4 / 3)).astype(int)
    np.testing.assert_allclose(to_np(out), x[:, :, rows][:, :, :, cols])
    x1 = randn(1, 1, 5)
    np.testing.assert_allclose(
        to_np(F.interpolate(T(x1), size=3)), x1[:, :, np.floor(np.arange(3) * 5 / 3).astype(int)]
    )


def _np_linear_1d(x, out, axis, align_corners, scale=None):
    n = x.shape[axis]
    res = []
    for i in range(out):
        if align_corners:
            src = i * (n - 1) / (out - 1) if out > 1 else 0.0
        else:
            s = scale if scale is not None else n / out
            src = max((i + 0.5) * s - 0.5, 0.0)
        i0 = min(int(np.floor(src)), n - 1)
        i1 = min(i0 + 1, n - 1)
        lam = src - i0
        res.append(np.take(x, i0, axis) * (1 - lam) + np.take(x, i1, axis) * lam)
    return np.stack(res, axis)


@pytest.mark.parametrize("align", [False, True])
def test_interpolate_bilinear(align):
    x = randn(2, 1, 3, 4)
    out = F.interpolate(T(x), size=(5, 7), mode="bilinear", align_corners=align)
    ref = _np_linear_1d(_np_linear_1d(x, 5, 2, align), 7, 3, align)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-10, atol=1e-12)
    down = F.interpolate(T(x), scale_factor=0.5, mode="bilinear", align_corners=align)
    assert tuple(down.shape) == (2, 1, 1, 2)
    gradcheck(
        lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=align),
        T(randn(1, 1, 2, 3), True),
    )


def test_interpolate_linear_and_errors():
    x = randn(1, 2, 4)
    out = F.interpolate(T(x), scale_factor=1.5, mode="linear")
    ref = _np_linear_1d(x, 6, 2, False, scale=1 / 1.5)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-10)
    with pytest.raises(ValueError):
        F.interpolate(T(x), size=3, scale_factor=2)
    with pytest.raises(ValueError):
        F.interpolate(T(x))
    with pytest.raises(ValueError):
        F.interpolate(T(x), size=3, align_corners=True)


# ---------------------------------------------------------------- small utilities
def test_one_hot():
    idx = T(np.array([[0, 2], [1, 3]]))
    out = F.one_hot(idx)
    assert out.dtype == torch.int64
    assert tuple(out.shape) == (2, 2, 4)
    np.testing.assert_array_equal(to_np(out), np.eye(4, dtype=np.int64)[[[0, 2], [1, 3]]])
    assert tuple(F.one_hot(idx, 6).shape) == (2, 2, 6)
    with pytest.raises(RuntimeError):
        F.one_hot(idx, 3)
    with pytest.raises(RuntimeError):
        F.one_hot(T(np.array([-1, 0])))


def test_normalize():
    x = randn(3, 4)
    np.testing.assert_allclose(
        to_np(F.normalize(T(x))), x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-10
    )
    np.testing.assert_allclose(
        to_np(F.normalize(T(x), p=1, dim=0)), x / np.abs(x).sum(0, keepdims=True), rtol=1e-10
    )
    z = to_np(F.normalize(T(np.zeros((2, 3)))))
    assert np.all(z == 0)
    gradcheck(lambda t: F.normalize(t, dim=-1), T(x, True))


def test_cosine_similarity_and_pairwise_distance():
    a, b = randn(5, 4), randn(5, 4)
    ref = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(to_np(F.cosine_similarity(T(a), T(b))), ref, rtol=1e-10)
    bc = F.cosine_similarity(T(a), T(b[:1]), dim=1)
    assert tuple(bc.shape) == (5,)
    gradcheck(lambda x, y: F.cosine_similarity(x, y), T(a, True), T(b, True))
    d = F.pairwise_distance(T(a), T(b))
    np.testing.assert_allclose(to_np(d), np.linalg.norm(a - b + 1e-6, axis=1), rtol=1e-10)


def test_unfold_fold():
    x = randn(2, 3, 5, 4)
    cols = F.unfold(T(x), kernel_size=(2, 3), padding=1, stride=(2, 1))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    oh, ow = (5 + 2 - 2) // 2 + 1, (4 + 2 - 3) // 1 + 1
    ref = np.zeros((2, 3 * 6, oh * ow))
    for i in range(oh):
        for j in range(ow):
            ref[:, :, i * ow + j] = xp[:, :, 2 * i : 2 * i + 2, j : j + 3].reshape(2, -1)
    np.testing.assert_allclose(to_np(cols), ref)
    back = F.fold(cols, (5, 4), kernel_size=(2, 3), padding=1, stride=(2, 1))
    ones = F.fold(
        F.unfold(torch.ones(1, 1, 5, 4, dtype=torch.float64), (2, 3), padding=1, stride=(2, 1)),
        (5, 4),
        (2, 3),
        padding=1,
        stride=(2, 1),
    )
    np.testing.assert_allclose(to_np(back), x * to_np(ones), rtol=1e-10)
    gradcheck(lambda t: F.unfold(t, 2, dilation=2), T(randn(1, 2, 4, 4), True))
    gradcheck(lambda t: F.fold(t, (3, 3), 2), T(randn(1, 4, 4), True))


# ---------------------------------------------------------------- attention
def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = (q @ np.swapaxes(k, -1, -2)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def test_scaled_dot_product_attention():
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 6, 8), randn(2, 3, 6, 5)
    out = F.scaled_dot_product_attention(T(q), T(k), T(v))
    np.testing.assert_allclose(to_np(out), np_sdpa(q, k, v), rtol=1e-10)
    mask = RNG.random((4, 6)) > 0.3
    mask[:, 0] = True
    np.testing.assert_allclose(
        to_np(F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(mask))),
        np_sdpa(q, k, v, mask),
        rtol=1e-10,
    )
    fm = randn(4, 6)
    np.testing.assert_allclose(
        to_np(F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(fm), scale=0.3)),
        np_sdpa(q, k, v, fm, scale=0.3),
        rtol=1e-10,
    )
    qs = randn(2, 5, 4)
    np.testing.assert_allclose(
        to_np(F.scaled_dot_product_attention(T(qs), T(qs), T(qs), is_causal=True)),
        np_sdpa(qs, qs, qs, causal=True),
        rtol=1e-10,
    )
    gradcheck(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
        T(randn(1, 3, 4), True),
        T(randn(1, 3, 4), True),
        T(randn(1, 3, 2), True),
    )
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(T(qs), T(qs), T(qs), attn_mask=T(fm[:5, :5]), is_causal=True)


def test_sdpa_dropout_training():
    torch.manual_seed(0)
    q = T(randn(1, 4, 8))
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert tuple(out.shape) == (1, 4, 8)
