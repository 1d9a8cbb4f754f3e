"""Ops on every device against the CPU: each test computes on ``device`` and compares with
the same computation on the CPU. With a GPU this checks the CUDA backend op by op; without
one the CUDA cases skip and the CPU cases compare the CPU with itself, which keeps the test
code honest."""

import copy

import numpy as np
import pytest

import rtorch as torch
from rtorch import nn
from rtorch.nn import functional as F

FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
ALL_DTYPES = FLOAT_DTYPES + [torch.int64, torch.int32, torch.bool]

# (rtol, atol) per dtype for results computed on two devices.
TOL = {
    torch.float32: (1e-4, 1e-5),
    torch.float64: (1e-10, 1e-12),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (2e-2, 2e-2),
}


def on(x, device):
    """Every tensor inside ``x`` (nested lists/tuples/dicts) copied to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(on(v, device) for v in x)
    if isinstance(x, dict):
        return {k: on(v, device) for k, v in x.items()}
    return x


def assert_same(got, want, device, rtol=None, atol=None):
    """``got`` (computed on ``device``) equals ``want`` (computed on the CPU)."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor)
        assert got.device.type == torch.device(device).type, (got.device, device)
        assert got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape)
        g, w = got.detach().cpu(), want.detach()
        if w.is_floating_point():
            r, a = TOL[w.dtype]
            np.testing.assert_allclose(
                g.double().numpy(),
                w.double().numpy(),
                rtol=r if rtol is None else rtol,
                atol=a if atol is None else atol,
                equal_nan=True,
            )
        else:
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w, device, rtol, atol)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=rtol or 1e-5, abs=atol or 1e-6, nan_ok=True)
    else:
        assert got == want


def check(fn, *inputs, device, rtol=None, atol=None):
    """``fn`` on the inputs moved to ``device`` matches ``fn`` on the CPU inputs; where the
    CPU raises, the device raises the same exception type."""
    try:
        want = fn(*inputs)
    except Exception as e:  # the op is not defined for these inputs
        with pytest.raises(type(e)):
            fn(*on(inputs, device))
        return None
    got = fn(*on(inputs, device))
    assert_same(got, want, device, rtol, atol)
    return got


def sample(shape, dtype, low=-3.0, high=3.0, seed=0):
    """Deterministic values of ``dtype`` (made on the CPU from NumPy)."""
    rng = np.random.default_rng(seed)
    if dtype == torch.bool:
        return torch.from_numpy(rng.random(shape) > 0.5)
    if dtype in (torch.int64, torch.int32):
        return torch.from_numpy(rng.integers(int(low), int(high) + 1, size=shape)).to(dtype)
    return torch.from_numpy(rng.uniform(low, high, size=shape)).to(dtype)


def positive(shape, dtype, seed=0):
    """Values in [0.5, 3] ([1, 3] for integers): safe divisors, logs and roots."""
    return sample(shape, dtype, 1 if dtype in (torch.int64, torch.int32) else 0.5, 3.0, seed)


# ---- creation --------------------------------------------------------------------------


CREATIONS = {
    "zeros": lambda d: torch.zeros(2, 3, device=d),
    "ones_int": lambda d: torch.ones((4,), dtype=torch.int32, device=d),
    "empty_shape": lambda d: torch.empty(2, 0, device=d).shape,
    "full": lambda d: torch.full((2, 2), 1.5, dtype=torch.float64, device=d),
    "full_bool": lambda d: torch.full((3,), True, device=d),
    "tensor": lambda d: torch.tensor([[1, 2], [3, 4]], device=d),
    "tensor_float": lambda d: torch.tensor([1.5, -2.0], dtype=torch.float16, device=d),
    "as_tensor": lambda d: torch.as_tensor([1.0, 2.0], device=d),
    "arange": lambda d: torch.arange(1, 10, 2, device=d),
    "arange_float": lambda d: torch.arange(0, 1, 0.25, device=d),
    "linspace": lambda d: torch.linspace(-1, 1, 5, device=d),
    "logspace": lambda d: torch.logspace(0, 2, 3, device=d),
    "eye": lambda d: torch.eye(3, 2, device=d),
    "zeros_like": lambda d: torch.zeros_like(torch.ones(2, 2, device=d)),
    "ones_like_dtype": lambda d: torch.ones_like(torch.ones(2, device=d), dtype=torch.int64),
    "full_like": lambda d: torch.full_like(torch.ones(3, device=d), 7),
    "new_zeros": lambda d: torch.ones(2, device=d).new_zeros(3),
    "new_tensor": lambda d: torch.ones(2, device=d).new_tensor([4.0, 5.0]),
}


