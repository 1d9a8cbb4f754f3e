"""conv2d's fused CPU kernels (shifted-view GEMMs for stride 1, per-image im2col otherwise):
values against a float64 numpy definition, gradients by finite differences in float64, the
double-backward composition, dtypes, views, and PyTorch side by side when installed."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch.autograd import gradcheck, gradgradcheck


def ref_conv(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """The definition, in float64: sum over channels of the group and kernel taps."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                win = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", win, w[g * og:(g + 1) * og, :, i, j])
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None, None]
    return out


def rand(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


# (n, c, h, w, o, kernel, stride, padding, dilation, groups): odd sizes, batch 1, channel
# counts that are not multiples of the SIMD width, grouped and depthwise, 1x1.
CASES = [
    (2, 3, 7, 9, 5, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (1, 5, 6, 5, 7, (3, 3), (1, 1), (0, 0), (1, 1), 1),
    (3, 4, 9, 8, 6, (3, 3), (2, 2), (1, 1), (1, 1), 2),
    (2, 6, 11, 10, 6, (3, 3), (1, 1), (2, 2), (2, 2), 6),
    (2, 3, 5, 6, 4, (1, 1), (1, 1), (0, 0), (1, 1), 1),
    (1, 4, 7, 7, 3, (1, 1), (2, 2), (0, 0), (1, 1), 1),
    (2, 2, 8, 6, 3, (2, 3), (1, 2), (1, 0), (1, 1), 1),
    (1, 3, 6, 7, 2, (3, 2), (1, 1), (3, 2), (1, 1), 1),
    (2, 4, 10, 9, 4, (5, 5), (1, 1), (2, 2), (1, 1), 2),
    (1, 2, 9, 9, 3, (3, 3), (3, 2), (2, 1), (2, 1), 1),
    # Winograd F(2x2, 3x3) (3x3, stride 1, >= 32 channels): odd sizes leave partial tiles.
    (1, 32, 7, 9, 33, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (2, 33, 6, 5, 32, (3, 3), (1, 1), (2, 0), (1, 1), 1),
]


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_match_the_definition(case):
    n, c, h, w, o, k, s, p, d, g = case
    x = rand(n, c, h, w, seed=1).requires_grad_(True)
    wt = rand(o, c // g, *k, seed=2).requires_grad_(True)
    b = rand(o, seed=3).requires_grad_(True)
    y = F.conv2d(x, wt, b, s, p, d, g)
    ref = ref_conv(x.detach().numpy(), wt.detach().numpy(), b.detach().numpy(), s, p, d, g)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    # Gradients of <y, r> against the adjoint computed from the definition.
    r = rand(*y.shape, seed=4)
    (y * r).sum().backward()
    eps = 1e-6
    xn, wn = x.detach().numpy(), wt.detach().numpy()
    rng = np.random.default_rng(0)
    for arr, grad, name in ((xn, x.grad, "input"), (wn, wt.grad, "weight")):
        for flat in rng.choice(arr.size, size=min(6, arr.size), replace=False):
            idx = np.unravel_index(flat, arr.shape)
            hi, lo = arr.copy(), arr.copy()
            hi[idx] += eps
            lo[idx] -= eps
            args = (hi, wn) if name == "input" else (xn, hi)
            fhi = (ref_conv(*args, None, s, p, d, g) * r.numpy()).sum()
            args = (lo, wn) if name == "input" else (xn, lo)
            flo = (ref_conv(*args, None, s, p, d, g) * r.numpy()).sum()
            assert abs((fhi - flo) / (2 * eps) - grad.numpy()[idx]) < 1e-6, (name, idx)
    np.testing.assert_allclose(b.grad.numpy(), r.numpy().sum(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 1, 1, 1), (2, 0, 1, 2), (1, 2, 2, 1)])
def test_gradcheck_and_second_derivatives(stride, padding, dilation, groups):
    x = rand(2, 4, 5, 6, seed=5).requires_grad_(True)
    w = rand(2, 4 // groups, 3, 3, seed=6).requires_grad_(True)
    b = rand(2, seed=7).requires_grad_(True)

    def fn(x, w, b):
        return torch.conv2d(x, w, b, stride, padding, dilation, groups)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_only_the_needed_gradients_are_computed():
    x = rand(2, 3, 6, 6, seed=8)
    w = rand(4, 3, 3, 3, seed=9).requires_grad_(True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None
    # d(sum)/dw[o, c, i, j] = the sum of the padded input's window shifted by (i, j).
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.array([[[xp[:, ch, i:i + 6, j:j + 6].sum() for j in range(3)] for i in range(3)]
                     for ch in range(3)])
    for o in range(4):
        np.testing.assert_allclose(w.grad.numpy()[o], want, rtol=1e-12)
    x2 = rand(2, 3, 6, 6, seed=10).requires_grad_(True)
    F.conv2d(x2, w.detach(), stride=2).sum().backward()
    assert x2.grad.shape == (2, 3, 6, 6)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 3e-2), (torch.float16, 3e-3)])
def test_lower_precisions(dtype, tol):
    x, w, b = rand(2, 5, 9, 7, seed=11), rand(6, 5, 3, 3, seed=12), rand(6, seed=13)
    for s, p in (((1, 1), (1, 1)), ((2, 2), (1, 0))):
        y = F.conv2d(x.to(dtype), w.to(dtype), b.to(dtype), s, p)
        assert y.dtype == dtype
        # Against the definition on the rounded operands.
        ref = ref_conv(x.to(dtype).double().numpy(), w.to(dtype).double().numpy(),
                       b.to(dtype).double().numpy(), s, p)
        scale = np.abs(ref).max()
        assert np.abs(y.double().numpy() - ref).max() < tol * scale * 4


@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("width,out_channels", [(11, 32), (12, 40), (15, 64)])
def test_winograd_float32_error_bound(padding, width, out_channels):
    # F(2x2, 3x3) adds, subtracts and halves before and after the products: its float32
    # error stays within 1e-6 of the sum of |x|*|w| over each output's window (measured
    # about 1.5e-7 here, direct summation about 1e-7). Odd and even widths take both
    # orders of the padded planes' deinterleaving; 40 and 64 output channels leave edge
    # tiles of 4 rows for the packed kernel weights.
    o = out_channels
    x, w, b = rand(3, 32, 13, width, seed=25), rand(o, 32, 3, 3, seed=26), rand(o, seed=27)
    ref = ref_conv(x.numpy(), w.numpy(), b.numpy(), padding=(padding, padding))
    scale = ref_conv(np.abs(x.numpy()), np.abs(w.numpy()), padding=(padding, padding)) + 1
    y64 = F.conv2d(x, w, b, padding=padding).numpy()
    assert np.abs(y64 - ref).max() < 1e-12 * scale.max()
    y32 = F.conv2d(x.float(), w.float(), b.float(), padding=padding).double().numpy()
    assert (np.abs(y32 - ref) / scale).max() < 1e-6


def test_float32_gradients_close_to_float64():
    x, w = rand(3, 5, 8, 7, seed=14), rand(4, 5, 3, 3, seed=15)
    grads = []
    for dt in (torch.float64, torch.float32):
        xa, wa = x.to(dt).detach().requires_grad_(True), w.to(dt).detach().requires_grad_(True)
        y = F.conv2d(xa, wa, padding=1)
        (y * y).sum().backward()
        grads.append((xa.grad.double().numpy(), wa.grad.double().numpy()))
    for a, b in zip(*grads):
        assert np.abs(a - b).max() < 1e-4 * np.abs(a).max()


def test_non_contiguous_and_3d_inputs():
    base = rand(6, 7, 2, 3, seed=16)
    x = base.permute(2, 3, 0, 1)  # [2, 3, 6, 7], non-contiguous
    w = rand(4, 3, 3, 3, seed=17).transpose(2, 3)
    y = F.conv2d(x, w, padding=1)
    np.testing.assert_allclose(y.numpy(), ref_conv(x.numpy(), w.numpy(), padding=(1, 1)), rtol=1e-12, atol=1e-12)
    y3 = F.conv2d(x[0], w, padding=1)
    np.testing.assert_allclose(y3.numpy(), y[0].numpy(), rtol=0, atol=0)
    xs = x[:, :, ::2, 1:]  # strided slice
    np.testing.assert_allclose(F.conv2d(xs, w).numpy(), ref_conv(xs.numpy(), w.numpy()), rtol=1e-12, atol=1e-12)


def test_same_padding_and_conv1d():
    x, w = rand(2, 3, 8, 7, seed=18), rand(4, 3, 4, 3, seed=19)
    y = F.conv2d(x, w, padding="same")
    assert y.shape == (2, 4, 8, 7)
    # 'same' pads the extra row at the bottom/right.
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 2), (1, 1)))
    np.testing.assert_allclose(y.numpy(), ref_conv(xp, w.numpy()), rtol=1e-12, atol=1e-12)
    x1, w1 = rand(2, 3, 11, seed=20).requires_grad_(True), rand(5, 3, 3, seed=21).requires_grad_(True)
    y1 = F.conv1d(x1, w1, stride=2, padding=1)
    ref = ref_conv(x1.detach().numpy()[:, :, None], w1.detach().numpy()[:, :, None], stride=(1, 2), padding=(0, 1))[:, :, 0]
    np.testing.assert_allclose(y1.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a, b: F.conv1d(a, b, stride=2, padding=1), (x1, w1))


