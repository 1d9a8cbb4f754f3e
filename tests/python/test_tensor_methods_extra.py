"""Tensor methods written in Python (rtorch/_tensor_extra.py): values against numpy or
hand-derived references, against PyTorch side by side when it is installed, float64
gradchecks for the differentiable ones, non-contiguous inputs and PyTorch's error types."""

import math

import numpy as np
import pytest

import rtorch
from rtorch.autograd import gradcheck

RNG = np.random.default_rng(0)


def arr(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def T(a, dtype=rtorch.float64, grad=False):
    t = rtorch.tensor(np.asarray(a), dtype=dtype)
    return t.requires_grad_(True) if grad else t


def close(got, want, tol=1e-6):
    got = got.detach().numpy() if isinstance(got, rtorch.Tensor) else np.asarray(got)
    np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=tol, atol=tol)


def noncontig(a):
    """An rtorch view of `a` (2-D) that is not contiguous, with the same values."""
    t = T(np.ascontiguousarray(a.T)).t()
    assert not t.is_contiguous()
    return t


# ---------------------------------------------------------------- numpy / hand references


def test_blas_like_values():
    m, a, b = arr(3, 4), arr(3, 5), arr(5, 4)
    close(T(m).addmm(T(a), T(b), beta=0.5, alpha=2), 0.5 * m + 2 * a @ b)
    b1, b2 = arr(2, 3, 5), arr(2, 5, 4)
    close(T(m).addbmm(T(b1), T(b2)), m + (b1 @ b2).sum(0))
    close(T(arr(2, 3, 4)).baddbmm(T(b1), T(b2), beta=0).shape, (2, 3, 4))
    v = arr(5)
    base = arr(3)
    close(T(base).addmv(T(a), T(v), alpha=3), base + 3 * a @ v)
    x, y = arr(3), arr(4)
    close(T(m).addr(T(x), T(y)), m + np.outer(x, y))
    close(T(x).vdot(T(x)), x @ x)
    close(T(a).kron(T(m)), np.kron(a, m))
    c1, c2 = arr(4, 3), arr(4, 3)
    close(T(c1).cross(T(c2), dim=1), np.cross(c1, c2))


def test_beta_zero_ignores_nan():
    m = T(np.full((2, 2), np.nan))
    out = m.addmm(T(np.eye(2)), T(np.eye(2)), beta=0)
    close(out, np.eye(2))
    assert not T(np.full(2, np.nan)).addmv(T(np.eye(2)), T(np.ones(2)), beta=0).isnan().any()


def test_inplace_blas_forms():
    m, a, b = arr(3, 4), arr(3, 5), arr(5, 4)
    t = T(m)
    assert t.addmm_(T(a), T(b)) is t
    close(t, m + a @ b)
    t = T(m)
    t.addr_(T(arr(3) * 0 + 1), T(np.ones(4)), alpha=2)
    close(t, m + 2)


def test_linalg_values():
    a = arr(4, 4) + 4 * np.eye(4)
    close(T(a).det(), np.linalg.det(a))
    close(T(a).inverse(), np.linalg.inv(a))
    s, la = T(a).slogdet()
    ws, wla = np.linalg.slogdet(a)
    close(s, ws)
    close(la, wla)
    batch = arr(3, 3, 3)
    close(T(batch).det(), np.linalg.det(batch))
    close(T(a).matrix_power(3), np.linalg.matrix_power(a, 3))
    close(T(a).matrix_power(-2), np.linalg.matrix_power(a, -2))
    close(T(a).matrix_power(0), np.eye(4))
    # Pivoting matters: a zero leading entry.
    p = np.array([[0.0, 2.0], [3.0, 1.0]])
    close(T(p).det(), -6.0)
    close(T(np.zeros((2, 2))).det(), 0.0)
    lower = np.tril(arr(3, 3)) + 3 * np.eye(3)
    rhs = arr(3, 2)
    sol, _ = T(rhs).triangular_solve(T(lower), upper=False)
    close(sol, np.linalg.solve(lower, rhs))
    spd = a @ a.T + np.eye(4)
    chol = np.linalg.cholesky(spd)
    close(T(arr(4, 2) * 0 + 1).cholesky_solve(T(chol)), np.linalg.solve(spd, np.ones((4, 2))))
    close(T(chol).cholesky_inverse(), np.linalg.inv(spd))
    small = arr(3, 3) * 0.3
    # exp(A) = sum A^k / k!, checked against a long Taylor sum.
    want, term = np.eye(3), np.eye(3)
    for k in range(1, 40):
        term = term @ small / k
        want = want + term
    close(T(small).matrix_exp(), want)
    close(T(np.diag([1.0, 2.0])).matrix_exp(), np.diag([math.e, math.e**2]))


def test_lu_roundtrip():
    a = arr(4, 4)
    lu, piv = T(a).lu()
    assert piv.dtype == rtorch.int32
    rhs = arr(4, 1)
    close(T(rhs).lu_solve(lu, piv), np.linalg.solve(a, rhs))


