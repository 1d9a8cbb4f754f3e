"""3-D convolution, transposed convolution, pooling and their layers.

Values against direct-loop numpy references on small shapes, side by side with PyTorch
when it is installed (copied weights, many stride/padding/dilation/groups settings),
float64 gradchecks, unbatched inputs and PyTorch's errors for bad arguments.
"""

import itertools
import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F

RNG = np.random.default_rng(7)


def randn(*shape):
    return RNG.standard_normal(shape)


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def trip(v):
    return (v,) * 3 if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------------- numpy references
def np_conv3d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    s, p, d = trip(stride), trip(padding), trip(dilation)
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    k = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(q, q) for q in p])
    out = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(3)]
    y = np.zeros((n, o, *out))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i, j, m in itertools.product(*map(range, out)):
            acc = np.zeros(n)
            for ic, a, bb, cc in itertools.product(range(cg), *map(range, k)):
                v = xp[
                    :, g * cg + ic, i * s[0] + a * d[0], j * s[1] + bb * d[1], m * s[2] + cc * d[2]
                ]
                acc += v * w[oc, ic, a, bb, cc]
            y[:, oc, i, j, m] = acc
    if b is not None:
        y += b.reshape(1, -1, 1, 1, 1)
    return y


def np_conv_transpose3d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    s, p, op, d = trip(stride), trip(padding), trip(output_padding), trip(dilation)
    n, cin = x.shape[:2]
    og = w.shape[1]
    k = w.shape[2:]
    full = [(x.shape[2 + i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(3)]
    y = np.zeros((n, og * groups, *full))
    ig = cin // groups
    for ic in range(cin):
        g = ic // ig
        for i, j, m in itertools.product(*map(range, x.shape[2:])):
            for oc, a, bb, cc in itertools.product(range(og), *map(range, k)):
                y[
                    :, g * og + oc, i * s[0] + a * d[0], j * s[1] + bb * d[1], m * s[2] + cc * d[2]
                ] += x[:, ic, i, j, m] * w[ic, oc, a, bb, cc]
    y = y[:, :, p[0] : full[0] - p[0], p[1] : full[1] - p[1], p[2] : full[2] - p[2]]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1, 1)
    return y


def _pool_len(size, k, s, p, d, ceil):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def np_max_pool3d(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    k = trip(kernel)
    s = k if stride is None else trip(stride)
    p, d = trip(padding), trip(dilation)
    n, c, *size = x.shape
    out = [_pool_len(size[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(3)]
    vals = np.zeros((n, c, *out))
    idx = np.zeros((n, c, *out), dtype=np.int64)
    for b, ch, i, j, m in itertools.product(range(n), range(c), *map(range, out)):
        best, where = -np.inf, -1
        for a, bb, cc in itertools.product(*map(range, k)):
            z = i * s[0] - p[0] + a * d[0]
            y = j * s[1] - p[1] + bb * d[1]
            xx = m * s[2] - p[2] + cc * d[2]
            if 0 <= z < size[0] and 0 <= y < size[1] and 0 <= xx < size[2]:
                v = x[b, ch, z, y, xx]
                if v > best:
                    best, where = v, (z * size[1] + y) * size[2] + xx
        vals[b, ch, i, j, m], idx[b, ch, i, j, m] = best, where
    return vals, idx


def np_avg_pool3d(
    x, kernel, stride=None, padding=0, ceil_mode=False, include_pad=True, divisor=None
):
    k = trip(kernel)
    s = k if stride is None else trip(stride)
    p = trip(padding)
    n, c, *size = x.shape
    out = [_pool_len(size[i], k[i], s[i], p[i], 1, ceil_mode) for i in range(3)]
    y = np.zeros((n, c, *out))
    for i, j, m in itertools.product(*map(range, out)):
        lo = [i * s[0] - p[0], j * s[1] - p[1], m * s[2] - p[2]]
        hi = [min(lo[a] + k[a], size[a] + p[a]) for a in range(3)]
        padded_count = math.prod(h - lo_ for lo_, h in zip(lo, hi))
        lo = [max(v, 0) for v in lo]
        hi = [min(h, size[a]) for a, h in enumerate(hi)]
        window = x[:, :, lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        count = divisor or (padded_count if include_pad else window[0, 0].size)
        y[:, :, i, j, m] = window.sum(axis=(2, 3, 4)) / count
    return y


def _bounds(n, out):
    return [(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]


def np_adaptive3d(x, out, op):
    n, c, *size = x.shape
    res = np.zeros((n, c, *out))
    idx = np.zeros((n, c, *out), dtype=np.int64)
    for (i, (d0, d1)), (j, (h0, h1)), (m, (w0, w1)) in itertools.product(
        *(enumerate(_bounds(size[a], out[a])) for a in range(3))
    ):
        win = x[:, :, d0:d1, h0:h1, w0:w1]
        if op == "mean":
            res[:, :, i, j, m] = win.mean(axis=(2, 3, 4))
            continue
        flat = win.reshape(n, c, -1)
        res[:, :, i, j, m] = flat.max(-1)
        a, b, cc = np.unravel_index(flat.argmax(-1), win.shape[2:])
        idx[:, :, i, j, m] = ((d0 + a) * size[1] + h0 + b) * size[2] + w0 + cc
    return res, idx


# ---------------------------------------------------------------------- values vs numpy
CONV_CASES = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(1, 2, 1), padding=(0, 1, 2), dilation=(2, 1, 1)),
    dict(groups=2, dilation=(1, 1, 2), padding=(1, 0, 1)),
]


@pytest.mark.parametrize("kw", CONV_CASES)
def test_conv3d_matches_loops(kw):
    g = kw.get("groups", 1)
    x, w, b = randn(2, 4, 5, 4, 6), randn(6, 4 // g, 2, 3, 2), randn(6)
    got = F.conv3d(T(x), T(w), T(b), **kw)
    np.testing.assert_allclose(got.numpy(), np_conv3d(x, w, b, **kw), rtol=1e-10, atol=1e-10)


TRANSPOSE_CASES = [
    dict(),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 2, 3), padding=(0, 1, 1), output_padding=(0, 1, 2), dilation=(2, 1, 1)),
    dict(groups=2, dilation=(1, 2, 1), stride=(2, 1, 1), output_padding=(1, 1, 0)),
]


@pytest.mark.parametrize("kw", TRANSPOSE_CASES)
def test_conv_transpose3d_matches_loops(kw):
    g = kw.get("groups", 1)
    x, w, b = randn(2, 4, 3, 4, 3), randn(4, 6 // g, 2, 3, 2), randn(6)
    got = F.conv_transpose3d(T(x), T(w), T(b), **kw)
    want = np_conv_transpose3d(x, w, b, **kw)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)


def test_conv_transpose3d_is_adjoint_of_conv3d():
    # <conv(x), y> == <x, conv_transpose(y)> for the same kernel and geometry.
    x, w = randn(1, 4, 6, 5, 7), randn(6, 2, 3, 2, 3)
    kw = dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(1, 2, 1), groups=2)
    y = F.conv3d(T(x), T(w), **kw)
    r = randn(*y.shape)
    back = F.conv_transpose3d(T(r), T(w), output_padding=(1, 0, 0), **kw)
    assert back.shape == tuple(x.shape)
    np.testing.assert_allclose((y.numpy() * r).sum(), (back.numpy() * x).sum(), rtol=1e-10)


def test_conv3d_same_and_valid_padding():
    x, w = randn(1, 2, 5, 6, 4), randn(3, 2, 2, 3, 4)
    same = F.conv3d(T(x), T(w), padding="same", dilation=(2, 1, 1))
    assert same.shape == (1, 3, 5, 6, 4)
    # 'same' with an even effective kernel pads the extra voxel on the far side.
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1), (1, 2)])
    np.testing.assert_allclose(same.numpy(), np_conv3d(xp, w, dilation=(2, 1, 1)), atol=1e-10)
    valid = F.conv3d(T(x), T(w), padding="valid")
    np.testing.assert_allclose(valid.numpy(), np_conv3d(x, w), atol=1e-10)


