"""The CPU fast paths against references: in-place ops that write straight into storage,
sums over strided views, recycled output buffers, the vectorised float32 functions, and the
fused kernels (GELU, softmax backward, layer norm, batch norm, max pooling, the LSTM layer)
against compositions of plain ops, in float32 and float64, including non-contiguous inputs
and second derivatives through the composed fallbacks."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F

RNG = np.random.default_rng(11)


def T(a, requires_grad=False):
    t = torch.from_numpy(np.ascontiguousarray(a)).clone()
    return t.requires_grad_(True) if requires_grad else t


def to_np(t):
    return t.detach().numpy()


# ---- in-place binary ops


INPLACE_CASES = [
    (op, dt)
    for op in ("add_", "sub_", "mul_", "div_")
    for dt in (np.float32, np.float64, np.int64)
    # true division of an integer tensor in place is an error (tested below)
    if not (op == "div_" and dt == np.int64)
]


@pytest.mark.parametrize("op,dtype", INPLACE_CASES)
def test_inplace_ops_write_into_storage(op, dtype):
    a = (RNG.standard_normal((300, 400)) * 10).astype(dtype)
    b = (RNG.standard_normal((300, 400)) * 10 + 50).astype(dtype)
    x, y = T(a), T(b)
    ptr, version = x.data_ptr(), x._version
    out = getattr(x, op)(y)
    assert out is x and x.data_ptr() == ptr and x._version == version + 1
    ref = {"add_": a + b, "sub_": a - b, "mul_": a * b, "div_": a / b}[op]
    np.testing.assert_allclose(to_np(x), ref, rtol=1e-6)


def test_inplace_integer_true_division_is_refused():
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.arange(4).div_(2)


def test_inplace_broadcast_scalar_and_views():
    a = RNG.standard_normal((64, 70)).astype(np.float32)
    row = RNG.standard_normal(70).astype(np.float32)
    x = T(a)
    x.add_(T(row))  # broadcast operand
    x.mul_(2.5)  # Python scalar
    x[:, ::3].sub_(1.0)  # strided destination
    ref = (a + row) * np.float32(2.5)
    ref[:, ::3] -= 1
    np.testing.assert_allclose(to_np(x), ref, rtol=1e-6)
    x = T(a)
    x.add_(x)  # the operand is the destination itself
    np.testing.assert_allclose(to_np(x), a + a)
    x = T(a)
    x.add_(x.flip(0))  # an overlapping operand is read before it is overwritten
    np.testing.assert_allclose(to_np(x), a + a[::-1])


def test_inplace_refusals_keep_pytorch_errors():
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.zeros(3).add_(torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="single memory location"):
        torch.zeros(1).expand(3).add_(1)
    leaf = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.add_(1)
    with torch.no_grad():
        leaf.add_(1)  # allowed under no_grad (optimizer updates)
    np.testing.assert_array_equal(to_np(leaf), [1, 1, 1])


def test_recorded_inplace_stays_differentiable():
    w = T(RNG.standard_normal(5), True)
    y = w * 2
    y.add_(w)
    y.sum().backward()
    np.testing.assert_allclose(to_np(w.grad), np.full(5, 3.0))


def test_gradient_accumulation_never_aliases():
    w = T(RNG.standard_normal(4), True)
    g1 = (w * 3).sum()
    g1.backward()
    first = w.grad
    np.testing.assert_allclose(to_np(first), np.full(4, 3.0))
    (w * 2).sum().backward()  # accumulates in place into the same tensor
    assert w.grad.data_ptr() == first.data_ptr()
    np.testing.assert_allclose(to_np(w.grad), np.full(4, 5.0))
    # A gradient that is another live tensor is copied, not stored.
    v = T(RNG.standard_normal(4), True)
    up = torch.ones(4)
    v.backward(up)
    up.add_(10)
    np.testing.assert_allclose(to_np(v.grad), np.ones(4))


# ---- sums over strided views


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape,dims",
    [((4096, 33), (0,)), ((7, 300, 9), (1,)), ((6, 5, 40), (0, 2)), ((3, 4, 5, 6), (0, 2, 3))],
)
def test_strided_sums_and_means(dtype, shape, dims):
    a = RNG.standard_normal(shape).astype(dtype)
    x = T(a)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # float64 references: rtorch accumulates float32 sums in float64
    ref = a.astype(np.float64)
    np.testing.assert_allclose(to_np(x.sum(dims)), ref.sum(dims), rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(x.mean(dims)), ref.mean(dims), rtol=tol, atol=tol)
    xt = T(np.ascontiguousarray(np.swapaxes(a, 0, -1))).transpose(0, -1)
    np.testing.assert_allclose(to_np(xt.sum(dims)), ref.sum(dims), rtol=tol, atol=tol)


def test_sum_of_broadcast_view():
    a = RNG.standard_normal((1, 50)).astype(np.float32)
    x = T(a).expand(1000, 50)
    np.testing.assert_allclose(to_np(x.sum(0)), a[0] * 1000, rtol=1e-5)


# ---- recycled buffers


def test_recycled_buffers_never_leak_values():
    for _ in range(3):
        big = torch.full((512, 512), 7.0)
        del big
        z = torch.zeros(512, 512)
        assert float(z.abs().sum()) == 0.0
        m = torch.zeros(512, 512, dtype=torch.bool)
        assert not bool(m.any())
        r = torch.ones(512, 512) + 1
        assert float(r.min()) == 2.0


# ---- float32 functions against float64 references


def _grid(lo, hi, n=200_001):
    return np.linspace(lo, hi, n).astype(np.float32)


def _rel(got, want, floor):
    return np.max(np.abs(got - want) / np.maximum(np.abs(want), floor))


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


@pytest.mark.parametrize(
    "name,fn,ref,lo,hi,bound",
    [
        ("tanh", torch.tanh, np.tanh, -12, 12, 6e-7),
        ("sigmoid", torch.sigmoid, lambda x: 1 / (1 + np.exp(-x)), -80, 40, 6e-7),
        ("exp", torch.exp, np.exp, -87, 88, 4e-7),
        ("erf", torch.erf, _erf, -6, 6, 6e-7),
        ("erfc", torch.erfc, _erfc, -6, 9, 2e-6),
        ("gelu", F.gelu, lambda x: 0.5 * x * _erfc(-x / math.sqrt(2)), -12, 12, 2e-6),
    ],
)
def test_float32_functions_are_accurate(name, fn, ref, lo, hi, bound):
    x = _grid(lo, hi)
    got = to_np(fn(T(x))).astype(np.float64)
    assert _rel(got, ref(x.astype(np.float64)), 1e-30) < bound, name


def test_float32_functions_on_special_values():
    x = T(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=np.float32))
    np.testing.assert_array_equal(to_np(torch.tanh(x))[1:], [1, -1, 0, -0.0])
    np.testing.assert_array_equal(to_np(torch.sigmoid(x))[1:], [1, 0, 0.5, 0.5])
    np.testing.assert_array_equal(to_np(torch.erf(x))[1:3], [1, -1])
    for f in (torch.tanh, torch.sigmoid, torch.erf, torch.erfc, torch.exp, F.gelu):
        assert np.isnan(to_np(f(x))[0])


# ---- fused GELU


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_values_and_gradient(approximate, dtype):
    a = RNG.uniform(-6, 6, size=(40, 33)).astype(dtype)
    if approximate == "none":
        ref = 0.5 * a * _erfc(-a / math.sqrt(2))
        dref = 0.5 * _erfc(-a / math.sqrt(2)) + a * np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    else:
        k = math.sqrt(2 / math.pi)
        th = np.tanh(k * (a + 0.044715 * a**3))
        ref = 0.5 * a * (1 + th)
        dref = 0.5 * (1 + th) + 0.5 * a * (1 - th * th) * k * (1 + 3 * 0.044715 * a * a)
    x = T(a, True)
    inner = F.gelu(x.t(), approximate=approximate)  # a non-contiguous input
    assert inner.grad_fn.name() == "GeluBackward0"
    y = inner.t()
    y.sum().backward()
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(to_np(y), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(x.grad), dref, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_second_derivative(approximate):
    x = T(RNG.uniform(-3, 3, size=7), True)
    assert torch.autograd.gradgradcheck(lambda t: F.gelu(t, approximate=approximate), (x,))


# ---- fused softmax backward, layer norm, batch norm, max pooling


@pytest.mark.parametrize("log", [False, True])
def test_softmax_backward_matches_composition(log):
    a = RNG.standard_normal((6, 50)).astype(np.float32)
    g = RNG.standard_normal((6, 50)).astype(np.float32)
    x = T(a, True)
    y = (F.log_softmax if log else F.softmax)(x, -1)
    y.backward(T(g))
    s = np.exp(a - a.max(1, keepdims=True))
    s /= s.sum(1, keepdims=True)
    ref = g - s * g.sum(1, keepdims=True) if log else s * (g - (g * s).sum(1, keepdims=True))
    np.testing.assert_allclose(to_np(x.grad), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_layer_norm_fused_matches_composition(dtype):
    torch.manual_seed(0)
    x = torch.randn(5, 7, 24, dtype=dtype).requires_grad_(True)
    w = torch.randn(7, 24, dtype=dtype).requires_grad_(True)
    b = torch.randn(7, 24, dtype=dtype).requires_grad_(True)
    g = torch.randn(5, 7, 24, dtype=dtype)
    y = F.layer_norm(x, (7, 24), w, b, 1e-5)
    y.backward(g)
    xs, ws, bs = (t.detach().clone().requires_grad_(True) for t in (x, w, b))
    mean = xs.mean((-2, -1), keepdim=True)
    var = ((xs - mean) ** 2).mean((-2, -1), keepdim=True)
    ref = (xs - mean) / torch.sqrt(var + 1e-5) * ws + bs
    ref.backward(g)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for got, want in ((y, ref), (x.grad, xs.grad), (w.grad, ws.grad), (b.grad, bs.grad)):
        np.testing.assert_allclose(to_np(got), to_np(want), rtol=tol, atol=tol)


def test_layer_norm_double_backward():
    x = torch.randn(3, 6, dtype=torch.float64).requires_grad_(True)
    w = torch.randn(6, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda a, b: F.layer_norm(a, (6,), b), (x, w))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_norm_fused_matches_composition(training, dtype):
    torch.manual_seed(1)
    x = torch.randn(4, 3, 5, 6, dtype=dtype).requires_grad_(True)
    w = torch.randn(3, dtype=dtype).requires_grad_(True)
    b = torch.randn(3, dtype=dtype).requires_grad_(True)
    rm, rv = torch.randn(3, dtype=dtype), torch.rand(3, dtype=dtype) + 0.5
    g = torch.randn(4, 3, 5, 6, dtype=dtype)
    y = F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=training, eps=1e-5)
    y.backward(g)
    xs, ws, bs = (t.detach().clone().requires_grad_(True) for t in (x, w, b))
    if training:
        mean = xs.mean((0, 2, 3), keepdim=True)
        var = ((xs - mean) ** 2).mean((0, 2, 3), keepdim=True)
    else:
        mean, var = rm.reshape(1, 3, 1, 1), rv.reshape(1, 3, 1, 1)
    ref = (xs - mean) / torch.sqrt(var + 1e-5) * ws.reshape(1, 3, 1, 1) + bs.reshape(1, 3, 1, 1)
    ref.backward(g)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for got, want in ((y, ref), (x.grad, xs.grad), (w.grad, ws.grad), (b.grad, bs.grad)):
        np.testing.assert_allclose(to_np(got), to_np(want), rtol=tol, atol=tol)


def test_max_pool_overlapping_windows_gradient():
    a = RNG.standard_normal((2, 3, 9, 8))
    x = T(a, True)
    y, idx = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    g = RNG.standard_normal(tuple(y.shape))
    y.backward(T(g))
    ref = np.zeros((2, 3, 72))
    flat = to_np(idx).reshape(2, 3, -1)
    for n in range(2):
        for c in range(3):
            np.add.at(ref[n, c], flat[n, c], g[n, c].reshape(-1))
    np.testing.assert_allclose(to_np(x.grad), ref.reshape(a.shape), rtol=1e-12)
    np.testing.assert_allclose(
        to_np(y).reshape(2, 3, -1), np.take_along_axis(a.reshape(2, 3, -1), flat, 2)
    )
    assert torch.autograd.gradgradcheck(lambda t: F.max_pool2d(t, 2), (T(a[:1, :1, :4, :4], True),))


# ---- the LSTM layer


def _lstm_reference(lstm, x, h0, c0):
    """The recurrence step by step from the module's own parameters (plain ops)."""
    outs = []
    h, c = h0[0], c0[0]
    for t in range(x.shape[0]):
        z = x[t] @ lstm.weight_ih_l0.t() + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.t()
        z = z + lstm.bias_hh_l0
        i, f, gg, o = z.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs), h, c


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lstm_layer_matches_step_by_step(dtype):
    torch.manual_seed(2)
    lstm = nn.LSTM(5, 6).to(dtype)
    x = torch.randn(7, 3, 5, dtype=dtype).requires_grad_(True)
    h0, c0 = torch.randn(1, 3, 6, dtype=dtype), torch.randn(1, 3, 6, dtype=dtype)
    out, (hn, cn) = lstm(x, (h0, c0))
    loss = out.pow(2).sum() + hn.sum() + 2 * cn.sum()
    loss.backward()
    grads = [p.grad.clone() for p in lstm.parameters()] + [x.grad.clone()]
    lstm.zero_grad()
    x.grad = None
    ro, rh, rc = _lstm_reference(lstm, x, h0, c0)
    (ro.pow(2).sum() + rh.sum() + 2 * rc.sum()).backward()
    refs = [p.grad for p in lstm.parameters()] + [x.grad]
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for got, want in [(out, ro), (hn[0], rh), (cn[0], rc)] + list(zip(grads, refs)):
        np.testing.assert_allclose(to_np(got), to_np(want), rtol=tol, atol=tol)


def test_lstm_reverse_direction_and_double_backward():
    torch.manual_seed(3)
    lstm = nn.LSTM(2, 3, bidirectional=True).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64).requires_grad_(True)
    out, (hn, cn) = lstm(x)
    # The reverse direction's final state is its output at t = 0.
    np.testing.assert_allclose(to_np(hn[1]), to_np(out[0, :, 3:]), rtol=1e-12)
    assert torch.autograd.gradgradcheck(lambda t: lstm(t)[0], (x,), atol=1e-4)


def test_lstm_layer_rejects_bad_operands():
    xw = torch.zeros(3, 2, 8)
    with pytest.raises(RuntimeError, match="lstm: expected"):
        torch._C._lstm_layer(
            xw, torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(8, 2), None, False
        )
    with pytest.raises(RuntimeError, match="one floating point dtype"):
        torch._C._lstm_layer(
            xw,
            torch.zeros(2, 2, dtype=torch.float64),
            torch.zeros(2, 2),
            torch.zeros(8, 2),
            None,
            False,
        )