@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_creation_on_device(name, device):
    make = CREATIONS[name]
    got, want = make(device), make("cpu")
    assert_same(got, want, device)


@pytest.mark.parametrize(
    "make",
    [
        lambda d: torch.rand(100, device=d),
        lambda d: torch.randn(100, dtype=torch.float64, device=d),
        lambda d: torch.randint(0, 5, (100,), device=d),
        lambda d: torch.randperm(50, device=d),
        lambda d: torch.normal(0.0, 1.0, (100,), device=d),
        lambda d: torch.rand_like(torch.ones(100, device=d)),
        lambda d: torch.randn_like(torch.ones(100, device=d)),
    ],
)
def test_random_creation_on_device(make, device):
    t = make(device)
    assert t.device.type == torch.device(device).type and t.numel() in (50, 100)
    v = t.cpu().double().numpy()
    assert np.isfinite(v).all()
    if t.dtype == torch.int64 and t.numel() == 50:
        assert sorted(v.tolist()) == list(range(50))


def test_to_and_back(device):
    x = sample((3, 4), torch.float32)
    y = x.to(device)
    assert y.device.type == torch.device(device).type
    assert y.to("cpu").tolist() == x.tolist()
    assert x.to(device, torch.float64).dtype == torch.float64
    assert_same(y.t().contiguous(), x.t().contiguous(), device)


# ---- elementwise -------------------------------------------------------------------------


UNARY = [
    "abs", "neg", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
    "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh",
    "atanh", "sigmoid", "relu", "floor", "ceil", "round", "trunc", "frac", "sign", "sgn",
    "reciprocal", "square", "erf", "erfc", "erfinv", "logical_not", "bitwise_not", "isnan",
    "isinf", "isfinite", "signbit",
]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("op", UNARY)
def test_unary(op, dtype, device):
    x = sample((3, 5), dtype, -0.9, 0.9) if op in ("asin", "acos", "atanh", "erfinv") else (
        sample((3, 5), dtype)
    )
    check(lambda t: getattr(t, op)(), x, device=device)


@pytest.mark.parametrize("op", ["exp", "sin", "relu", "sqrt", "neg", "sigmoid"])
def test_unary_non_contiguous(op, device):
    x = positive((4, 6), torch.float32)
    check(lambda t: getattr(t, op)(), x.t(), device=device)
    check(lambda t: getattr(t, op)(), x[:, ::2], device=device)
    check(lambda t: getattr(t, op)(), x[1:3, 2:5], device=device)


BINARY = [
    "add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "pow",
    "maximum", "minimum", "fmax", "fmin", "atan2", "eq", "ne", "lt", "le", "gt", "ge",
    "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary(op, dtype, device):
    a = sample((3, 4), dtype, seed=1)
    # Integer divisors stay away from zero (division by zero is an error on the CPU).
    b = positive((3, 4), dtype, seed=2) if dtype != torch.bool else sample((3, 4), dtype, seed=2)
    if op == "pow" and dtype in (torch.int64, torch.int32):
        b = sample((3, 4), dtype, 0, 3, seed=2)
    check(lambda x, y: getattr(x, op)(y), a, b, device=device)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "lt", "remainder"])