MAX_CASES = [
    dict(kernel=2),
    dict(kernel=3, stride=2, padding=1),
    dict(kernel=(2, 3, 2), stride=(1, 2, 1), padding=(1, 1, 0), dilation=(2, 1, 1)),
    dict(kernel=2, stride=3, ceil_mode=True),
    dict(kernel=3, stride=2, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool3d_matches_loops(kw):
    x = randn(2, 3, 6, 5, 7)
    kw = dict(kw)
    k = kw.pop("kernel")
    vals, idx = F.max_pool3d(T(x), k, return_indices=True, **kw)
    want_v, want_i = np_max_pool3d(x, k, **kw)
    np.testing.assert_array_equal(vals.numpy(), want_v)
    np.testing.assert_array_equal(idx.numpy(), want_i)
    assert idx.dtype == torch.int64
    np.testing.assert_array_equal(F.max_pool3d(T(x), k, **kw).numpy(), want_v)


AVG_CASES = [
    dict(kernel=2),
    dict(kernel=3, stride=2, padding=1),
    dict(kernel=3, stride=2, padding=1, include_pad=False),
    dict(kernel=(2, 3, 2), stride=(1, 2, 3), padding=(1, 1, 0), ceil_mode=True),
    dict(kernel=3, stride=2, padding=1, ceil_mode=True, include_pad=False),
    dict(kernel=(3, 2, 2), stride=2, padding=1, divisor=5),
]


@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool3d_matches_loops(kw):
    x = randn(2, 3, 6, 5, 7)
    kw = dict(kw)
    k = kw.pop("kernel")
    got = F.avg_pool3d(
        T(x),
        k,
        kw.get("stride"),
        kw.get("padding", 0),
        kw.get("ceil_mode", False),
        kw.get("include_pad", True),
        kw.get("divisor"),
    )
    np.testing.assert_allclose(got.numpy(), np_avg_pool3d(x, k, **kw), rtol=1e-12)


@pytest.mark.parametrize("out", [(1, 1, 1), (2, 3, 4), (3, 5, 2), (7, 6, 9), (4, 2, 3)])
def test_adaptive_pools_match_loops(out):
    x = randn(2, 3, 5, 4, 7)
    avg = F.adaptive_avg_pool3d(T(x), out)
    np.testing.assert_allclose(avg.numpy(), np_adaptive3d(x, out, "mean")[0], rtol=1e-12)
    vals, idx = F.adaptive_max_pool3d(T(x), out, return_indices=True)
    want_v, want_i = np_adaptive3d(x, out, "max")
    np.testing.assert_array_equal(vals.numpy(), want_v)
    np.testing.assert_array_equal(idx.numpy(), want_i)


def test_adaptive_pool_none_keeps_size_and_zero_output():
    x = T(randn(1, 2, 4, 5, 6))
    assert F.adaptive_avg_pool3d(x, (2, None, 3)).shape == (1, 2, 2, 5, 3)
    assert F.adaptive_max_pool3d(x, (None, 1, None)).shape == (1, 2, 4, 1, 6)
    assert F.adaptive_avg_pool3d(x, 0).shape == (1, 2, 0, 0, 0)
    assert F.adaptive_max_pool3d(x, (0, 2, 2)).shape == (1, 2, 0, 2, 2)


def test_lp_pool3d_values():
    x = np.abs(randn(1, 2, 4, 4, 6)) + 0.1
    got = F.lp_pool3d(T(x), 2, (2, 2, 3))
    want = np.sqrt(np_avg_pool3d(x**2, (2, 2, 3)) * 12)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    # p = 1 keeps the sign of a negative window sum.
    neg = F.lp_pool3d(-torch.ones(1, 1, 2, 2, 2), 1, 2)
    assert neg.item() == -8.0


def test_integer_pooling():
    x = torch.arange(8).reshape(1, 1, 2, 2, 2) * 3
    assert F.max_pool3d(x, 2, padding=1).tolist() == x.tolist()
    assert F.max_pool3d(x, 2).dtype == torch.int64
    # An integer mean truncates toward zero: -84 / 8 -> -10.
    assert F.avg_pool3d(-x, 2).tolist() == [[[[[-10]]]]]


def test_empty_batch():
    w = T(randn(4, 2, 3, 3, 3))
    assert F.conv3d(torch.zeros(0, 2, 4, 4, 4, dtype=torch.float64), w).shape == (0, 4, 2, 2, 2)
    vals, idx = F.max_pool3d(torch.zeros(0, 2, 4, 4, 4), 2, return_indices=True)
    assert vals.shape == idx.shape == (0, 2, 2, 2, 2)


# ---------------------------------------------------------------------- unbatched input
def test_unbatched_inputs_match_batch_of_one():
    x = randn(4, 5, 4, 6)
    w, wt = randn(6, 2, 2, 2, 3), randn(4, 3, 2, 2, 2)
    xb = T(x[None])
    pairs = [
        (lambda t: F.conv3d(t, T(w), groups=2, padding=1), (4,)),
        (lambda t: F.conv_transpose3d(t, T(wt), stride=2, groups=2), (4,)),
        (lambda t: F.max_pool3d(t, 2, return_indices=True)[1], (4,)),
        (lambda t: F.avg_pool3d(t, 2, padding=1), (4,)),
        (lambda t: F.adaptive_avg_pool3d(t, (2, 3, 2)), (4,)),
        (lambda t: F.adaptive_max_pool3d(t, (2, 3, 2)), (4,)),
        (lambda t: F.lp_pool3d(t.abs(), 2, 2), (4,)),
    ]
    for fn, _ in pairs:
        one, batch = fn(T(x)), fn(xb)
        assert one.dim() == 4
        np.testing.assert_allclose(one.numpy(), batch.numpy()[0])


def test_unbatched_modules():
    x = torch.randn(3, 4, 5, 6)
    assert nn.Conv3d(3, 5, 3, padding=1, padding_mode="replicate")(x).shape == (5, 4, 5, 6)
    assert nn.ConvTranspose3d(3, 2, 2, stride=2)(x).shape == (2, 8, 10, 12)
    assert nn.MaxPool3d(2)(x).shape == (3, 2, 2, 3)
    assert nn.InstanceNorm3d(3, affine=True)(x).shape == (3, 4, 5, 6)


# ---------------------------------------------------------------------- gradients
def test_conv3d_gradcheck():
    x, w, b = T(randn(2, 4, 4, 3, 5), True), T(randn(4, 2, 2, 2, 3), True), T(randn(4), True)

    def fn(x, w, b):
        return F.conv3d(x, w, b, stride=(1, 2, 1), padding=1, dilation=(1, 1, 2), groups=2)

    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b))


