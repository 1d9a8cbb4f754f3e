"""The CPU max-pooling kernel (values and argmax indices) against a loop definition, and the
conv2d paths picked by channel count (im2col for few channels, shifted views, Winograd) against
float64 references."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F


def ref_max_pool(x, k, s, p, d, ceil):
    """Loop definition: the first maximum in row-major window order wins; NaN beats numbers."""
    n, c, h, w = x.shape

    def out_len(size, k, s, p, d):
        span = size + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil else span // s) + 1
        if ceil and (o - 1) * s >= size + p:
            o -= 1
        return o

    oh, ow = out_len(h, k[0], s[0], p[0], d[0]), out_len(w, k[1], s[1], p[1], d[1])
    vals = np.full((n, c, oh, ow), -np.inf, x.dtype)
    idx = np.zeros((n, c, oh, ow), np.int64)
    for b in range(n):
        for ch in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    best = None
                    for i in range(k[0]):
                        y = oy * s[0] + i * d[0] - p[0]
                        if not 0 <= y < h:
                            continue
                        for j in range(k[1]):
                            xx = ox * s[1] + j * d[1] - p[1]
                            if not 0 <= xx < w:
                                continue
                            v = x[b, ch, y, xx]
                            bv = vals[b, ch, oy, ox]
                            if best is None or v > bv or (np.isnan(v) and not np.isnan(bv)):
                                best = y * w + xx
                                vals[b, ch, oy, ox] = v
                    idx[b, ch, oy, ox] = best
    return vals, idx


POOLS = [
    # MaxPool2d(2): the 2x2 fast path (odd sizes leave a row and a column unread), and with
    # ceil_mode the general path for its partial edge windows.
    ((2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 2), (2, 2), (0, 0), (1, 1), True),
    ((3, 3), (2, 2), (1, 1), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), True),
    ((2, 3), (1, 2), (1, 1), (1, 1), True),
    ((2, 2), (1, 1), (0, 0), (2, 2), False),
    ((3, 2), (3, 1), (1, 0), (1, 2), False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k,s,p,d,ceil", POOLS)
def test_max_pool_values_and_indices_match_the_loop_definition(dtype, k, s, p, d, ceil):
    rng = np.random.default_rng(0)
    # Few distinct values (ties), NaNs, infinities.
    x = rng.integers(-3, 4, size=(2, 3, 7, 9)).astype(dtype)
    x[0, 0, 1, 2] = np.nan
    x[0, 1, 3, 3:5] = np.nan
    # Three NaNs in one 2x2 window: the first in row-major order wins.
    x[0, 2, 2, 2:4] = np.nan
    x[0, 2, 3, 2] = np.nan
    x[1, 2] = -np.inf
    x[1, 0, 4, 4] = np.inf
    vals, idx = F.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    rv, ri = ref_max_pool(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(vals.numpy(), rv)
    np.testing.assert_array_equal(idx.numpy(), ri)


def test_max_pool_non_contiguous_input_and_gradient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 10, 8))
    # A permuted view: the kernel reads it through a gathered copy.
    t = torch.from_numpy(x.transpose(1, 0, 2, 3).copy()).permute(1, 0, 2, 3).requires_grad_(True)
    out, idx = F.max_pool2d(t, 3, 2, 1, return_indices=True)
    rv, ri = ref_max_pool(x, (3, 3), (2, 2), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(out.detach().numpy(), rv)
    np.testing.assert_array_equal(idx.numpy(), ri)
    g = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(g))
    ref = np.zeros((3, 2, 80))
    for b in range(3):
        for c in range(2):
            np.add.at(ref[b, c], ri[b, c].ravel(), g[b, c].ravel())
    np.testing.assert_allclose(t.grad.numpy(), ref.reshape(x.shape), rtol=1e-12)


def ref_conv(x, w, b, pad):
    """Stride-1 convolution in float64 by summing kernel taps."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    out = np.zeros((n, o, oh, ow)) + b[None, :, None, None]
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out


# (n, c, h, w, o, k, padding): stride 1 below 32 channels goes through im2col (1, 3, 7, 12
# channels; the small CNN's 16 -> 32 and, for its input gradient, 32 -> 16), from 32 channels
# through shifted views (5x5, or fewer than 32 outputs) or Winograd (3x3, 32 each way).
CONVS = [
    (3, 1, 9, 8, 5, 3, 1),
    (2, 3, 7, 6, 4, 3, 0),
    (2, 7, 6, 7, 9, 3, 2),
    (1, 12, 6, 5, 5, 5, 2),
    (2, 16, 14, 14, 32, 3, 1),
    (1, 32, 6, 5, 3, 5, 2),
    (1, 32, 7, 9, 33, 3, 1),
]


@pytest.mark.parametrize("case", CONVS)
def test_conv_paths_float64_values_and_gradients(case):
    n, c, h, w, o, k, pad = case
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((o, c, k, k))
    b = rng.standard_normal(o)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_(True) for a in (x, wt, b))
    y = F.conv2d(tx, tw, tb, padding=pad)
    np.testing.assert_allclose(y.detach().numpy(), ref_conv(x, wt, b, pad), rtol=1e-11, atol=1e-11)
    # The gradients of <y, r> are linear in r: compare with the float64 definition's adjoint,
    # computed by differentiating the reference along random directions.
    r = rng.standard_normal(y.shape)
    y.backward(torch.from_numpy(r))
    dx, dw = rng.standard_normal(x.shape), rng.standard_normal(wt.shape)
    zero = np.zeros(o)
    np.testing.assert_allclose(
        (tx.grad.numpy() * dx).sum(), (ref_conv(dx, wt, zero, pad) * r).sum(), rtol=1e-10
    )
    np.testing.assert_allclose(
        (tw.grad.numpy() * dw).sum(), (ref_conv(x, dw, zero, pad) * r).sum(), rtol=1e-10
    )
    np.testing.assert_allclose(tb.grad.numpy(), r.sum(axis=(0, 2, 3)), rtol=1e-10)


@pytest.mark.parametrize("case", CONVS)
def test_conv_paths_float32_close_to_float64(case):
    n, c, h, w, o, k, pad = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((o, c, k, k)).astype(np.float32)
    b = np.zeros(o, np.float32)
    tx = torch.from_numpy(x).requires_grad_(True)
    tw = torch.from_numpy(wt).requires_grad_(True)
    y = F.conv2d(tx, tw, torch.from_numpy(b), padding=pad)
    # Bound per output: a few float32 roundings of the sum of |x||w| over the window.
    scale = ref_conv(np.abs(x), np.abs(wt), b, pad)
    err = np.abs(y.detach().numpy() - ref_conv(x, wt, b, pad))
    assert (err <= 2e-6 * scale + 1e-7).all(), err.max()
    r = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(torch.from_numpy(r))
    dw = rng.standard_normal(wt.shape)
    ref = (ref_conv(x, dw, np.zeros(o), pad) * r).sum()
    mag = (ref_conv(np.abs(x), np.abs(dw), np.zeros(o), pad) * np.abs(r)).sum()
    assert abs((tw.grad.numpy() * dw).sum() - ref) <= 1e-5 * mag