def test_binary_broadcast_scalar_and_strided(op, device):
    a = positive((3, 1, 4), torch.float32, seed=3)
    b = positive((5, 1), torch.float32, seed=4)
    check(lambda x, y: getattr(x, op)(y), a, b, device=device)
    check(lambda x: getattr(x, op)(2.5), a, device=device)
    m = positive((4, 6), torch.float32, seed=5)
    check(lambda x, y: getattr(x, op)(y), m.t(), (m * 0.5).t(), device=device)
    check(lambda x, y: getattr(x, op)(y), m[:, ::2], m[:, 1::2], device=device)
    # A 0-d CPU tensor may join tensors on any device as a scalar.
    s = torch.tensor(1.5)
    got = getattr(m.to(device), op)(s)
    assert_same(got, getattr(m, op)(s), device)


def test_mixed_dtype_promotion(device):
    a = sample((4,), torch.int32)
    b = sample((4,), torch.float16, seed=1)
    c = sample((4,), torch.float64, seed=2)
    check(lambda x, y: x + y, a, b, device=device)
    check(lambda x, y: x * y, b, c, device=device)
    check(lambda x: x / 3, a, device=device)


def test_clamp_where_lerp_nan_to_num(device):
    x = sample((3, 4), torch.float32)
    check(lambda t: t.clamp(-1, 1), x, device=device)
    check(lambda t: t.clamp(min=0.5), x, device=device)
    y = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    check(lambda t: t.nan_to_num(), y, device=device)
    check(lambda t, u: t.lerp(u, 0.3), x, x.flip(0), device=device)
    check(lambda t: torch.where(t > 0, t, -t), x, device=device)
    check(lambda t: torch.where(t > 0, t, 0.0), x, device=device)


def test_inplace_ops(device):
    def run(t):
        t = t.clone()
        t.add_(1).mul_(2).clamp_(max=5)
        t[0] = 3.0
        t[:, 1].fill_(-1)
        return t

    check(run, sample((3, 4), torch.float32), device=device)


def test_cast(device):
    x = sample((3, 4), torch.float32)
    for dt in ALL_DTYPES:
        check(lambda t, dt=dt: t.to(dt), x, device=device)


# ---- reductions ------------------------------------------------------------------------------


REDUCTIONS = ["sum", "mean", "prod", "amax", "amin", "argmax", "argmin", "var", "std",
              "norm", "logsumexp", "all", "any", "nansum"]


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("op", REDUCTIONS)
def test_reductions(op, dim, device):
    x = sample((3, 4, 5), torch.float32, -2.0, 2.0)
    if op == "prod":
        x = sample((3, 4, 5), torch.float32, 0.5, 1.5)
    if op in ("all", "any"):
        x = x > 0
    if dim is None:
        if op in ("amax", "amin", "logsumexp"):
            dims = (0, 1, 2)
            check(lambda t: getattr(t, op)(dims), x, device=device)
        else:
            check(lambda t: getattr(t, op)(), x, device=device)
        return
    if isinstance(dim, tuple) and op in ("argmax", "argmin", "all", "any", "prod"):
        return
    for keepdim in (False, True):
        if op == "norm":  # norm's first positional argument is p
            check(lambda t, k=keepdim: t.norm(dim=dim, keepdim=k), x, device=device)
        else:
            check(lambda t, k=keepdim: getattr(t, op)(dim, keepdim=k), x, device=device)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.bool], ids=str)
def test_reductions_dtypes(dtype, device):
    x = sample((4, 6), dtype)
    check(lambda t: t.sum(), x, device=device)
    check(lambda t: t.sum(1), x, device=device)
    check(lambda t: t.amax(0), x, device=device)
    check(lambda t: t.argmax(1), x, device=device)
    if dtype.is_floating_point:
        check(lambda t: t.mean(0), x, device=device)
        check(lambda t: t.var(1), x, device=device)


def test_max_min_with_indices_and_non_contiguous(device):
    x = torch.randperm(24).reshape(4, 6).float()
    check(lambda t: t.max(1), x, device=device)
    check(lambda t: t.min(0), x, device=device)
    check(lambda t: t.t().sum(1), x, device=device)
    check(lambda t: t[:, ::2].mean(0), x, device=device)
    check(lambda t: t.count_nonzero(), x, device=device)