def test_conv3d_same_padding_gradcheck():
    x, w = T(randn(1, 2, 3, 4, 3), True), T(randn(2, 2, 2, 3, 2), True)
    assert torch.autograd.gradcheck(lambda x, w: F.conv3d(x, w, padding="same"), (x, w))


def test_conv_transpose3d_gradcheck():
    x, w, b = T(randn(1, 4, 3, 2, 3), True), T(randn(4, 2, 2, 3, 2), True), T(randn(4), True)

    def fn(x, w, b):
        return F.conv_transpose3d(
            x,
            w,
            b,
            stride=(2, 1, 2),
            padding=(1, 0, 0),
            output_padding=(1, 0, 0),
            groups=2,
            dilation=(1, 2, 1),
        )

    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b))


def test_pool_gradchecks():
    x = T(randn(2, 2, 5, 4, 6), True)
    checks = [
        lambda t: F.max_pool3d(t, (3, 2, 3), (2, 1, 2), (1, 0, 1), (1, 2, 1), ceil_mode=True),
        lambda t: F.avg_pool3d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda t: F.avg_pool3d(t, 2, divisor_override=3),
        lambda t: F.adaptive_avg_pool3d(t, (3, None, 4)),
        lambda t: F.adaptive_max_pool3d(t, (3, 3, 4)),
        lambda t: F.lp_pool3d(t.abs() + 0.5, 2, 2),
    ]
    for fn in checks:
        assert torch.autograd.gradcheck(fn, (x,))