def test_zero_sized_batch_and_module():
    w = rand(3, 2, 3, 3, seed=22)
    y = F.conv2d(torch.zeros(0, 2, 5, 5, dtype=torch.float64), w, padding=1)
    assert y.shape == (0, 3, 5, 5)
    torch.manual_seed(0)
    m = torch.nn.Conv2d(3, 8, 3, padding=1)
    x = torch.randn(2, 3, 10, 10)
    out = m(x)
    ref = ref_conv(x.numpy(), m.weight.detach().numpy(), m.bias.detach().numpy(), padding=(1, 1))
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-4, atol=1e-5)


def test_multithreaded_matches_single_thread():
    x, w = rand(5, 6, 12, 11, seed=23), rand(7, 6, 3, 3, seed=24)
    before = torch.get_num_threads()
    outs = []
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            xa, wa = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
            y = F.conv2d(xa, wa, padding=1)
            (y * y).sum().backward()
            outs.append((y.detach().numpy(), xa.grad.numpy(), wa.grad.numpy()))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_matches_pytorch():
    pt = pytest.importorskip("torch")
    for n, c, h, w, o, k, s, p, d, g in CASES[:6]:
        x = np.random.default_rng(1).standard_normal((n, c, h, w)).astype(np.float32)
        wt = np.random.default_rng(2).standard_normal((o, c // g, *k)).astype(np.float32)
        ours = [torch.from_numpy(a).requires_grad_(True) for a in (x, wt)]
        theirs = [pt.from_numpy(a).requires_grad_(True) for a in (x, wt)]
        yo = F.conv2d(*ours, None, s, p, d, g)
        yt = pt.nn.functional.conv2d(*theirs, None, s, p, d, g)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-4)
        (yo * yo).sum().backward()
        (yt * yt).sum().backward()
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-3, atol=1e-3)