def test_scans(device):
    x = sample((3, 5), torch.float32, 0.5, 1.5)
    for dim in (0, 1, -1):
        check(lambda t, d=dim: t.cumsum(d), x, device=device)
        check(lambda t, d=dim: t.cumprod(d), x, device=device)
    check(lambda t: t.cumsum(0), sample((4,), torch.int64), device=device)
    check(lambda t: t.t().cumsum(1), x, device=device)


def test_sort_topk_argsort(device):
    x = (torch.randperm(30).reshape(5, 6).float() - 10) / 3  # distinct values: no ties
    for dim in (0, 1):
        for desc in (False, True):
            check(lambda t, d=dim, s=desc: t.sort(d, descending=s), x, device=device)
            check(lambda t, d=dim, s=desc: t.argsort(d, descending=s), x, device=device)
    check(lambda t: t.topk(3), x, device=device)
    check(lambda t: t.topk(2, dim=0, largest=False), x, device=device)
    check(lambda t: t.sort(), torch.randperm(20), device=device)


# ---- indexing ----------------------------------------------------------------------------------


def test_masked_and_where(device):
    x = sample((4, 5), torch.float32)
    m = sample((4, 5), torch.bool, seed=3)
    check(lambda t, mm: t.masked_fill(mm, -7.0), x, m, device=device)
    check(lambda t, mm: t[mm], x, m, device=device)
    check(lambda t, mm: t.masked_select(mm), x, m, device=device)
    check(lambda t, mm: torch.where(mm, t, t * 2), x, m, device=device)


def test_advanced_indexing(device):
    x = sample((5, 6), torch.float32)
    i = torch.tensor([4, 0, 2, 2])
    j = torch.tensor([1, 5, 0, 3])
    check(lambda t, a: t[a], x, i, device=device)
    check(lambda t, a, b: t[a, b], x, i, j, device=device)
    check(lambda t, a: t[:, a], x, j, device=device)
    check(lambda t: t[1:4:2, 1::2], x, device=device)
    check(lambda t, a: t.index_select(1, a), x, j, device=device)
    check(lambda t: t.take(torch.tensor([0, 7, 29]).to(t.device)), x, device=device)

    def setitem(t, a, b):
        t = t.clone()
        t[a, b] = 9.0
        t[a] = t[a] * 2
        return t

    check(setitem, x, torch.tensor([0, 3]), torch.tensor([1, 2]), device=device)


def test_gather_scatter_index_add(device):
    x = sample((4, 5), torch.float32)
    idx = torch.tensor([[0, 1, 2], [4, 3, 2], [1, 1, 1], [0, 4, 0]])
    check(lambda t, i: t.gather(1, i), x, idx, device=device)
    src = sample((4, 3), torch.float32, seed=4)
    # Duplicate indices only with accumulation (plain scatter picks one writer).
    uniq = torch.tensor([[0, 1, 2], [4, 3, 2], [1, 0, 3], [0, 4, 2]])
    check(lambda t, i, s: t.scatter(1, i, s), x, uniq, src, device=device)
    check(lambda t, i, s: t.scatter_add(1, i, s), x, idx, src, device=device)
    check(lambda t, i: t.scatter(1, i, 2.0), x, uniq, device=device)
    rows = torch.tensor([0, 2, 0, 3])
    vals = sample((4, 5), torch.float32, seed=5)
    check(lambda t, i, v: t.index_add(0, i, v), x, rows, vals, device=device)
    check(lambda t, i, v: t.index_add(0, i, v, alpha=-2), x, rows, vals, device=device)
    check(lambda t, i: t.index_fill(1, i, 0.5), x, torch.tensor([0, 3]), device=device)


def test_index_put_accumulate(device):
    x = sample((5,), torch.float32)
    i = torch.tensor([0, 2, 0, 4, 0])
    v = sample((5,), torch.float32, seed=6)

    def put(t, ii, vv, acc):
        t = t.clone()
        t.index_put_((ii,), vv, accumulate=acc)
        return t

    check(lambda t, ii, vv: put(t, ii, vv, True), x, i, v, device=device)
    check(lambda t, ii, vv: put(t, ii, vv, False), x, torch.tensor([1, 3]), v[:2], device=device)
    check(lambda t, ii: put(t, ii, torch.ones(3, dtype=torch.int64).to(t.device), True),
          torch.zeros(4, dtype=torch.int64), torch.tensor([1, 1, 3]), device=device)