def test_max_pool_gradient_goes_to_the_argmax():
    x = T(randn(1, 1, 4, 4, 4), True)
    vals, idx = F.max_pool3d(x, 2, return_indices=True)
    vals.sum().backward()
    grad = x.grad.numpy().reshape(-1)
    assert grad.sum() == 8
    assert set(np.nonzero(grad)[0]) == set(idx.numpy().reshape(-1).tolist())


# ---------------------------------------------------------------------- modules
def test_module_paths_and_exports():
    from rtorch.nn.modules.conv import Conv3d, ConvTranspose3d
    from rtorch.nn.modules.pooling import (
        AdaptiveAvgPool3d,
        AdaptiveMaxPool3d,
        AvgPool3d,
        LPPool3d,
        MaxPool3d,
    )

    assert nn.Conv3d is Conv3d and nn.ConvTranspose3d is ConvTranspose3d
    for cls in (AdaptiveAvgPool3d, AdaptiveMaxPool3d, AvgPool3d, LPPool3d, MaxPool3d):
        assert getattr(nn, cls.__name__) is cls
    for name in (
        "conv3d",
        "conv_transpose3d",
        "max_pool3d",
        "avg_pool3d",
        "adaptive_avg_pool3d",
        "adaptive_max_pool3d",
        "lp_pool3d",
    ):
        assert name in F.__all__
    assert "InstanceNorm3d" in nn.__all__ and "BatchNorm3d" in nn.__all__


def test_conv3d_module_layout_and_init():
    m = nn.Conv3d(4, 6, (3, 2, 1), stride=2, groups=2)
    assert m.weight.shape == (6, 2, 3, 2, 1) and m.bias.shape == (6,)
    assert m.kernel_size == (3, 2, 1) and m.stride == (2, 2, 2) and m.padding == (0, 0, 0)
    bound = 1 / math.sqrt(2 * 3 * 2 * 1)
    assert float(m.weight.abs().max()) <= bound and float(m.bias.abs().max()) <= bound
    assert list(m.state_dict()) == ["weight", "bias"]
    t = nn.ConvTranspose3d(4, 6, 3, groups=2, bias=False)
    assert t.weight.shape == (4, 3, 3, 3, 3) and t.bias is None
    assert list(t.state_dict()) == ["weight"]


