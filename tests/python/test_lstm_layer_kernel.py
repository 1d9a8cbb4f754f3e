"""The fused LSTM layer kernel (`rtorch._C._lstm_layer`): values against a float64 numpy
recurrence, gradients by finite differences in float64, float32 gradients against the
float64 ones, both directions, with and without the recurrent bias, odd sizes and
non-contiguous inputs."""

import numpy as np
import pytest

import rtorch as torch

RNG = np.random.default_rng(11)


def sig(x):
    return 1 / (1 + np.exp(-x))


def np_layer(xw, h0, c0, w, b, reverse):
    """[T + 1, N, H]: every hidden state in time order, then the last cell state."""
    steps = xw.shape[0]
    h, c = h0, c0
    out = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        z = xw[t] + h @ w.T + (0 if b is None else b)
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out[t] = h
    return np.concatenate([np.stack(out), c[None]])


def operands(steps, n, h, bias, dtype=np.float64):
    xw = RNG.standard_normal((steps, n, 4 * h))
    h0, c0 = RNG.standard_normal((n, h)), RNG.standard_normal((n, h))
    w = RNG.standard_normal((4 * h, h)) / np.sqrt(h)
    b = RNG.standard_normal(4 * h) if bias else None
    return [a if a is None else a.astype(dtype) for a in (xw, h0, c0, w, b)]


def tensors(arrs, grad=False):
    return [
        None if a is None else torch.from_numpy(a.copy()).requires_grad_(grad) for a in arrs
    ]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_values_match_numpy(reverse, bias, dtype, tol):
    arrs = operands(6, 5, 7, bias, dtype)
    got = torch._C._lstm_layer(*tensors(arrs), reverse)
    ref = np_layer(*[None if a is None else a.astype(np.float64) for a in arrs], reverse)
    assert tuple(got.shape) == (7, 5, 7)
    np.testing.assert_allclose(got.numpy(), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_all_inputs(reverse, bias):
    args = [a for a in tensors(operands(3, 2, 3, bias), grad=True) if a is not None]

    def fn(*a):
        xw, h0, c0, w = a[:4]
        return torch._C._lstm_layer(xw, h0, c0, w, a[4] if bias else None, reverse)

    assert torch.autograd.gradcheck(fn, tuple(args), eps=1e-6, atol=1e-6)


def test_non_contiguous_inputs():
    xw, h0, c0, w, b = operands(4, 3, 5, True)
    ref = np_layer(xw, h0, c0, w, b, False)
    # Each operand as a strided view of a differently laid out buffer.
    xw_t = torch.from_numpy(np.ascontiguousarray(xw.transpose(1, 0, 2))).transpose(0, 1)
    h0_t = torch.from_numpy(np.ascontiguousarray(h0.T)).t()
    c0_t = torch.from_numpy(np.repeat(c0, 2, axis=1))[:, ::2]
    w_t = torch.from_numpy(np.ascontiguousarray(w.T)).t()
    b_t = torch.from_numpy(np.repeat(b, 3))[::3]
    assert not (xw_t.is_contiguous() or h0_t.is_contiguous() or w_t.is_contiguous())
    got = torch._C._lstm_layer(xw_t, h0_t, c0_t, w_t, b_t, False)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_float32_grads_match_float64(reverse):
    # Odd sizes (not multiples of any vector width), a non-contiguous upstream gradient.
    arrs = operands(5, 9, 13, True)
    grads = {}
    up_np = RNG.standard_normal((13, 6, 9))
    for dt in (np.float64, np.float32):
        ts = tensors([a.astype(dt) for a in arrs], grad=True)
        out = torch._C._lstm_layer(*ts, reverse)
        up = torch.from_numpy(up_np.astype(dt)).permute(1, 2, 0)
        (out * up).sum().backward()
        grads[dt] = [t.grad.numpy().astype(np.float64) for t in ts]
    for g64, g32 in zip(grads[np.float64], grads[np.float32]):
        scale = np.abs(g64).max()
        np.testing.assert_allclose(g32, g64, rtol=0, atol=2e-5 * max(scale, 1))


def test_fused_backward_matches_double_backward_path():
    # create_graph=True differentiates the op-by-op composition: both must agree.
    ts = tensors(operands(4, 3, 4, True), grad=True)
    out = torch._C._lstm_layer(*ts, True)
    w = torch.from_numpy(RNG.standard_normal(tuple(out.shape)))
    fused = torch.autograd.grad((out * w).sum(), ts)
    out = torch._C._lstm_layer(*ts, True)
    composed = torch.autograd.grad((out * w).sum(), ts, create_graph=True)
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_module_training_step_against_torch():
    ref = pytest.importorskip("torch")
    x = RNG.standard_normal((7, 3, 5)).astype(np.float32)
    mods = []
    for lib in (torch, ref):
        lib.manual_seed(0)
        mods.append(lib.nn.LSTM(5, 6))
    with ref.no_grad():
        for p, q in zip(mods[0].parameters(), mods[1].parameters()):
            q.copy_(ref.from_numpy(p.detach().numpy().copy()))
    outs = []
    for lib, m in zip((torch, ref), mods):
        out, (h, c) = m(lib.from_numpy(x.copy()))
        (out.pow(2).mean() + c.sum()).backward()
        outs.append([out.detach().numpy()] + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-11), (np.float32, 3e-5)])