def test_nonzero(device):
    x = sample((4, 5), torch.int64, -1, 1)
    check(lambda t: t.nonzero(), x, device=device)
    check(lambda t: t.nonzero(as_tuple=True), x, device=device)
    check(lambda t: t.argwhere(), x, device=device)
    check(lambda t: t.nonzero(), torch.zeros(3), device=device)


def test_views_and_joins(device):
    x = sample((2, 3, 4), torch.float32)
    check(lambda t: t.permute(2, 0, 1).reshape(4, 6), x, device=device)
    check(lambda t: t.transpose(0, 2).contiguous(), x, device=device)
    check(lambda t: torch.cat([t, t * 2], 1), x, device=device)
    check(lambda t: torch.stack([t, t + 1]), x, device=device)
    check(lambda t: t.flip(1).roll(1, 2), x, device=device)
    check(lambda t: t.repeat(2, 1, 1).tril(), x[0], device=device)
    check(lambda t: t.unbind(1), x, device=device)
    check(lambda t: t.split(2, dim=2), x, device=device)


# ---- nn functions ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_softmax_log_softmax(dtype, device):
    x = sample((4, 7), dtype)
    for dim in (0, 1, -1):
        check(lambda t, d=dim: t.softmax(d), x, device=device)
        check(lambda t, d=dim: t.log_softmax(d), x, device=device)
    check(lambda t: F.softmax(t.t(), dim=1), x, device=device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_softmax_rows_and_gradients(dtype, device):
    # Rows long enough for the block-per-row kernels, a transposed (strided) input, and
    # rows with -inf, +inf and NaN entries; gradients through softmax and log_softmax.
    x = sample((6, 300), dtype, -8.0, 8.0)
    x[1] = float("-inf")
    x[2, 5] = float("inf")
    x[3, 7] = float("nan")
    for fn in (lambda t: t.softmax(-1), lambda t: t.log_softmax(1)):
        check(fn, x, device=device)
        check(fn, x.t().contiguous().t(), device=device)
    if dtype == torch.float16:
        return
    g = sample((6, 300), dtype, seed=3)

    def grad(t, gg, log):
        t = t.detach().requires_grad_(True)
        y = t.log_softmax(-1) if log else t.softmax(-1)
        y.backward(gg)
        return t.grad

    xs = sample((6, 300), dtype, seed=5)
    for log in (False, True):
        check(lambda t, gg, lg=log: grad(t, gg, lg), xs, g, device=device)
        check(lambda t, gg, lg=log: grad(t, gg, lg), xs, g.t().contiguous().t(), device=device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_layer_norm_gradients(dtype, device):
    x = sample((70, 96), dtype, seed=1)
    w, b = positive((96,), dtype, 2), sample((96,), dtype, seed=3)
    g = sample((70, 96), dtype, seed=4)

    def grads(t, ww, bb, gg, affine=True):
        t = t.detach().requires_grad_(True)
        ww, bb = ww.detach().requires_grad_(True), bb.detach().requires_grad_(True)
        y = F.layer_norm(t, (96,), ww if affine else None, bb if affine else None)
        y.backward(gg)
        return (y, t.grad, ww.grad, bb.grad) if affine else (y, t.grad)

    check(grads, x, w, b, g, device=device)
    check(lambda *a: grads(*a, affine=False), x, w, b, g, device=device)
    # a strided input and a broadcast upstream gradient (y.sum().backward())
    xt = sample((96, 70), dtype, seed=6).t()
    check(grads, xt, w, b, torch.ones(()).to(dtype).expand(70, 96), device=device)
    # rows split over several chunks of the parameter-gradient kernel
    big = sample((2000, 40), dtype, seed=7)
    wb, bb = positive((40,), dtype, 8), sample((40,), dtype, seed=9)
    check(grads, big, wb, bb, sample((2000, 40), dtype, seed=10), device=device, rtol=1e-4)


@pytest.mark.parametrize("n", [1, 3, 4, 1027, 65536 + 5])
def test_dense_elementwise_packs_and_tails(n, device):
    # Contiguous operands run in 16-byte packs with a scalar tail; an offset view is
    # misaligned and takes the strided path.
    a, b = sample((n + 1,), torch.float32, seed=1), sample((n + 1,), torch.float32, seed=2)
    check(lambda x, y: x[:n] + y[:n], a, b, device=device)
    check(lambda x, y: x[1:] * y[1:], a, b, device=device)
    check(lambda x: x[:n].exp(), a, device=device)
    check(lambda x: (x[1:] - 0.5).tanh(), a, device=device)
    h = a.to(torch.float16)
    check(lambda x: x[:n].sigmoid() * 2, h, device=device)
    check(lambda x: x[:n] + 1, a.to(torch.int64), device=device)

    def inplace(x, y):
        x = x.clone()
        x[:n].add_(y[:n], alpha=2)
        x[1:].mul_(3)
        return x

    check(inplace, a, b, device=device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_activation_gradients_from_outputs(dtype, device):
    # relu / sigmoid / tanh backward from their outputs, on a transposed input and with a
    # strided upstream gradient.
    x = sample((40, 30), dtype, seed=11).t()
    g = sample((30, 80), dtype, seed=12)[:, ::2]

    def grad(t, gg, fn):
        t = t.detach().requires_grad_(True)
        fn(t).backward(gg)
        return t.grad

    for fn in (torch.relu, torch.sigmoid, torch.tanh, F.relu6):
        check(lambda t, gg, f=fn: grad(t, gg, f), x, g, device=device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64], ids=str)
def test_row_broadcast_packs(dtype, device):
    # A bias-like row added down a matrix: whole packs per row (64 columns), and rows that
    # are not (30 columns), out of place and in place.
    for cols in (64, 30):
        x, b = sample((33, cols), dtype, seed=1), sample((cols,), dtype, seed=2)
        check(lambda t, r: t + r, x, b, device=device)
        check(lambda t, r: t * r, x, b, device=device)

        def inplace(t, r):
            t = t.clone()
            t += r
            return t

        check(inplace, x, b, device=device)
        if dtype in (torch.float32, torch.float64):
            w = torch.ones(cols, cols, dtype=dtype)
            check(lambda t, r, ww: F.linear(t, ww, r), x, b, w, device=device)


def test_transformer_layer_gradients(device):
    torch.manual_seed(0)
    x = sample((3, 10, 32), torch.float32)
    target = sample((3, 10, 32), torch.float32, seed=1)

    def make():
        return nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)

    _grads_match(make, x, target, device, F.mse_loss)


def test_layer_norm_and_batch_norm(device):
    x = sample((4, 3, 5), torch.float32)
    w, b = positive((5,), torch.float32, 1), sample((5,), torch.float32, seed=2)
    check(lambda t, ww, bb: F.layer_norm(t, (5,), ww, bb), x, w, b, device=device)
    check(lambda t: F.layer_norm(t, (3, 5)), x, device=device)
    mean, var = torch.zeros(3), torch.ones(3)

    def bn(t, m, v, training):
        m, v = m.clone(), v.clone()
        out = F.batch_norm(t, m, v, training=training, momentum=0.1)
        return out, m, v

    check(lambda t, m, v: bn(t, m, v, True), x, mean, var, device=device)
    check(lambda t, m, v: bn(t, m, v, False), x, mean + 0.5, var * 2, device=device)
    check(lambda t: F.group_norm(t, 1), x, device=device)


def test_conv_and_pooling(device):
    x = sample((2, 3, 8, 8), torch.float32)
    w = sample((4, 3, 3, 3), torch.float32, seed=1)
    b = sample((4,), torch.float32, seed=2)
    check(lambda t, ww, bb: F.conv2d(t, ww, bb), x, w, b, device=device)
    check(lambda t, ww: F.conv2d(t, ww, stride=2, padding=1), x, w, device=device)
    check(lambda t, ww: F.conv2d(t, ww, dilation=2), x, w, device=device)
    check(lambda t: F.max_pool2d(t, 2), x, device=device)
    check(lambda t: F.max_pool2d(t, 3, stride=2, padding=1, return_indices=True), x, device=device)
    check(lambda t: F.avg_pool2d(t, 2), x, device=device)
    check(lambda t: F.avg_pool2d(t, 3, stride=1, padding=1, count_include_pad=False), x, device=device)
    check(lambda t: F.adaptive_avg_pool2d(t, (2, 3)), x, device=device)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_matmul_family(dtype, device):
    a = sample((3, 4), dtype, -1, 1)
    b = sample((4, 5), dtype, -1, 1, seed=1)
    check(lambda x, y: x @ y, a, b, device=device)
    check(lambda x, y: x.t().contiguous().t() @ y, a, b, device=device)  # strided lhs
    check(lambda x, y: x.matmul(y[:, 0]), a, b, device=device)
    p = sample((2, 3, 4), dtype, -1, 1, seed=2)
    q = sample((2, 4, 5), dtype, -1, 1, seed=3)
    check(lambda x, y: torch.bmm(x, y), p, q, device=device)
    check(lambda x, y: x @ y, p, b, device=device)
    w = sample((6, 4), dtype, -1, 1, seed=4)
    bias = sample((6,), dtype, seed=5)
    check(lambda x, ww, bb: F.linear(x, ww, bb), a, w, bias, device=device)


def test_embedding_and_one_hot(device):
    weight = sample((10, 4), torch.float32)
    idx = torch.tensor([[1, 9, 0], [3, 3, 7]])
    check(lambda w, i: F.embedding(i, w), weight, idx, device=device)
    check(lambda w, i: F.embedding(i, w, padding_idx=3), weight, idx, device=device)
    check(lambda i: F.one_hot(i, 10), idx, device=device)


def test_losses(device):
    logits = sample((6, 5), torch.float32)
    target = torch.tensor([0, 4, 2, 2, 1, 3])
    check(lambda x, t: F.cross_entropy(x, t), logits, target, device=device)
    check(lambda x, t: F.cross_entropy(x, t, reduction="none"), logits, target, device=device)
    check(lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), logits, target, device=device)
    check(lambda x, t: F.cross_entropy(x, t, ignore_index=2), logits, target, device=device)
    check(lambda x, t: F.nll_loss(x.log_softmax(1), t), logits, target, device=device)
    y = sample((6, 5), torch.float32, seed=3)
    check(lambda x, t: F.mse_loss(x, t), logits, y, device=device)
    check(lambda x, t: F.binary_cross_entropy_with_logits(x, (t > 0).float()), logits, y, device=device)