def test_module_reprs():
    assert repr(nn.Conv3d(4, 6, 3)) == "Conv3d(4, 6, kernel_size=(3, 3, 3), stride=(1, 1, 1))"
    assert repr(nn.Conv3d(4, 6, (3, 2, 1), 2, (1, 0, 0), (1, 2, 1), 2, False, "circular")) == (
        "Conv3d(4, 6, kernel_size=(3, 2, 1), stride=(2, 2, 2), padding=(1, 0, 0), "
        "dilation=(1, 2, 1), groups=2, bias=False, padding_mode=circular)"
    )
    assert repr(nn.ConvTranspose3d(4, 6, 3, stride=2, output_padding=1)) == (
        "ConvTranspose3d(4, 6, kernel_size=(3, 3, 3), stride=(2, 2, 2), output_padding=(1, 1, 1))"
    )
    assert repr(nn.MaxPool3d(2)) == (
        "MaxPool3d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(nn.AvgPool3d(2)) == "AvgPool3d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool3d((1, None, 2))) == "AdaptiveAvgPool3d(output_size=(1, None, 2))"
    assert repr(nn.AdaptiveMaxPool3d(2)) == "AdaptiveMaxPool3d(output_size=2)"
    assert repr(nn.LPPool3d(2, 3)) == (
        "LPPool3d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    )
    assert repr(nn.InstanceNorm3d(3)) == (
        "InstanceNorm3d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, "
        "track_running_stats=False)"
    )


def test_conv_transpose3d_output_size():
    m = nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1)
    x = torch.randn(1, 2, 4, 4, 4)
    assert m(x).shape == (1, 3, 7, 7, 7)
    assert m(x, output_size=(8, 7, 8)).shape == (1, 3, 8, 7, 8)
    assert m(x, output_size=[1, 3, 8, 8, 8]).shape == (1, 3, 8, 8, 8)
    with pytest.raises(ValueError, match="requested an output size"):
        m(x, output_size=(9, 7, 7))


def test_padding_modes_match_explicit_pad():
    x = torch.randn(1, 2, 4, 5, 6)
    for mode in ("reflect", "replicate", "circular"):
        m = nn.Conv3d(2, 3, 3, padding=(1, 2, 1), padding_mode=mode)
        want = F.conv3d(F.pad(x, (1, 1, 2, 2, 1, 1), mode=mode), m.weight, m.bias)
        np.testing.assert_allclose(m(x).detach().numpy(), want.detach().numpy(), rtol=1e-6)


def test_pool_modules_forward():
    x = torch.randn(2, 3, 6, 6, 6)
    v, i = nn.MaxPool3d(3, 2, 1, return_indices=True)(x)
    assert v.shape == i.shape == (2, 3, 3, 3, 3)
    assert nn.AvgPool3d(2, divisor_override=1)(torch.ones(1, 1, 2, 2, 2)).item() == 8.0
    assert nn.AdaptiveMaxPool3d(1, return_indices=True)(x)[1].shape == (2, 3, 1, 1, 1)


def test_instance_norm3d_normalises_each_sample_channel():
    x = torch.randn(2, 3, 4, 5, 6, dtype=torch.float64) * 3 + 1
    y = nn.InstanceNorm3d(3)(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(2, 3, 4)), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=(2, 3, 4)), 1, atol=1e-3)
    with pytest.raises(ValueError, match="expected 4D or 5D input"):
        nn.InstanceNorm3d(3)(torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match="expected 5D input"):
        nn.BatchNorm3d(3)(torch.randn(3, 4, 5, 6))


# ---------------------------------------------------------------------- errors
def _raises(exc, match, fn):
    with pytest.raises(exc, match=match):
        fn()