def test_batch_split_matches_row_by_row(reverse, dtype, tol):
    # 19 rows x 4H=512 over 4 steps is above the size from which the layer runs its batch
    # rows as independent parts on the pool (9 + 10 rows on two threads): values and every
    # gradient must equal those of each row run alone.
    arrs = [a.astype(dtype) for a in operands(4, 19, 128, True)]
    up = RNG.standard_normal((5, 19, 128)).astype(dtype)

    def run(xw, h0, c0, w, b, up):
        ts = tensors([xw, h0, c0, w, b], grad=True)
        out = torch._C._lstm_layer(*ts, reverse)
        (out * torch.from_numpy(up)).sum().backward()
        return out.detach().numpy(), [t.grad.numpy() for t in ts]

    out, grads = run(*arrs, up)
    ref = np_layer(*[a.astype(np.float64) for a in arrs], reverse)
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    xw, h0, c0, w, b = arrs
    rows = [run(xw[:, i : i + 1], h0[i : i + 1], c0[i : i + 1], w, b, up[:, i : i + 1])
            for i in range(19)]
    np.testing.assert_allclose(out, np.concatenate([r[0] for r in rows], axis=1), rtol=tol,
                               atol=tol)
    # Per-row input gradients concatenate; the shared weight and bias gradients add up.
    np.testing.assert_allclose(grads[0], np.concatenate([r[1][0] for r in rows], axis=1),
                               rtol=tol, atol=tol)
    for k in (1, 2):
        np.testing.assert_allclose(grads[k], np.concatenate([r[1][k] for r in rows]),
                                   rtol=tol, atol=tol)
    for k in (3, 4):
        total = sum(r[1][k].astype(np.float64) for r in rows)
        scale = max(np.abs(total).max(), 1)
        np.testing.assert_allclose(grads[k], total, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-11), (np.float32, 3e-5)])
def test_step_split_for_small_batches(dtype, tol):
    # Two rows of H=512: too few rows to split the batch, so each step's product (2M
    # multiply-adds) is split over the pool instead.
    arrs = [a.astype(dtype) for a in operands(3, 2, 512, True)]
    ts = tensors(arrs, grad=True)
    out = torch._C._lstm_layer(*ts, False)
    ref = np_layer(*[a.astype(np.float64) for a in arrs], False)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=tol, atol=tol)
    out.sum().backward()
    ts64 = tensors([a.astype(np.float64) for a in arrs], grad=True)
    torch._C._lstm_layer(*ts64, False).sum().backward()
    for a, b in zip(ts, ts64):
        scale = max(np.abs(b.grad.numpy()).max(), 1)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=0, atol=tol * scale)