def test_dropout_statistics(device):
    torch.manual_seed(0)
    x = torch.ones(200_000, device=device)
    y = F.dropout(x, p=0.3, training=True)
    assert y.device.type == torch.device(device).type
    kept = (y != 0).float().mean().item()
    assert abs(kept - 0.7) < 0.01
    assert torch.allclose(y[y != 0], torch.full((1,), 1 / 0.7, device=device))
    assert F.dropout(x, p=0.3, training=False) is x or F.dropout(x, 0.3, False).eq(1).all()


# ---- autograd ---------------------------------------------------------------------------------


def _grads_match(model_fn, x, target, device, loss_fn):
    torch.manual_seed(0)
    cpu_model = model_fn()
    dev_model = copy.deepcopy(cpu_model).to(device)
    for m, inp, tgt in ((cpu_model, x, target), (dev_model, x.to(device), target.to(device))):
        loss = loss_fn(m(inp), tgt)
        loss.backward()
    for (name, p), q in zip(cpu_model.named_parameters(), dev_model.parameters()):
        assert q.grad is not None, name
        assert_same(q.grad, p.grad, device, rtol=1e-3, atol=1e-5)
    return cpu_model, dev_model


def test_mlp_gradients(device):
    x = sample((8, 5), torch.float32)
    target = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    _grads_match(
        lambda: nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)),
        x, target, device, F.cross_entropy,
    )