def test_conv_errors():
    x = torch.randn(2, 4, 5, 5, 5)
    w = torch.randn(6, 2, 3, 3, 3)
    _raises(
        RuntimeError,
        r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d",
        lambda: F.conv3d(torch.randn(4, 5, 5), w),
    )
    _raises(
        RuntimeError, "expected input\\[2, 4, 5, 5, 5\\] to have 2 channels", lambda: F.conv3d(x, w)
    )
    _raises(
        RuntimeError,
        "padding='same' is not supported for strided",
        lambda: F.conv3d(x, w, groups=2, padding="same", stride=2),
    )
    _raises(
        RuntimeError,
        "Invalid padding string: 'foo'",
        lambda: F.conv3d(x, w, groups=2, padding="foo"),
    )
    _raises(
        RuntimeError,
        "Kernel size can't be greater than actual input size",
        lambda: F.conv3d(x, torch.randn(6, 2, 9, 3, 3), groups=2),
    )
    _raises(
        RuntimeError,
        "expected weight to be divisible by 2",
        lambda: F.conv3d(x, torch.randn(5, 2, 3, 3, 3), groups=2),
    )
    _raises(
        RuntimeError,
        "expected bias to be 1-dimensional with 6 elements",
        lambda: F.conv3d(x, w, torch.randn(5), groups=2),
    )
    _raises(
        RuntimeError,
        "non-positive stride is not supported",
        lambda: F.conv3d(x, w, groups=2, stride=0),
    )
    _raises(
        RuntimeError,
        "negative padding is not supported",
        lambda: F.conv3d(x, w, groups=2, padding=-1),
    )
    _raises(
        RuntimeError,
        "dilation should be greater than zero",
        lambda: F.conv3d(x, w, groups=2, dilation=0),
    )
    _raises(RuntimeError, "non-positive groups is not supported", lambda: F.conv3d(x, w, groups=0))
    _raises(
        RuntimeError,
        "list of 3 values to match the convolution dimensions, but got stride=\\[1, 2\\]",
        lambda: F.conv3d(x, w, groups=2, stride=(1, 2)),
    )
    _raises(
        RuntimeError,
        "Given transposed=1, weight of size \\[5, 3, 3, 3, 3\\]",
        lambda: F.conv_transpose3d(x, torch.randn(5, 3, 3, 3, 3)),
    )
    _raises(
        RuntimeError,
        "to conv_transpose3d, but got input of size: \\[3, 3, 3\\]",
        lambda: F.conv_transpose3d(torch.randn(3, 3, 3), w),
    )
    _raises(
        RuntimeError,
        "output padding must be smaller than either stride or dilation",
        lambda: F.conv_transpose3d(x, torch.randn(4, 3, 3, 3, 3), output_padding=2, stride=2),
    )
    _raises(
        RuntimeError,
        "negative output_padding is not supported",
        lambda: F.conv_transpose3d(x, torch.randn(4, 3, 3, 3, 3), output_padding=-1),
    )
    _raises(
        RuntimeError,
        "Output size is too small",
        lambda: F.conv_transpose3d(x, torch.randn(4, 3, 3, 3, 3), padding=4),
    )
    _raises(
        TypeError,
        "conv_transpose3d\\(\\): argument 'padding'",
        lambda: F.conv_transpose3d(x, torch.randn(4, 3, 3, 3, 3), padding="same"),
    )
    _raises(
        ValueError,
        "padding='same' is not supported for strided convolutions",
        lambda: nn.Conv3d(4, 6, 3, padding="same", stride=2),
    )
    _raises(
        ValueError,
        'Only "zeros" padding mode is supported for ConvTranspose3d',
        lambda: nn.ConvTranspose3d(4, 6, 3, padding_mode="reflect"),
    )


