"""Layers against numpy transcriptions: linear, conv, pooling, embedding, dropout."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F

RNG = np.random.default_rng(0)
_DT = {"float64": "float64", "float32": "float32", "int64": "int64", "bool": "bool"}


def T(a, requires_grad=False):
    a = np.asarray(a)
    t = torch.tensor(a.tolist(), dtype=getattr(torch, _DT[str(a.dtype)]))
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


# ---------------------------------------------------------------- numpy references
def np_conv2d(x, w, b, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[
                    :,
                    g * cg : (g + 1) * cg,
                    i * sh : i * sh + dh * (kh - 1) + 1 : dh,
                    j * sw : j * sw + dw * (kw - 1) + 1 : dw,
                ]
                out[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3))
        if b is not None:
            out[:, oc] += b[oc]
    return out


def np_conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation):
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    full = np.zeros((n, og * groups, oh + 2 * ph + sh, ow + 2 * pw + sw))
    cg = cin // groups
    for ci in range(cin):
        g = ci // cg
        for i in range(h):
            for j in range(wd):
                for ki in range(kh):
                    for kj in range(kw):
                        full[:, g * og : (g + 1) * og, i * sh + ki * dh, j * sw + kj * dw] += (
                            x[:, ci, i, j][:, None] * w[ci, :, ki, kj][None]
                        )
    out = full[:, :, ph : ph + oh, pw : pw + ow]
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def np_pool2d(x, k, s, p, mode, ceil_mode=False, count_include_pad=True, dilation=(1, 1)):
    n, c, h, w = x.shape
    outs = []
    for size, kk, ss, pp, dd in zip((h, w), k, s, p, dilation):
        o = (size + 2 * pp - dd * (kk - 1) - 1 + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (o - 1) * ss >= size + pp:
            o -= 1
        outs.append(o)
    oh, ow = outs
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s[0] - p[0], j * s[1] - p[1]
            rows = [hs + a * dilation[0] for a in range(k[0])]
            cols = [ws + b * dilation[1] for b in range(k[1])]
            rv = [r for r in rows if 0 <= r < h]
            cv = [q for q in cols if 0 <= q < w]
            win = x[:, :, rv][:, :, :, cv]
            if mode == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                he = min(hs + k[0], h + p[0])
                we = min(ws + k[1], w + p[1])
                if count_include_pad:
                    div = (he - hs) * (we - ws)
                else:
                    div = len(rv) * len(cv)
                out[:, :, i, j] = win.sum(axis=(2, 3)) / div
    return out


# ---------------------------------------------------------------- linear
def test_linear_values_and_shapes():
    lin = nn.Linear(3, 2).double()
    x = randn(4, 5, 3)
    out = lin(T(x))
    assert tuple(out.shape) == (4, 5, 2)
    ref = x @ to_np(lin.weight).T + to_np(lin.bias)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-10)
    nb = nn.Linear(3, 2, bias=False)
    assert nb.bias is None and len(list(nb.parameters())) == 1


def test_linear_default_init_bounds():
    torch.manual_seed(0)
    lin = nn.Linear(100, 300)
    bound = 1 / math.sqrt(100)
    w, b = to_np(lin.weight), to_np(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    # uniform(-a, a) has std a / sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert abs(w.mean()) < 0.02 * bound


def test_linear_gradcheck():
    lin = nn.Linear(3, 2).double()
    gradcheck(
        lambda x, w, b: F.linear(x, w, b),
        T(randn(4, 3), True),
        T(randn(2, 3), True),
        T(randn(2), True),
    )
    gradcheck(lin, T(randn(2, 3), True))


def test_bilinear():
    bl = nn.Bilinear(3, 4, 2).double()
    x1, x2 = randn(5, 3), randn(5, 4)
    ref = np.einsum("ni,oij,nj->no", x1, to_np(bl.weight), x2) + to_np(bl.bias)
    np.testing.assert_allclose(to_np(bl(T(x1), T(x2))), ref, rtol=1e-10)
    bound = 1 / math.sqrt(3)
    assert np.abs(to_np(bl.weight)).max() <= bound
    gradcheck(lambda a, b: bl(a, b), T(randn(2, 3), True), T(randn(2, 4), True))
    assert repr(bl) == "Bilinear(in1_features=3, in2_features=4, out_features=2, bias=True)"


# ---------------------------------------------------------------- convolution
@pytest.mark.parametrize(
    "cin,cout,k,stride,padding,dilation,groups",
    [
        (2, 3, 3, 1, 0, 1, 1),
        (2, 4, (2, 3), (2, 1), (1, 2), 1, 2),
        (3, 3, 3, 1, 2, 2, 3),
        (1, 2, 1, 2, 0, 1, 1),
    ],
)
def test_conv2d_matches_numpy(cin, cout, k, stride, padding, dilation, groups):
    conv = nn.Conv2d(cin, cout, k, stride, padding, dilation, groups).double()
    x = randn(2, cin, 7, 6)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    ref = np_conv2d(
        x, to_np(conv.weight), to_np(conv.bias), pair(stride), pair(padding), pair(dilation), groups
    )
    np.testing.assert_allclose(to_np(conv(T(x))), ref, rtol=1e-9, atol=1e-12)


def test_conv2d_same_valid_and_modes():
    x = randn(1, 2, 5, 6)
    conv = nn.Conv2d(2, 3, (4, 3), padding="same", bias=False).double()
    out = conv(T(x))
    assert tuple(out.shape) == (1, 3, 5, 6)
    # even kernel: total padding 3 -> 1 left, 2 right
    xp = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 1)))
    np.testing.assert_allclose(to_np(out), np_conv2d(xp, to_np(conv.weight), None), rtol=1e-9)
    valid = nn.Conv2d(2, 3, 3, padding="valid").double()
    assert tuple(valid(T(x)).shape) == (1, 3, 3, 4)
    refl = nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect").double()
    xr = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    np.testing.assert_allclose(
        to_np(refl(T(x))), np_conv2d(xr, to_np(refl.weight), to_np(refl.bias)), rtol=1e-9
    )
    circ = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular").double()
    xc = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="wrap")
    np.testing.assert_allclose(
        to_np(circ(T(x))), np_conv2d(xc, to_np(circ.weight), to_np(circ.bias)), rtol=1e-9
    )
    with pytest.raises(ValueError):
        nn.Conv2d(2, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError):
        nn.Conv2d(2, 3, 3, padding="full")
    with pytest.raises(ValueError):
        nn.Conv2d(3, 3, 3, groups=2)


def test_conv2d_unbatched_and_errors():
    conv = nn.Conv2d(2, 3, 3)
    assert tuple(conv(torch.randn(2, 5, 5)).shape) == (3, 3, 3)
    with pytest.raises(RuntimeError):
        conv(torch.randn(1, 4, 5, 5))


def test_conv2d_default_init_bounds():
    torch.manual_seed(1)
    conv = nn.Conv2d(4, 64, 3)
    bound = 1 / math.sqrt(4 * 9)
    assert np.abs(to_np(conv.weight)).max() <= bound
    assert np.abs(to_np(conv.weight)).max() > 0.95 * bound
    assert np.abs(to_np(conv.bias)).max() <= bound


def test_conv2d_gradcheck():
    w, b = T(randn(4, 1, 2, 2), True), T(randn(4), True)
    x = T(randn(1, 2, 4, 5), True)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2), x, w, b)
    gradcheck(
        lambda x, w: F.conv2d(x, w.reshape(2, 2, 2, 2), padding="same"),
        x,
        T(randn(2, 2, 2, 2), True),
    )


def test_conv1d():
    conv = nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=1, groups=2).double()
    x = randn(3, 2, 9)
    ref = np_conv2d(
        x[:, :, None], to_np(conv.weight)[:, :, None], to_np(conv.bias), (1, 2), (0, 1), (1, 1), 2
    )[:, :, 0]
    np.testing.assert_allclose(to_np(conv(T(x))), ref, rtol=1e-9)
    assert repr(conv) == "Conv1d(2, 4, kernel_size=(3,), stride=(2,), padding=(1,), groups=2)"
    same = nn.Conv1d(2, 2, 4, padding="same").double()
    assert tuple(same(T(x)).shape) == (3, 2, 9)
    gradcheck(lambda x: conv(x), T(randn(1, 2, 6), True))


@pytest.mark.parametrize(
    "stride,padding,output_padding,groups,dilation",
    [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 0, 2, 2), (3, 2, 1, 1, 1)],
)
def test_conv_transpose2d(stride, padding, output_padding, groups, dilation):
    ct = nn.ConvTranspose2d(
        4, 6, 3, stride, padding, output_padding, groups, True, dilation
    ).double()
    assert tuple(ct.weight.shape) == (4, 6 // groups, 3, 3)
    x = randn(2, 4, 4, 3)
    p2 = lambda v: (v, v)  # noqa: E731
    ref = np_conv_transpose2d(
        x,
        to_np(ct.weight),
        to_np(ct.bias),
        p2(stride),
        p2(padding),
        p2(output_padding),
        groups,
        p2(dilation),
    )
    out = ct(T(x))
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-9, atol=1e-12)


def test_conv_transpose2d_output_size_and_grad():
    ct = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    x = T(randn(1, 2, 4, 4), True)
    assert tuple(ct(x).shape) == (1, 3, 7, 7)
    assert tuple(ct(x, output_size=[8, 8]).shape) == (1, 3, 8, 8)
    with pytest.raises(ValueError):
        ct(x, output_size=[10, 10])
    gradcheck(lambda x: ct(x), T(randn(1, 2, 3, 3), True))
    assert repr(nn.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1)) == (
        "ConvTranspose2d(4, 8, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"
    )


def test_conv_transpose1d():
    ct = nn.ConvTranspose1d(2, 3, 3, stride=2).double()
    x = randn(1, 2, 5)
    ref = np_conv_transpose2d(
        x[:, :, None],
        to_np(ct.weight)[:, :, None],
        to_np(ct.bias),
        (1, 2),
        (0, 0),
        (0, 0),
        1,
        (1, 1),
    )[:, :, 0]
    np.testing.assert_allclose(to_np(ct(T(x))), ref, rtol=1e-9)


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize(
    "k,s,p,ceil,dil",
    [
        (2, 2, 0, False, 1),
        (3, 2, 1, False, 1),
        (3, 2, 1, True, 1),
        ((2, 3), (1, 2), (1, 1), True, 1),
        (2, 1, 0, False, 2),
    ],
)
def test_max_pool2d(k, s, p, ceil, dil):
    x = randn(2, 3, 7, 8)
    pool = nn.MaxPool2d(k, s, p, dilation=dil, ceil_mode=ceil)
    t2 = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    ref = np_pool2d(x, t2(k), t2(s), t2(p), "max", ceil, dilation=t2(dil))
    np.testing.assert_allclose(to_np(pool(T(x))), ref)


def test_max_pool2d_indices_and_grad():
    x = T(randn(1, 2, 5, 5), True)
    vals, idx = F.max_pool2d(x, 2, 2, return_indices=True)
    flat = to_np(x).reshape(1, 2, -1)
    picked = np.take_along_axis(flat, to_np(idx).reshape(1, 2, -1).astype(np.int64), 2)
    np.testing.assert_allclose(picked.reshape(to_np(vals).shape), to_np(vals))
    assert idx.dtype == torch.int64
    gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1), x)
    pool = nn.MaxPool2d(2, return_indices=True)
    assert isinstance(pool(x), tuple)
    assert repr(nn.MaxPool2d(2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )


def test_max_pool1d():
    x = randn(2, 3, 9)
    out = nn.MaxPool1d(3, 2, 1)(T(x))
    ref = np_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), "max")[:, :, 0]
    np.testing.assert_allclose(to_np(out), ref)
    v, i = F.max_pool1d(T(x), 2, return_indices=True)
    np.testing.assert_allclose(np.take_along_axis(x, to_np(i).astype(np.int64), 2), to_np(v))


@pytest.mark.parametrize(
    "k,s,p,ceil,cip",
    [
        (2, 2, 0, False, True),
        (3, 2, 1, False, True),
        (3, 2, 1, False, False),
        (3, 2, 1, True, True),
        (3, 2, 1, True, False),
    ],
)
def test_avg_pool2d(k, s, p, ceil, cip):
    x = randn(2, 2, 7, 6)
    out = nn.AvgPool2d(k, s, p, ceil, cip)(T(x))
    ref = np_pool2d(x, (k, k), (s, s), (p, p), "avg", ceil, cip)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-10)


def test_avg_pool_divisor_override_grad_and_1d():
    x = randn(1, 1, 4, 4)
    out = F.avg_pool2d(T(x), 2, divisor_override=1)
    np.testing.assert_allclose(to_np(out), x.reshape(1, 1, 2, 2, 2, 2).sum((3, 5)))
    gradcheck(
        lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), T(randn(1, 2, 5, 5), True)
    )
    x1 = randn(2, 3, 8)
    np.testing.assert_allclose(
        to_np(nn.AvgPool1d(2)(T(x1))), x1.reshape(2, 3, 4, 2).mean(-1), rtol=1e-10
    )


def test_adaptive_avg_pool():
    x = randn(2, 3, 7, 5)
    out = nn.AdaptiveAvgPool2d((3, 2))(T(x))
    ref = np.zeros((2, 3, 3, 2))
    for i in range(3):
        for j in range(2):
            hs, he = (i * 7) // 3, -((-(i + 1) * 7) // 3)
            ws, we = (j * 5) // 2, -((-(j + 1) * 5) // 2)
            ref[:, :, i, j] = x[:, :, hs:he, ws:we].mean((2, 3))
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-10)
    g = nn.AdaptiveAvgPool2d(1)(T(x))
    np.testing.assert_allclose(to_np(g), x.mean((2, 3), keepdims=True), rtol=1e-10)
    assert tuple(nn.AdaptiveAvgPool2d((None, 2))(T(x)).shape) == (2, 3, 7, 2)
    gradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), T(randn(1, 1, 5, 4), True))
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    x1 = randn(2, 6)
    np.testing.assert_allclose(
        to_np(F.adaptive_avg_pool1d(T(x1), 3)), x1.reshape(2, 3, 2).mean(-1), rtol=1e-10
    )


def test_adaptive_max_pool2d():
    x = randn(1, 2, 6, 6)
    v, i = F.adaptive_max_pool2d(T(x), 2, return_indices=True)
    np.testing.assert_allclose(to_np(v), x.reshape(1, 2, 2, 3, 2, 3).max((3, 5)))
    flat = x.reshape(1, 2, -1)
    np.testing.assert_allclose(
        np.take_along_axis(flat, to_np(i).reshape(1, 2, -1).astype(np.int64), 2).reshape(
            1, 2, 2, 2
        ),
        to_np(v),
    )


# ---------------------------------------------------------------- embedding
def test_embedding_lookup_and_padding():
    torch.manual_seed(0)
    emb = nn.Embedding(6, 3, padding_idx=2)
    w = to_np(emb.weight)
    np.testing.assert_array_equal(w[2], np.zeros(3))
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    out = emb(T(idx))
    assert tuple(out.shape) == (2, 3, 3)
    np.testing.assert_allclose(to_np(out), w[idx])
    out.sum().backward()
    g = to_np(emb.weight.grad)
    np.testing.assert_array_equal(g[2], np.zeros(3))
    np.testing.assert_allclose(g[0], np.ones(3))
    np.testing.assert_allclose(g[1], np.ones(3))
    np.testing.assert_allclose(g[3], np.zeros(3))
    assert repr(emb) == "Embedding(6, 3, padding_idx=2)"
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_embedding_init_stats_and_from_pretrained():
    torch.manual_seed(0)
    w = to_np(nn.Embedding(1000, 50).weight)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    pre = T(randn(4, 2))
    emb = nn.Embedding.from_pretrained(pre)
    assert not emb.weight.requires_grad
    np.testing.assert_allclose(to_np(emb(T(np.array([3, 0])))), to_np(pre)[[3, 0]])
    assert nn.Embedding.from_pretrained(pre, freeze=False).weight.requires_grad


def test_embedding_max_norm_and_scale_grad():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    emb = nn.Embedding.from_pretrained(T(w), freeze=False, max_norm=1.0)
    emb(T(np.array([0, 1])))
    got = to_np(emb.weight)
    np.testing.assert_allclose(got[0], w[0] / (5 + 1e-7), rtol=1e-6)
    np.testing.assert_allclose(got[1:], w[1:])
    emb2 = nn.Embedding.from_pretrained(T(w), freeze=False, scale_grad_by_freq=True)
    emb2(T(np.array([0, 0, 1]))).sum().backward()
    np.testing.assert_allclose(to_np(emb2.weight.grad), [[1, 1], [1, 1], [0, 0]])


def test_embedding_gradcheck():
    w = T(randn(5, 3), True)
    idx = T(np.array([[1, 4], [0, 1]]))
    gradcheck(lambda w: F.embedding(idx, w), w)


# ---------------------------------------------------------------- dropout
def test_dropout_train_and_eval():
    torch.manual_seed(0)
    d = nn.Dropout(0.25)
    x = torch.ones(200, 100)
    y = to_np(d(x))
    kept = y != 0
    assert 0.70 < kept.mean() < 0.80
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert d(x) is x
    assert float(F.dropout(x, 1.0).abs().sum()) == 0.0
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"


def test_dropout_grad_uses_mask():
    torch.manual_seed(3)
    x = torch.ones(50, 20, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), to_np(y))


def test_dropout2d_zeroes_whole_channels():
    torch.manual_seed(0)
    y = to_np(nn.Dropout2d(0.5)(torch.ones(8, 16, 3, 3)))
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