def test_scans_and_order_statistics():
    x = arr(4, 6)
    close(T(x).cummax(1).values, np.maximum.accumulate(x, axis=1))
    close(T(x).cummin(0).values, np.minimum.accumulate(x, axis=0))
    close(T(x).logcumsumexp(1), np.logaddexp.accumulate(x, axis=1))
    wide = np.array([-1000.0, 0.0, -np.inf, 5.0])
    close(T(wide).logcumsumexp(0), np.logaddexp.accumulate(wide))
    close(T(x).kthvalue(2, 1).values, np.sort(x, 1)[:, 1])
    close(T(x).median(1).values, np.sort(x, 1)[:, 2])  # lower median of 6
    close(T(x).median(), np.sort(x.ravel())[(x.size - 1) // 2])
    close(T(x).quantile(0.3, dim=1), np.quantile(x, 0.3, axis=1))
    q = T([0.1, 0.5, 0.9])
    close(T(x).quantile(q, dim=0, keepdim=True), np.quantile(x, [0.1, 0.5, 0.9], axis=0, keepdims=True))
    for how in ("lower", "higher", "midpoint", "nearest"):
        close(T(x).quantile(0.4, interpolation=how), np.quantile(x, 0.4, method=how))
    y = x.copy()
    y[0, 1] = np.nan
    close(T(y).nanquantile(0.5, dim=1), np.nanquantile(y, 0.5, axis=1))
    assert T(y).quantile(0.5, dim=1)[0].isnan()
    assert T(y).median(1).values[0].isnan()
    close(T(y).nanmedian(1).values[0], np.sort(y[0][~np.isnan(y[0])])[2])
    close(T(y).nanmean(1), np.nanmean(y, axis=1))
    close(T(x).msort(), np.sort(x, 0))
    mn, mx = T(x).aminmax(dim=1)
    close(mn, x.min(1))
    close(mx, x.max(1))


def test_indices_point_at_values():
    x = T(arr(5, 7))
    for res in (x.kthvalue(3, 1), x.median(1), x.mode(1), x.cummax(1), x.cummin(1)):
        close(x.gather(1, res.indices if res.indices.dim() == 2 else res.indices.unsqueeze(1)),
              res.values if res.values.dim() == 2 else res.values.unsqueeze(1))


def test_mode_and_cummax_ties():
    m = T([3.0, 1.0, 3.0, 1.0]).mode(0)
    assert float(m.values) == 1.0 and int(m.indices) == 3
    c = T([1.0, 3.0, 3.0, 1.0]).cummax(0)
    assert c.indices.tolist() == [0, 1, 2, 2]


def test_histograms_and_counts():
    x = arr(50)
    close(T(x).histc(bins=5, min=-2, max=2), np.histogram(x, bins=5, range=(-2, 2))[0])
    hist, edges = T(x).histogram(4)
    wh, we = np.histogram(x, bins=4)
    close(hist, wh)
    close(edges, we)
    dens, _ = T(x).histogram(4, density=True)
    close(dens, np.histogram(x, bins=4, density=True)[0])
    ints = np.array([0, 3, 3, 1, 5])
    close(T(ints, rtorch.int64).bincount(), np.bincount(ints))
    w = np.array([0.5, 1.0, 2.0, 1.0, 0.25])
    close(T(ints, rtorch.int64).bincount(T(w), minlength=8), np.bincount(ints, w, minlength=8))


def test_diff_dist_cov():
    x = arr(3, 5)
    close(T(x).diff(), np.diff(x))
    close(T(x).diff(n=2, dim=0), np.diff(x, n=2, axis=0))
    close(T(x).diff(prepend=T(x[:, :1]), append=T(x[:, :2])),
          np.diff(x, prepend=x[:, :1], append=x[:, :2]))
    y = arr(3, 5)
    close(T(x).dist(T(y)), np.linalg.norm(x - y))
    close(T(x).dist(T(y), 1), np.abs(x - y).sum())
    close(T(x).cov(), np.cov(x))
    close(T(x).cov(correction=0), np.cov(x, ddof=0))
    fw = np.array([1, 2, 1, 3, 1])
    aw = RNG.uniform(0.5, 1.5, 5)
    close(T(x).cov(fweights=T(fw, rtorch.int64), aweights=T(aw)), np.cov(x, fweights=fw, aweights=aw))
    close(T(x).corrcoef(), np.corrcoef(x))


def test_renorm_and_unique_consecutive():
    x = arr(3, 4) * 3
    out = T(x).renorm(2, 0, 1.0).numpy()
    norms = np.linalg.norm(x, axis=1)
    want = x * np.where(norms > 1, 1 / (norms + 1e-7), 1)[:, None]
    close(out, want)
    v, inv, cnt = T([1, 1, 2, 2, 3, 1, 1, 2], rtorch.int64).unique_consecutive(
        return_inverse=True, return_counts=True
    )
    assert v.tolist() == [1, 2, 3, 1, 2]
    assert inv.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    assert cnt.tolist() == [2, 2, 1, 2, 1]
    rows = T([[1, 2], [1, 2], [3, 4]], rtorch.int64).unique_consecutive(dim=0)
    assert rows.tolist() == [[1, 2], [3, 4]]


def test_elementwise_values():
    x, y = arr(10), arr(10)
    close(T(x).deg2rad(), np.deg2rad(x))
    close(T(x).rad2deg(), np.rad2deg(x))
    close(T(x).sinc(), np.sinc(x))
    close(T([0.0]).sinc(), [1.0])
    p = RNG.uniform(0.05, 0.95, 10)
    close(T(p).logit(), np.log(p / (1 - p)))
    close(T(p).logit(eps=0.2), np.log(np.clip(p, 0.2, 0.8) / (1 - np.clip(p, 0.2, 0.8))))
    close(T(x).hypot(T(y)), np.hypot(x, y))
    close(T(x).logaddexp(T(y)), np.logaddexp(x, y))
    close(T(x).logaddexp2(T(y)), np.logaddexp2(x, y))
    close(T(x).copysign(T(y)), np.copysign(x, y))
    close(T(x).copysign(-1), -np.abs(x))
    close(T(x).xlogy(T(np.abs(y))), x * np.log(np.abs(y)))
    close(T([0.0, 0.0]).xlogy(T([0.0, np.inf])), [0.0, 0.0])
    assert T([0.0]).xlogy(T([np.nan])).isnan().all()
    h = T([-1.0, 0.0, 2.0]).heaviside(T([0.5]))
    close(h, np.heaviside([-1.0, 0.0, 2.0], 0.5))
    e = np.array([1, -2, 3])
    close(T(x[:3]).ldexp(T(e, rtorch.int64)), np.ldexp(x[:3], e))
    m, ex = T(np.array([0.0, 1.0, -3.5, 1024.0, 1e-300, np.inf])).frexp()
    wm, we = np.frexp(np.array([0.0, 1.0, -3.5, 1024.0, 1e-300, np.inf]))
    close(m[:5], wm[:5])
    assert ex.tolist()[:5] == we.tolist()[:5] and ex.dtype == rtorch.int32
    a = np.array([1.0, 1.0, 0.0, -1.0, 2.0])
    b = np.array([2.0, 0.0, 1.0, -5.0, 2.0])
    assert (T(a).nextafter(T(b)).numpy() == np.nextafter(a, b)).all()
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    got = T(a32, rtorch.float32).nextafter(T(b32, rtorch.float32)).numpy()
    assert (got == np.nextafter(a32, b32)).all()
    g1, g2 = np.array([12, -18, 0, 7, 0]), np.array([8, 12, 5, 0, 0])
    assert T(g1, rtorch.int64).gcd(T(g2, rtorch.int64)).tolist() == np.gcd(g1, g2).tolist()
    assert T(g1, rtorch.int64).lcm(T(g2, rtorch.int64)).tolist() == np.lcm(g1, g2).tolist()
    z = T([-np.inf, np.inf, 1.0, np.nan])
    assert z.isposinf().tolist() == [False, True, False, False]
    assert z.isneginf().tolist() == [True, False, False, False]
    assert z.isreal().all()
    close(T([-2.0, 0.0, 3.0]).angle(), [math.pi, 0.0, 0.0])


def test_special_functions():
    x = RNG.uniform(0.1, 8.0, 20)
    close(T(x).lgamma(), [math.lgamma(v) for v in x], 1e-10)
    neg = np.array([-0.5, -1.5, -2.7, 0.3])
    close(T(neg).lgamma(), [math.lgamma(v) for v in neg], 1e-10)
    assert T([0.0, -1.0]).lgamma().isinf().all()
    # digamma(1) = -Euler gamma; digamma(x + 1) = digamma(x) + 1/x.
    close(T([1.0]).digamma(), [-0.5772156649015329], 1e-12)
    close(T(x + 1).digamma() - T(x).digamma(), 1 / x, 1e-10)
    close(T(neg).digamma() - T(1 - neg).digamma(), -math.pi / np.tan(math.pi * neg), 1e-9)
    # polygamma(1, 1) = pi^2 / 6, polygamma(2, 1) = -2 zeta(3).
    close(T([1.0]).polygamma(1), [math.pi**2 / 6], 1e-10)
    close(T([1.0]).polygamma(2), [-2 * 1.2020569031595942], 1e-10)
    big = x + 1
    close(T(big).mvlgamma(2), [math.log(math.pi) / 2 + math.lgamma(v) + math.lgamma(v - 0.5)
                               for v in big], 1e-9)
    close(T(np.linspace(-40, 40, 17)).i0(), np.i0(np.linspace(-40, 40, 17)), 1e-10)
    # P(1, x) = 1 - e^{-x}; P(a, x) + Q(a, x) = 1.
    xs = RNG.uniform(0.1, 20, 10)
    close(T(np.ones(10)).igamma(T(xs)), 1 - np.exp(-xs), 1e-10)
    a = RNG.uniform(0.5, 10, 10)
    close(T(a).igamma(T(xs)) + T(a).igammac(T(xs)), np.ones(10), 1e-12)


def test_shapes_and_splits():
    x = arr(4, 6)
    close(T(x).tile((2, 1)), np.tile(x, (2, 1)))
    close(T(x).tile((2,)), np.tile(x, 2))
    close(T(x).tile((2, 1, 1)), np.tile(x, (2, 1, 1)))
    for k in range(-1, 5):
        close(T(x).rot90(k), np.rot90(x, k))
    close(T(x).rot90(1, (1, 0)), np.rot90(x, 1, (1, 0)))
    idx = RNG.integers(0, 6, (4, 2))
    close(T(x).take_along_dim(T(idx, rtorch.int64), 1), np.take_along_axis(x, idx, 1))
    close(T(x).take_along_dim(T(np.array([0, 5, 23]), rtorch.int64)), x.ravel()[[0, 5, 23]])
    for parts, want in ((T(x).tensor_split(4, 1), np.array_split(x, 4, 1)),
                        (T(x).tensor_split([1, 4], 1), np.split(x, [1, 4], 1)),
                        (T(x).hsplit(3), np.hsplit(x, 3)), (T(x).vsplit([1]), np.vsplit(x, [1]))):
        assert len(parts) == len(want)
        for p, w in zip(parts, want):
            close(p, w)
    d = arr(2, 2, 4)
    for p, w in zip(T(d).dsplit(2), np.dsplit(d, 2)):
        close(p, w)
    sizes = [p.shape[0] for p in T(x).split_with_sizes([1, 3])]
    assert sizes == [1, 3]
    assert [p.shape[1] for p in T(x).unsafe_split(4, 1)] == [4, 2]
    assert [p.shape[0] for p in T(x).unsafe_chunk(2)] == [2, 2]
    n = T(x).narrow_copy(1, 2, 3)
    close(n, x[:, 2:5])
    assert n.is_contiguous()


def test_scatter_family_values():
    x = arr(4, 5)
    src = arr(4, 2)
    want = x.copy()
    want[:, 1:5:2] = src
    close(T(x).slice_scatter(T(src), 1, 1, 5, 2), want)
    want = x.copy()
    want[2] = arr(5) * 0 + 7
    close(T(x).select_scatter(T(np.full(5, 7.0)), 0, 2), want)
    want = x.copy()
    want[[0, 1, 2, 3], [1, 2, 3, 4]] = [9, 8, 7, 6]
    close(T(x).diagonal_scatter(T([9.0, 8, 7, 6]), 1), want)
    close(T([1.0, 2.0]).diag_embed(), np.diag([1.0, 2.0]))
    close(T([1.0, 2.0]).diag(1), np.diag([1.0, 2.0], 1))
    close(T(x).diag(-1), np.diag(x, -1))
    close(T(x[:2, :2]).diagflat(), np.diag(x[:2, :2].ravel()))
    close(T(x[:4, :4]).trace(), np.trace(x[:4, :4]))
    mask = x > 0
    src = arr(20)
    want = x.copy()
    want[mask] = src[: mask.sum()]
    close(T(x).masked_scatter(T(mask, rtorch.bool), T(src)), want)
    want = x.copy().ravel()
    want[[0, 7, -1]] = [1.0, 2.0, 3.0]
    close(T(x).put(T([0, 7, -1], rtorch.int64), T([1.0, 2.0, 3.0])), want.reshape(4, 5))
    want = x.copy().ravel()
    np.add.at(want, [3, 3, 4], [1.0, 2.0, 3.0])
    close(T(x).put(T([3, 3, 4], rtorch.int64), T([1.0, 2.0, 3.0]), accumulate=True),
          want.reshape(4, 5))
    pos = np.array([[0, 1, 0], [1, 1, 0]])
    vals = arr(2, 3)
    base = arr(3, 3)
    for how, fn, ident in (("sum", np.add, 0.0), ("prod", np.multiply, 1.0),
                           ("amax", np.maximum, -np.inf), ("amin", np.minimum, np.inf)):
        want = base.copy()
        np.__dict__[fn.__name__].at(want, (pos, np.arange(3)[None].repeat(2, 0)), vals)
        got = T(base).scatter_reduce(0, T(pos, rtorch.int64), T(vals), how)
        close(got, want)
        excl = np.full_like(base, ident)
        fn.at(excl, (pos, np.arange(3)[None].repeat(2, 0)), vals)
        touched = np.zeros_like(base, bool)
        touched[pos, np.arange(3)[None].repeat(2, 0)] = True
        got = T(base).scatter_reduce(0, T(pos, rtorch.int64), T(vals), how, include_self=False)
        close(got, np.where(touched, excl, base))
    mean = T(base).scatter_reduce(0, T(pos, rtorch.int64), T(vals), "mean")
    close(mean[0, 2], (base[0, 2] + vals[0, 2] + vals[1, 2]) / 3)
    ir = T(base).index_reduce(0, T([0, 0], rtorch.int64), T(vals), "amax")
    close(ir[0], np.maximum(base[0], vals.max(0)))


def test_inplace_write_back_forms():
    x = arr(6)
    for name, ref in (("deg2rad_", np.deg2rad), ("sinc_", np.sinc), ("i0_", np.i0),
                      ("clamp_min_", lambda v: np.maximum(v, 0.5))):
        t = T(x)
        args = (0.5,) if name == "clamp_min_" else ()
        assert getattr(t, name)(*args) is t
        close(t, ref(x))
    t = T(x)
    t.cumsum_(0)
    close(t, np.cumsum(x))
    t = T(x)
    t.subtract_(T(x), alpha=2)
    close(t, -x)
    t = T(np.zeros((3, 3)))
    t.fill_diagonal_(5.0)
    close(t, 5 * np.eye(3))
    t = T(np.zeros((5, 2)))
    t.fill_diagonal_(1.0, wrap=True)
    w = np.zeros((5, 2))
    np.fill_diagonal(w, 1.0, wrap=True)
    close(t, w)
    t = T(np.zeros(4))
    t.put_(T([1], rtorch.int64), T([3.0]))
    close(t, [0, 3, 0, 0])
    t = T(x)
    t.masked_scatter_(T(x > 0, rtorch.bool), T(np.arange(6.0)))
    w = x.copy()
    w[x > 0] = np.arange(6.0)[: (x > 0).sum()]
    close(t, w)
    leaf = T(x, grad=True)
    with pytest.raises(RuntimeError):
        leaf.sinc_()


def test_queries_and_constructors():
    x = T(arr(2, 3))
    assert x.is_same_size(T(arr(2, 3))) and not x.is_same_size(T(arr(3, 2)))
    assert T([2.0]).is_nonzero() and not T([0]).is_nonzero()
    assert x.is_set_to(x) and not x.is_set_to(x.clone())
    assert x.dim_order() == (0, 1) and x.t().dim_order() == (1, 0)
    assert x.const_data_ptr() == x.data_ptr()
    s = x.new_empty_strided((2, 3), (1, 2))
    assert tuple(s.shape) == (2, 3) and tuple(s.stride()) == (1, 2) and s.dtype == x.dtype
    assert x.new(2, 3).shape == (2, 3) and x.new([1, 2]).dtype == rtorch.float64
    assert x.new().numel() == 0
    assert x.conj() is x and x.resolve_conj() is x and x.resolve_neg() is x
    assert not x.is_conj() and not x.is_neg() and x.real is x
    assert not x.is_mps and not x.is_xpu and not x.is_mkldnn and not x.is_nested
    assert x.adjoint().shape == (3, 2) and x.to_dense() is x
    assert x.dense_dim() == 2 and x.sparse_dim() == 0
    close(T([0.0, 1.0]).nonzero_static(size=3, fill_value=-5), [[1], [-5], [-5]])
    y = T([1.0, 2.0, 3.0])
    assert y.apply_(lambda v: v * 2) is y
    close(y, [2, 4, 6])
    y.map_(T([1.0, 1.0, 1.0]), lambda a, b: a - b)
    close(y, [1, 3, 5])
    y.map2_(T([1.0]), T([2.0]), lambda a, b, c: a + b * c)
    close(y, [3, 5, 7])

    class Sub(rtorch.Tensor):
        pass

    s = T([1.0]).as_subclass(Sub)
    assert type(s) is Sub


def test_sampling_methods():
    rtorch.manual_seed(0)
    p = T(np.full(2000, 0.3))
    assert abs(float(p.bernoulli().mean()) - 0.3) < 0.05
    g = T(np.zeros(4000)).geometric_(0.25)
    assert float(g.min()) >= 1 and abs(float(g.mean()) - 4.0) < 0.3
    ln = T(np.zeros(4000)).log_normal_(0.0, 0.5)
    assert abs(float(ln.log().mean())) < 0.05
    c = T(np.zeros(4000)).cauchy_(1.0, 2.0)
    assert abs(float(c.median()) - 1.0) < 0.3
    draws = T([0.0, 1.0, 0.0]).multinomial(5, replacement=True)
    assert draws.tolist() == [1] * 5


def test_module_functions_forward():
    x = T(arr(3, 4))
    close(rtorch.logaddexp(x, x), x.logaddexp(x))
    close(rtorch.quantile(x, 0.5), x.quantile(0.5))
    close(rtorch.kron(x, x), x.kron(x))
    assert rtorch.cummax(x, 1).values.shape == (3, 4)


# ---------------------------------------------------------------- non-contiguous inputs


def test_noncontiguous_inputs():
    a = arr(5, 4)
    t = noncontig(a)
    close(t.cummax(0).values, np.maximum.accumulate(a, 0))
    close(t.logcumsumexp(1), np.logaddexp.accumulate(a, 1))
    close(t.median(0).values, np.sort(a, 0)[2])
    close(t.quantile(0.25, dim=1), np.quantile(a, 0.25, axis=1))
    close(t.diff(dim=0), np.diff(a, axis=0))
    close(t.tile((1, 2)), np.tile(a, (1, 2)))
    close(t.take_along_dim(T(np.zeros((5, 1)), rtorch.int64), 1), a[:, :1])
    close(t.put(T([0], rtorch.int64), T([9.0])), np.where(np.arange(20).reshape(5, 4) == 0, 9, a))
    close(t.slice_scatter(T(np.zeros((5, 2))), 1, 0, 2), np.concatenate([np.zeros((5, 2)), a[:, 2:]], 1))
    sq = noncontig(arr(4, 4) + 4 * np.eye(4))
    close(sq.det(), np.linalg.det(sq.numpy()))
    close(sq.inverse(), np.linalg.inv(sq.numpy()))


# ---------------------------------------------------------------- gradients


def _g(fn, *shapes, low=-2.0, high=2.0):
    inputs = tuple(T(arr(*s, low=low, high=high), grad=True) for s in shapes)
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize(
    "name,fn,shapes,low,high",
    [
        ("addbmm", lambda m, a, b: m.addbmm(a, b, beta=0.5), [(2, 3), (2, 2, 4), (2, 4, 3)], -2, 2),
        ("baddbmm", lambda m, a, b: m.baddbmm(a, b, alpha=2), [(2, 2, 3), (2, 2, 4), (2, 4, 3)], -2, 2),
        ("addmv", lambda m, a, b: m.addmv(a, b), [(3,), (3, 4), (4,)], -2, 2),
        ("addr", lambda m, a, b: m.addr(a, b), [(3, 4), (3,), (4,)], -2, 2),
        ("kron", lambda a, b: a.kron(b), [(2, 3), (2, 2)], -2, 2),
        ("cross", lambda a, b: a.cross(b, dim=1), [(2, 3), (2, 3)], -2, 2),
        ("det", lambda a: a.det(), [(2, 3, 3)], -2, 2),
        ("logdet", lambda a: (a @ a.mT + 0.5 * rtorch.eye(3, dtype=rtorch.float64)).logdet(),
         [(3, 3)], -2, 2),
        ("inverse", lambda a: (a + 3 * rtorch.eye(3, dtype=rtorch.float64)).inverse(), [(3, 3)], -1, 1),
        ("matrix_exp", lambda a: a.matrix_exp(), [(3, 3)], -1, 1),
        ("cummax", lambda a: a.cummax(1).values, [(3, 5)], -2, 2),
        ("logcumsumexp", lambda a: a.logcumsumexp(0), [(4, 3)], -2, 2),
        ("kthvalue", lambda a: a.kthvalue(2, 0).values, [(4, 3)], -2, 2),
        ("median", lambda a: a.median(1).values, [(3, 5)], -2, 2),
        ("nanmedian", lambda a: a.nanmedian(), [(3, 5)], -2, 2),
        ("quantile", lambda a: a.quantile(0.3, dim=1), [(3, 5)], -2, 2),
        ("nanmean", lambda a: a.nanmean(0), [(3, 5)], -2, 2),
        ("dist", lambda a, b: a.dist(b, 3), [(3,), (3,)], -2, 2),
        ("cov", lambda a: a.cov(), [(3, 5)], -2, 2),
        ("renorm", lambda a: a.renorm(2, 0, 1.0), [(3, 4)], -2, 2),
        ("sinc", lambda a: a.sinc(), [(6,)], -2, 2),
        ("logit", lambda a: a.logit(), [(6,)], 0.1, 0.9),
        ("xlogy", lambda a, b: a.xlogy(b), [(5,), (5,)], 0.2, 2),
        ("hypot", lambda a, b: a.hypot(b), [(5,), (5,)], 0.2, 2),
        ("logaddexp", lambda a, b: a.logaddexp(b), [(5,), (5,)], -2, 2),
        ("logaddexp2", lambda a, b: a.logaddexp2(b), [(5,), (5,)], -2, 2),
        ("lgamma", lambda a: a.lgamma(), [(6,)], 0.2, 5),
        ("digamma", lambda a: a.digamma(), [(6,)], 0.2, 5),
        ("polygamma", lambda a: a.polygamma(1), [(6,)], 0.2, 5),
        ("i0", lambda a: a.i0(), [(6,)], -3, 3),
        ("rot90", lambda a: a.rot90(), [(2, 3)], -2, 2),
        ("tile", lambda a: a.tile((2, 2)), [(2, 3)], -2, 2),
        ("take_along_dim", lambda a: a.take_along_dim(rtorch.tensor([[2, 0]]), 1), [(3, 3)], -2, 2),
        ("slice_scatter", lambda a, s: a.slice_scatter(s, 1, 0, 3, 2), [(3, 4), (3, 2)], -2, 2),
        ("diagonal_scatter", lambda a, s: a.diagonal_scatter(s), [(3, 3), (3,)], -2, 2),
        ("masked_scatter", lambda a, s: a.masked_scatter(a > 0, s), [(3, 3), (9,)], -2, 2),
        ("put", lambda a, s: a.put(rtorch.tensor([1, 1]), s, accumulate=True), [(2, 2), (2,)], -2, 2),
        ("scatter_reduce", lambda a, s: a.scatter_reduce(
            0, rtorch.tensor([[0, 1], [0, 0]]), s, "sum"), [(2, 2), (2, 2)], -2, 2),
        ("scatter_reduce_prod", lambda a, s: a.scatter_reduce(
            0, rtorch.tensor([[0, 1], [0, 0]]), s, "prod"), [(2, 2), (2, 2)], -2, 2),
        ("diag_embed", lambda a: a.diag_embed(1), [(2, 3)], -2, 2),
        ("diff", lambda a: a.diff(2), [(2, 5)], -2, 2),
    ],
)
def test_gradcheck(name, fn, shapes, low, high):
    _g(fn, *shapes, low=low, high=high)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: T(arr(2, 2)).kthvalue(5, 0), RuntimeError, "kthvalue"),
        (lambda: T(arr(2, 2)).quantile(2.0), RuntimeError, "quantile"),
        (lambda: T([1, 2], rtorch.int64).quantile(0.5), RuntimeError, "quantile"),
        (lambda: T([-1, 2], rtorch.int64).bincount(), RuntimeError, "bincount"),
        (lambda: T([1, 2], rtorch.int64).histc(), NotImplementedError, "histogram"),
        (lambda: T(arr(2, 2)).diff(dim=3), IndexError, "Dimension out of range"),
        (lambda: T(arr(2, 2)).cross(T(arr(2, 2))), RuntimeError, "size 3"),
        (lambda: T([True], rtorch.bool).positive(), NotImplementedError, "bool"),
        (lambda: T(arr(2)).imag, TypeError, "imag"),
        (lambda: T(np.zeros((2, 2))).inverse(), RuntimeError, "linalg.inv"),
        (lambda: T(np.ones((2, 3))).det(), RuntimeError, "linalg.det"),
        (lambda: T(arr(2, 2)).mvlgamma(3), RuntimeError, "p-1"),
        (lambda: T(arr(2, 2)).masked_scatter(T(np.ones((2, 2)), rtorch.bool), T([1.0])),
         RuntimeError, "source"),
        (lambda: T(arr(2, 2)).masked_scatter(T(arr(2, 2)), T(arr(4))), RuntimeError, "masked_scatter"),
        (lambda: T(arr(2)).heaviside(T([1], rtorch.int64)), RuntimeError, "heaviside"),
        (lambda: T(arr(2, 2)).split_with_sizes([1, 2]), RuntimeError, "split_with_sizes"),
        (lambda: T(arr(2, 2)).hsplit(3), RuntimeError, "hsplit"),
        (lambda: T(arr(2, 2)).put(T([7], rtorch.int64), T([1.0])), IndexError, "out of range"),
        (lambda: T(arr(2, 2)).index_reduce(0, T([0], rtorch.int64), T(arr(1, 2)), "sum"),
         RuntimeError, "index_reduce"),
        (lambda: T(arr(2, 2)).scatter_reduce(0, T([[0]], rtorch.int64), T(arr(2, 2)), "max"),
         RuntimeError, "reduce"),
        (lambda: T(arr(2, 2)).take_along_dim(T([[0]], rtorch.int64), 5), IndexError, "Dimension"),
        (lambda: T([1], rtorch.int64).lcm(T([1.0])), NotImplementedError, "lcm"),
        (lambda: T([1, 2], rtorch.int64).frexp(), RuntimeError, "frexp"),
        (lambda: T([1, 2], rtorch.int64).nanmean(), NotImplementedError, "nanmean"),
        (lambda: T([1, 2], rtorch.int64).logcumsumexp(0), NotImplementedError, "logcumsumexp"),
        (lambda: T(arr(3)).adjoint(), RuntimeError, "adjoint"),
        (lambda: T(arr(2, 2)).solve(T(arr(2, 2))), RuntimeError, "linalg.solve"),
        (lambda: T(arr(2, 2)).rot90(1, (0, 0)), RuntimeError, "rotation dims"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------- side by side with PyTorch

_VS_TORCH = [
    ("cummax", lambda x: x.cummax(1)),
    ("cummin", lambda x: x.cummin(0)),
    ("logcumsumexp", lambda x: x.logcumsumexp(1)),
    ("kthvalue", lambda x: x.kthvalue(2, 1, True).values),
    ("median", lambda x: x.median(0).values),
    ("median_all", lambda x: x.median()),
    ("nanmedian", lambda x: x.nanmedian(1).values),
    ("mode", lambda x: x.round().mode(1)),
    ("quantile", lambda x: x.quantile(x.new_tensor([0.2, 0.7]), dim=1, keepdim=True)),
    ("nanquantile", lambda x: x.nanquantile(0.5)),
    ("aminmax", lambda x: x.aminmax(dim=0, keepdim=True)),
    ("nanmean", lambda x: x.nanmean(1, keepdim=True)),
    ("histc", lambda x: x.histc(7)),
    ("histogram", lambda x: x.histogram(5)),
    ("diff", lambda x: x.diff(dim=0)),
    ("cov", lambda x: x.cov()),
    ("corrcoef", lambda x: x.corrcoef()),
    ("renorm", lambda x: x.renorm(1, 1, 2.0)),
    ("deg2rad", lambda x: x.deg2rad()),
    ("sinc", lambda x: x.sinc()),
    ("logit", lambda x: x.sigmoid().logit(1e-3)),
    ("xlogy", lambda x: x.xlogy(x.abs())),
    ("hypot", lambda x: x.hypot(x.flip(0))),
    ("logaddexp", lambda x: x.logaddexp(x.flip(1))),
    ("copysign", lambda x: x.copysign(x.flip(0))),
    ("lgamma", lambda x: x.lgamma()),
    ("digamma", lambda x: x.digamma()),
    ("polygamma", lambda x: x.abs().polygamma(2)),
    ("mvlgamma", lambda x: (x.abs() + 2).mvlgamma(3)),
    ("i0", lambda x: x.i0()),
    ("igamma", lambda x: x.abs().igamma(x.flip(0).abs())),
    ("igammac", lambda x: x.abs().igammac(x.flip(0).abs())),
    ("frexp", lambda x: x.frexp()),
    ("nextafter", lambda x: x.nextafter(x.flip(0))),
    ("tile", lambda x: x.tile((2, 1, 1))),
    ("rot90", lambda x: x.rot90(3, (1, 0))),
    ("tensor_split", lambda x: x.tensor_split(3, 1)),
    ("diag_embed", lambda x: x.diag_embed(-1, 0, 2)),
    ("kron", lambda x: x.kron(x[:2, :2])),
    ("det", lambda x: x[:4, :4].det()),
    ("slogdet", lambda x: x[:4, :4].slogdet()),
    ("inverse", lambda x: x[:4, :4].inverse()),
    ("qr_removed", lambda x: _raises(lambda: x.qr())),
    ("lu", lambda x: x[:4, :4].lu()),
    ("matrix_exp", lambda x: x[:3, :3].matrix_exp()),
    ("scatter_reduce_mean", lambda x: x.scatter_reduce(
        1, (x.abs() * 3).long().clamp(max=4), x.flip(0), "mean", include_self=False)),
    ("scatter_reduce_amin", lambda x: x.scatter_reduce(
        0, (x.abs() * 2).long().clamp(max=4), x, "amin")),
    ("index_reduce", lambda x: x.index_reduce(0, x.new_tensor([0, 2, 0, 1, 2]).long(), x, "prod")),
    ("unique_consecutive", lambda x: x.round().unique_consecutive(return_counts=True)),
]


def _raises(fn):
    try:
        fn()
    except RuntimeError:
        return np.array(True)
    return np.array(False)


def _to_np(value):
    if isinstance(value, (tuple, list)):
        return [_to_np(v) for v in value]
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _same(a, b):
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-8, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("name,fn", _VS_TORCH, ids=[n for n, _ in _VS_TORCH])
def test_vs_torch(name, fn, real_torch):
    data = RNG.uniform(-2, 2, (5, 5))
    data[1, 2] = data[1, 0]  # a tie
    mine = fn(rtorch.tensor(data))
    theirs = fn(real_torch.tensor(data))
    _same(_to_np(mine), _to_np(theirs))


@pytest.mark.parametrize("dtype", ["int64", "int32", "float32"])
def test_dtypes_vs_torch(dtype, real_torch):
    data = RNG.integers(0, 6, 12)
    for fn in (lambda x: x.bincount(), lambda x: x.bincount(x.float() * 0.5),
               lambda x: x.gcd(x.flip(0)), lambda x: x.lcm(x.flip(0)), lambda x: x.deg2rad(),
               lambda x: x.xlogy(2), lambda x: x.copysign(-1), lambda x: x.angle(),
               lambda x: x.aminmax(), lambda x: x.diff(), lambda x: x.heaviside(x)):
        a = rtorch.tensor(data, dtype=getattr(rtorch, dtype))
        b = real_torch.tensor(data, dtype=getattr(real_torch, dtype))
        try:
            want = fn(b)
        except Exception as e:  # the same failure type is expected
            with pytest.raises(type(e)):
                fn(a)
            continue
        _same(_to_np(fn(a)), _to_np(want))