def test_cnn_gradients(device):
    x = sample((4, 2, 8, 8), torch.float32)
    target = torch.tensor([1, 0, 1, 1])

    def make():
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 4, 3), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 2),
        )

    _grads_match(make, x, target, device, F.cross_entropy)


def test_input_gradient_through_ops(device):
    def fn(t):
        t = t.detach().requires_grad_(True)
        y = (t.exp() * t.sin()).sum(1).softmax(0).log().sum() + t.norm() + t.amax(0).sum()
        y.backward()
        return t.grad

    check(fn, sample((3, 4), torch.float64), device=device)


# ---- optimizers ---------------------------------------------------------------------------------


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01),
    "adamw_amsgrad": lambda p: torch.optim.AdamW(p, lr=0.01, amsgrad=True),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
    "rmsprop_centered": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_cpu(name, device):
    torch.manual_seed(1)
    cpu_model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    dev_model = copy.deepcopy(cpu_model).to(device)
    x = sample((5, 4), torch.float32)
    y = sample((5, 2), torch.float32, seed=1)
    for model, inp, tgt in ((cpu_model, x, y), (dev_model, x.to(device), y.to(device))):
        opt = OPTIMIZERS[name](model.parameters())
        for _ in range(2):
            opt.zero_grad()
            F.mse_loss(model(inp), tgt).backward()
            opt.step()
    for p, q in zip(cpu_model.parameters(), dev_model.parameters()):
        assert_same(q, p, device, rtol=1e-4, atol=1e-6)