def test_pool_errors():
    x = torch.randn(2, 4, 5, 5, 5)
    _raises(
        RuntimeError,
        r"non-empty 4D or 5D \(batch mode\) tensor expected for input",
        lambda: F.max_pool3d(torch.randn(5, 5, 5), 2),
    )
    _raises(
        RuntimeError,
        "pad should be at most half of effective kernel size",
        lambda: F.max_pool3d(x, 2, padding=2),
    )
    _raises(RuntimeError, "Output size is too small", lambda: F.max_pool3d(x, 7))
    _raises(RuntimeError, "stride should not be zero", lambda: F.max_pool3d(x, 0))
    _raises(
        RuntimeError,
        "kernel size should be greater than zero",
        lambda: F.max_pool3d(x, 0, stride=1),
    )
    _raises(
        RuntimeError, "stride should be greater than zero", lambda: F.max_pool3d(x, 2, stride=-1)
    )
    _raises(
        RuntimeError, "dilation should be greater than zero", lambda: F.max_pool3d(x, 2, dilation=0)
    )
    _raises(RuntimeError, "pad must be non-negative", lambda: F.max_pool3d(x, 2, padding=-1))
    _raises(
        RuntimeError,
        "max_pool3d: kernel_size must either be a single int, or a tuple of three ints",
        lambda: F.max_pool3d(x, (2, 2)),
    )
    _raises(
        RuntimeError,
        "max_pool3d: stride must either be omitted",
        lambda: F.max_pool3d(x, 2, stride=(1, 2)),
    )
    _raises(
        RuntimeError,
        "non-zero size for non-batch dimensions",
        lambda: F.max_pool3d(torch.randn(2, 1, 0, 5, 5), 2),
    )
    _raises(
        RuntimeError,
        "input image \\(T: 5 H: 5 W: 5\\) smaller than kernel size",
        lambda: F.avg_pool3d(x, 7),
    )
    _raises(
        RuntimeError, "divisor must be not zero", lambda: F.avg_pool3d(x, 2, divisor_override=0)
    )
    _raises(
        RuntimeError,
        "avg_pool3d: kernel_size must be a single int, or a tuple of three ints",
        lambda: F.avg_pool3d(x, (2, 3)),
    )
    _raises(
        RuntimeError,
        r"adaptive_avg_pool3d\(\): Expected 4D or 5D tensor, but got \[5, 5, 5\]",
        lambda: F.adaptive_avg_pool3d(torch.randn(5, 5, 5), 2),
    )
    _raises(
        RuntimeError,
        r"adaptive_max_pool3d\(\): Expected 4D or 5D tensor",
        lambda: F.adaptive_max_pool3d(torch.randn(5, 5, 5), 2),
    )
    _raises(
        RuntimeError,
        "adaptive_avg_pool3d: output_size must be 3",
        lambda: F.adaptive_avg_pool3d(x, (2, 2)),
    )
    _raises(
        RuntimeError, "output_size.size\\(\\) must be 3", lambda: F.adaptive_max_pool3d(x, (2, 2))
    )
    _raises(RuntimeError, "greater than or equal to 0", lambda: F.adaptive_avg_pool3d(x, -1))
    _raises(
        RuntimeError,
        "non-zero size for non-batch dimensions",
        lambda: F.adaptive_avg_pool3d(torch.randn(2, 0, 5, 5, 5), 2),
    )


# ---------------------------------------------------------------------- side by side with PyTorch
def _both(real, *arrays):
    return [torch.tensor(a) for a in arrays], [real.tensor(a) for a in arrays]


def _close(mine, theirs, rtol=1e-10, atol=1e-10):
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