def ref_grad_weight(x, r, padding):
    """dL/dw of L = <conv2d(x, w), r> for a 3x3 stride-1 kernel, from the definition."""
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = r.shape[2:]
    dw = np.empty((r.shape[1], x.shape[1], 3, 3))
    for i in range(3):
        for j in range(3):
            dw[:, :, i, j] = np.einsum("noyx,ncyx->oc", r, xp[:, :, i : i + oh, j : j + ow])
    return dw


@pytest.mark.parametrize("padding", [(0, 0), (1, 1), (2, 0), (1, 2)])
@pytest.mark.parametrize("size,channels", [((7, 9), (32, 33)), ((12, 10), (40, 64))])
def test_winograd_weight_gradient_whole(padding, size, channels):
    # Every entry of the weight gradient (the Winograd adjoint: output tiles past odd edges
    # must count as zero), in float64 exactly and in float32 within the forward's bound.
    (h, w), (c, o) = size, channels
    x, wt = rand(2, c, h, w, seed=31), rand(o, c, 3, 3, seed=32)
    y = F.conv2d(x, wt, padding=padding)
    r = rand(*y.shape, seed=33)
    ref = ref_grad_weight(x.numpy(), r.numpy(), padding)
    scale = ref_grad_weight(np.abs(x.numpy()), np.abs(r.numpy()), padding).max() + 1
    for dt, tol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
        wd = wt.to(dt).detach().requires_grad_(True)
        (F.conv2d(x.to(dt), wd, padding=padding) * r.to(dt)).sum().backward()
        err = np.abs(wd.grad.double().numpy() - ref).max() / scale
        assert err < tol, (dt, err)