def test_training_loss_falls(device):
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, :1] * 2 - x[:, 1:2] + 0.5).to(device)
    x = x.to(device)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.device.type == torch.device(device).type for p in model.parameters())
    assert losses[-1] < 0.1 * losses[0]


# ---- save / load and memory ---------------------------------------------------------------------


def test_save_load_on_device(tmp_path, device):
    path = tmp_path / "t.pt"
    state = {"w": sample((3, 4), torch.float32).to(device), "i": torch.arange(5, device=device)}
    torch.save(state, path)
    back = torch.load(path)
    assert_same(back["w"], state["w"].cpu(), device)
    assert_same(back["i"], state["i"].cpu(), device)
    host = torch.load(path, map_location="cpu")
    assert host["w"].device.type == "cpu" and host["w"].tolist() == state["w"].cpu().tolist()
    model = nn.Linear(3, 2).to(device)
    torch.save(model.state_dict(), path)
    fresh = nn.Linear(3, 2).to(device)
    fresh.load_state_dict(torch.load(path))
    assert_same(fresh.weight, model.weight.detach().cpu(), device)


def test_memory_stats_move(device):
    if device == "cpu":
        pytest.skip("memory statistics exist only for CUDA devices")
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    x = torch.empty(1 << 20, device=device)  # 4 MiB
    during = torch.cuda.memory_allocated()
    assert during >= before + (1 << 22)
    assert torch.cuda.max_memory_allocated() >= during
    assert torch.cuda.memory_reserved() >= during
    stats = torch.cuda.memory_stats()
    assert stats["allocated_bytes.all.current"] == during
    del x
    assert torch.cuda.memory_allocated() <= during - (1 << 22)
    torch.cuda.reset_peak_memory_stats()
    assert torch.cuda.max_memory_allocated() == torch.cuda.memory_allocated()
    torch.cuda.empty_cache()


def test_comparison_helpers_detect_differences():
    x = torch.tensor([1.0, 2.0])
    assert_same(x.clone(), x, "cpu")
    with pytest.raises(AssertionError):
        assert_same(x + 1e-3, x, "cpu")
    with pytest.raises(AssertionError):
        assert_same(x.double(), x, "cpu")
    with pytest.raises(AssertionError):
        assert_same(torch.tensor([1, 2]), torch.tensor([1, 3]), "cpu")
    with pytest.raises(AssertionError):
        assert_same(x.reshape(2, 1), x, "cpu")