def test_conv3d_grid_vs_torch(real_torch):
    rF = real_torch.nn.functional
    rng = np.random.default_rng(3)
    grid = itertools.product(
        [1, 2, (1, 2, 3)], [0, 1, (2, 0, 1), "same", "valid"], [1, (2, 1, 1)], [1, 2]
    )
    for stride, padding, dilation, groups in grid:
        if padding == "same" and stride != 1:
            continue
        x, w, b = (
            rng.standard_normal((2, 4, 6, 7, 5)),
            rng.standard_normal((6, 4 // groups, 3, 2, 2)),
            rng.standard_normal(6),
        )
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        (mx, mw, mb), (tx, tw, tb) = _both(real_torch, x, w, b)
        for t in (mx, mw, mb):
            t.requires_grad_(True)
        for t in (tx, tw, tb):
            t.requires_grad_(True)
        mine, theirs = F.conv3d(mx, mw, mb, **kw), rF.conv3d(tx, tw, tb, **kw)
        _close(mine, theirs)
        g = rng.standard_normal(tuple(theirs.shape))
        mine.backward(torch.tensor(g))
        theirs.backward(real_torch.tensor(g))
        for a, b_ in ((mx, tx), (mw, tw), (mb, tb)):
            _close(a.grad, b_.grad, rtol=1e-9, atol=1e-9)


def test_conv_transpose3d_grid_vs_torch(real_torch):
    rF = real_torch.nn.functional
    rng = np.random.default_rng(4)
    grid = itertools.product([1, 2, (1, 2, 3)], [0, 1, (1, 0, 1)], [0, 1], [1, (2, 1, 1)], [1, 2])
    for stride, padding, out_pad, dilation, groups in grid:
        s, d = trip(stride), trip(dilation)
        op = tuple(min(out_pad, max(a, b) - 1) for a, b in zip(s, d))
        x, w, b = (
            rng.standard_normal((2, 4, 3, 4, 3)),
            rng.standard_normal((4, 6 // groups, 2, 3, 2)),
            rng.standard_normal(6),
        )
        kw = dict(
            stride=stride, padding=padding, output_padding=op, dilation=dilation, groups=groups
        )
        (mx, mw, mb), (tx, tw, tb) = _both(real_torch, x, w, b)
        for t in (mx, mw, mb, tx, tw, tb):
            t.requires_grad_(True)
        mine, theirs = F.conv_transpose3d(mx, mw, mb, **kw), rF.conv_transpose3d(tx, tw, tb, **kw)
        _close(mine, theirs)
        g = rng.standard_normal(tuple(theirs.shape))
        mine.backward(torch.tensor(g))
        theirs.backward(real_torch.tensor(g))
        for a, b_ in ((mx, tx), (mw, tw), (mb, tb)):
            _close(a.grad, b_.grad, rtol=1e-9, atol=1e-9)


def test_pools_vs_torch(real_torch):
    rF = real_torch.nn.functional
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6, 9))
    calls = [
        ("max_pool3d", (2,), {}),
        ("max_pool3d", (3, 2, 1), dict(return_indices=True)),
        (
            "max_pool3d",
            ((3, 2, 3), (2, 1, 2), (1, 0, 1), (1, 2, 1)),
            dict(ceil_mode=True, return_indices=True),
        ),
        ("max_pool3d", (2, 3), dict(ceil_mode=True, return_indices=True)),
        ("avg_pool3d", (2,), {}),
        ("avg_pool3d", (3, 2, 1), dict(count_include_pad=False)),
        ("avg_pool3d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False)),
        ("avg_pool3d", (3, 2, 1), dict(ceil_mode=True)),
        ("avg_pool3d", ((2, 3, 4), (1, 2, 3), (1, 1, 2)), dict(ceil_mode=True, divisor_override=5)),
        ("adaptive_avg_pool3d", (3,), {}),
        ("adaptive_avg_pool3d", ((4, None, 5),), {}),
        ("adaptive_max_pool3d", ((4, None, 5),), dict(return_indices=True)),
        ("adaptive_max_pool3d", ((8, 7, 10),), dict(return_indices=True)),
        ("lp_pool3d", (2, 2), {}),
        ("lp_pool3d", (3, (2, 3, 2), (1, 2, 2)), dict(ceil_mode=True)),
    ]
    for name, args, kw in calls:
        mx, tx = torch.tensor(x, requires_grad=True), real_torch.tensor(x, requires_grad=True)
        mine, theirs = getattr(F, name)(mx, *args, **kw), getattr(rF, name)(tx, *args, **kw)
        if isinstance(theirs, tuple):
            np.testing.assert_array_equal(mine[1].numpy(), theirs[1].numpy())
            mine, theirs = mine[0], theirs[0]
        np.testing.assert_allclose(
            mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, equal_nan=True
        )
        if name != "lp_pool3d":
            mine.sum().backward()
            theirs.sum().backward()
            _close(mx.grad, tx.grad)


def test_modules_vs_torch(real_torch):
    specs = [
        (
            "Conv3d",
            (4, 6, (3, 2, 1)),
            dict(
                stride=2,
                padding=(1, 0, 0),
                dilation=(1, 2, 1),
                groups=2,
                bias=False,
                padding_mode="circular",
            ),
        ),
        ("Conv3d", (4, 6, 3), dict(padding="same", padding_mode="reflect")),
        ("Conv3d", (4, 6, 2), dict(padding="same", padding_mode="zeros")),
        ("ConvTranspose3d", (4, 6, 3), dict(stride=2, output_padding=1, groups=2)),
        ("MaxPool3d", (3,), dict(stride=2, padding=1, return_indices=True, ceil_mode=True)),
        ("AvgPool3d", (2,), dict(divisor_override=3)),
        ("AdaptiveMaxPool3d", ((2, 3, 4),), {}),
        ("AdaptiveAvgPool3d", ((1, None, 2),), {}),
        ("LPPool3d", (2, 3), {}),
        ("InstanceNorm3d", (4,), dict(affine=True, track_running_stats=True)),
        ("BatchNorm3d", (4,), {}),
    ]
    x = np.abs(np.random.default_rng(6).standard_normal((2, 4, 7, 6, 8))).astype(np.float32)
    for name, args, kw in specs:
        theirs = getattr(real_torch.nn, name)(*args, **kw)
        mine = getattr(nn, name)(*args, **kw)
        assert repr(mine) == repr(theirs)
        state = theirs.state_dict()
        assert list(mine.state_dict()) == list(state)
        mine.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()})
        a, b = mine(torch.tensor(x)), theirs(real_torch.tensor(x))
        if isinstance(b, tuple):
            np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
            a, b = a[0], b[0]
        _close(a, b, rtol=1e-5, atol=1e-5)
