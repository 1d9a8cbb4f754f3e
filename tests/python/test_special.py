"""rtorch.special against scipy.special: values over wide ranges and edge points in float64
and float32, gradients by finite differences, PyTorch side by side when installed."""

import math

import numpy as np
import pytest

import rtorch
import rtorch.special as S
from rtorch.autograd import gradcheck

ss = pytest.importorskip("scipy.special")

WIDE = np.concatenate([np.linspace(-40, 40, 161), [-1e-8, 0.0, 1e-8, 0.5, 1.0, 2.5, 14.9, 15.1]])
POS = np.concatenate([np.geomspace(1e-6, 60, 80), [0.5, 1.0, 14.9, 15.1]])
EDGE = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])

# name, scipy reference, argument grid, relative tolerance, absolute tolerance (float64)
UNARY = [
    ("erf", ss.erf, WIDE, 1e-12, 1e-15),
    ("erfc", ss.erfc, np.linspace(-6, 20, 100), 1e-10, 1e-300),
    ("erfinv", ss.erfinv, np.linspace(-0.999, 0.999, 101), 1e-10, 1e-12),
    ("erfcx", ss.erfcx, WIDE[np.abs(WIDE) < 25], 1e-12, 0),
    ("expit", ss.expit, WIDE, 1e-12, 1e-300),
    ("logit", ss.logit, np.linspace(0.001, 0.999, 77), 1e-10, 1e-12),
    ("gammaln", ss.gammaln, np.concatenate([POS, -POS[POS < 30] - 0.5]), 1e-9, 1e-9),
    ("digamma", ss.digamma, np.concatenate([POS, -POS[POS < 30] - 0.5]), 1e-9, 1e-9),
    ("psi", ss.psi, POS, 1e-9, 1e-9),
    ("i0", ss.i0, WIDE, 1e-12, 0),
    ("i0e", ss.i0e, WIDE, 1e-12, 0),
    ("i1", ss.i1, WIDE, 1e-12, 0),
    ("i1e", ss.i1e, WIDE, 1e-12, 0),
    ("modified_bessel_i0", ss.i0, WIDE, 1e-12, 0),
    ("modified_bessel_i1", ss.i1, WIDE, 1e-12, 0),
    ("ndtr", ss.ndtr, WIDE, 1e-11, 1e-300),
    ("log_ndtr", ss.log_ndtr, np.concatenate([WIDE, [-100.0, -1e3, 1e3]]), 1e-11, 1e-300),
    ("ndtri", ss.ndtri, np.concatenate([np.geomspace(1e-300, 0.5, 60), [0.7, 0.9, 0.999999]]), 1e-10, 0),
    ("sinc", np.sinc, WIDE, 1e-12, 1e-15),
    ("entr", ss.entr, np.concatenate([POS, [-1.0, 0.0]]), 1e-12, 0),
    ("bessel_j0", ss.j0, WIDE, 0, 1e-9),
    ("bessel_j1", ss.j1, WIDE, 0, 1e-9),
    ("bessel_y0", ss.y0, POS, 1e-9, 1e-9),
    ("bessel_y1", ss.y1, POS, 1e-9, 1e-9),
    ("spherical_bessel_j0", lambda v: ss.spherical_jn(0, v), WIDE, 1e-12, 1e-15),
    ("modified_bessel_k0", ss.k0, POS, 1e-12, 0),
    ("modified_bessel_k1", ss.k1, POS, 1e-12, 0),
    ("scaled_modified_bessel_k0", ss.k0e, np.concatenate([POS, [300.0, 700.0]]), 1e-12, 0),
    ("scaled_modified_bessel_k1", ss.k1e, np.concatenate([POS, [300.0, 700.0]]), 1e-12, 0),
    ("airy_ai", lambda v: ss.airy(v)[0], np.linspace(-30, 10, 161), 0, 1e-11),
    ("expm1", np.expm1, WIDE, 1e-12, 0),
    ("log1p", np.log1p, POS, 1e-12, 0),
    ("exp2", np.exp2, WIDE, 1e-12, 0),
]


@pytest.mark.parametrize("name,ref,grid,rtol,atol", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float64_matches_scipy(name, ref, grid, rtol, atol):
    got = getattr(S, name)(rtorch.tensor(grid, dtype=rtorch.float64))
    assert got.dtype == rtorch.float64
    with np.errstate(all="ignore"):
        want = ref(grid)
    np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name,ref,grid,rtol,atol", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float32(name, ref, grid, rtol, atol):
    x32 = grid.astype(np.float32)
    got = getattr(S, name)(rtorch.tensor(x32))
    assert got.dtype == rtorch.float32
    with np.errstate(all="ignore"):
        want = ref(x32.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=max(atol, 1e-6))


INF, NAN = math.inf, math.nan
# PyTorch's results at (0, -0, inf, -inf, nan); its Bessel kernels give NaN at +-inf.
EDGE_EXPECTED = {
    "erf": [0.0, -0.0, 1.0, -1.0, NAN],
    "erfc": [1.0, 1.0, 0.0, 2.0, NAN],
    "erfcx": [1.0, 1.0, 0.0, INF, NAN],
    "expit": [0.5, 0.5, 1.0, 0.0, NAN],
    "i0": [1.0, 1.0, NAN, NAN, NAN],
    "i0e": [1.0, 1.0, 0.0, 0.0, NAN],
    "i1": [0.0, 0.0, NAN, NAN, NAN],
    "i1e": [0.0, 0.0, 0.0, 0.0, NAN],
    "ndtr": [0.5, 0.5, 1.0, 0.0, NAN],
    "log_ndtr": [-math.log(2), -math.log(2), 0.0, -INF, NAN],
    "bessel_j0": [1.0, 1.0, NAN, NAN, NAN],
    "bessel_j1": [0.0, 0.0, NAN, NAN, NAN],
    "bessel_y0": [-INF, -INF, NAN, NAN, NAN],
    "bessel_y1": [-INF, -INF, NAN, NAN, NAN],
    "entr": [0.0, 0.0, -INF, -INF, NAN],
    "sinc": [1.0, 1.0, NAN, NAN, NAN],
    "spherical_bessel_j0": [1.0, 1.0, 0.0, 0.0, NAN],
    "ndtri": [-INF, -INF, NAN, NAN, NAN],
    "modified_bessel_k0": [INF, INF, 0.0, NAN, NAN],
    "scaled_modified_bessel_k1": [INF, INF, 0.0, NAN, NAN],
    "airy_ai": [0.355028053887817239, 0.355028053887817239, NAN, NAN, NAN],
}


@pytest.mark.parametrize("name", sorted(EDGE_EXPECTED))
def test_edge_values(name):
    got = getattr(S, name)(rtorch.tensor(EDGE, dtype=rtorch.float64)).numpy()
    np.testing.assert_array_equal(got, np.array(EDGE_EXPECTED[name]))


def test_ndtri_endpoints_and_domain():
    got = S.ndtri(rtorch.tensor([0.0, 1.0, 0.5, -0.1, 1.1, math.nan], dtype=rtorch.float64))
    assert got.tolist()[:3] == [-math.inf, math.inf, 0.0]
    assert all(math.isnan(v) for v in got.tolist()[3:])


def test_binary_functions_match_scipy():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 50)
    y = rng.uniform(-0.9, 5, 50)
    x[:5] = 0.0
    t = lambda a: rtorch.tensor(a, dtype=rtorch.float64)  # noqa: E731
    np.testing.assert_allclose(S.xlogy(t(x), t(np.abs(y))).numpy(), ss.xlogy(x, np.abs(y)), rtol=1e-12)
    np.testing.assert_allclose(S.xlog1py(t(x), t(y)).numpy(), ss.xlog1py(x, y), rtol=1e-12)
    a = rng.uniform(0.1, 20, 50)
    z = rng.uniform(0, 30, 50)
    np.testing.assert_allclose(S.gammainc(t(a), t(z)).numpy(), ss.gammainc(a, z), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(S.gammaincc(t(a), t(z)).numpy(), ss.gammaincc(a, z), rtol=1e-9, atol=1e-12)
    s = rng.uniform(1.05, 12, 50)
    q = rng.uniform(0.01, 10, 50)
    np.testing.assert_allclose(S.zeta(t(s), t(q)).numpy(), ss.zeta(s, q), rtol=1e-10)
    # poles and the domain edges
    edge = S.zeta(t([1.0, 0.5, 2.0, 2.0, 3.0]), t([1.0, 1.0, 0.0, -2.0, -2.5])).numpy()
    with np.errstate(all="ignore"):
        want = ss.zeta([1.0, 0.5, 2.0, 2.0, 3.0], [1.0, 1.0, 0.0, -2.0, -2.5])
    np.testing.assert_allclose(edge, want, rtol=1e-10)
    # a scalar on either side
    np.testing.assert_allclose(S.zeta(2.0, t(q)).numpy(), ss.zeta(2.0, q), rtol=1e-10)


def test_polygamma_multigammaln():
    x = np.linspace(0.3, 12, 40)
    t = rtorch.tensor(x, dtype=rtorch.float64)
    for n in (1, 2, 3):
        np.testing.assert_allclose(S.polygamma(n, t).numpy(), ss.polygamma(n, x), rtol=1e-8)
    np.testing.assert_allclose(S.multigammaln(t + 2, 3).numpy(), ss.multigammaln(x + 2, 3), rtol=1e-9)


def test_reductions_and_round():
    x = rtorch.randn(4, 5, dtype=rtorch.float64)
    xn = x.numpy()
    np.testing.assert_allclose(S.logsumexp(x, 1).numpy(), ss.logsumexp(xn, 1), rtol=1e-12)
    np.testing.assert_allclose(S.softmax(x, 0).numpy(), ss.softmax(xn, 0), rtol=1e-12)
    np.testing.assert_allclose(S.log_softmax(x, -1).numpy(), ss.log_softmax(xn, -1), rtol=1e-12)
    assert S.softmax(x.float(), 1, dtype=rtorch.float64).dtype == rtorch.float64
    assert S.round(rtorch.tensor([1.26, -2.5, 3.5]), decimals=1).tolist() == pytest.approx([1.3, -2.5, 3.5])
    assert S.round(rtorch.tensor([2.5, 3.5])).tolist() == [2.0, 4.0]


POLYS = [
    ("chebyshev_polynomial_t", ss.eval_chebyt, np.linspace(-1.2, 1.2, 13)),
    ("chebyshev_polynomial_u", ss.eval_chebyu, np.linspace(-1.2, 1.2, 13)),
    ("hermite_polynomial_h", ss.eval_hermite, np.linspace(-3, 3, 13)),
    ("hermite_polynomial_he", ss.eval_hermitenorm, np.linspace(-3, 3, 13)),
    ("laguerre_polynomial_l", ss.eval_laguerre, np.linspace(0, 6, 13)),
    ("legendre_polynomial_p", ss.eval_legendre, np.linspace(-1, 1, 13)),
    ("shifted_chebyshev_polynomial_t", ss.eval_sh_chebyt, np.linspace(0, 1, 13)),
    ("shifted_chebyshev_polynomial_u", ss.eval_sh_chebyu, np.linspace(0, 1, 13)),
]


@pytest.mark.parametrize("name,ref,grid", POLYS, ids=[p[0] for p in POLYS])
def test_polynomials(name, ref, grid):
    fn = getattr(S, name)
    x = rtorch.tensor(grid, dtype=rtorch.float64)
    for n in (0, 1, 2, 5, 9):
        np.testing.assert_allclose(fn(x, n).numpy(), ref(n, grid), rtol=1e-10, atol=1e-10)
    # tensor degrees broadcast against x; negative degrees give 0
    degrees = np.arange(len(grid)) - 1
    got = fn(x, rtorch.tensor(degrees)).numpy()
    want = np.where(degrees < 0, 0.0, ref(np.maximum(degrees, 0), grid))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_chebyshev_v_w():
    x = np.linspace(-1, 1, 9)
    t = rtorch.tensor(x, dtype=rtorch.float64)
    theta = np.arccos(np.clip(x, -1 + 1e-12, 1 - 1e-12))
    n = 4
    v = np.cos((n + 0.5) * theta) / np.cos(theta / 2)
    w = np.sin((n + 0.5) * theta) / np.sin(theta / 2)
    np.testing.assert_allclose(S.chebyshev_polynomial_v(t, n).numpy(), v, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(S.chebyshev_polynomial_w(t, n).numpy(), w, rtol=1e-6, atol=1e-6)


GRAD_POINTS = [0.3, 1.7, -2.2, 16.5, -19.5]
GRAD_POS = [0.3, 1.7, 2.2, 16.5, 20.0]
GRADS = ["i0", "i0e", "i1", "i1e", "bessel_j0", "bessel_j1", "ndtr", "log_ndtr", "erfcx",
         "gammaln", "digamma", "erf", "erfc", "expit", "sinc", "expm1", "exp2"]


@pytest.mark.parametrize("name", GRADS)
def test_gradcheck(name):
    x = rtorch.tensor(GRAD_POINTS, dtype=rtorch.float64, requires_grad=True)
    assert gradcheck(getattr(S, name), (x,))


@pytest.mark.parametrize("name", ["bessel_y0", "bessel_y1", "entr", "log1p", "modified_bessel_k0",
                                  "modified_bessel_k1"])
def test_gradcheck_positive(name):
    x = rtorch.tensor(GRAD_POS, dtype=rtorch.float64, requires_grad=True)
    assert gradcheck(getattr(S, name), (x,))


def test_gradcheck_binary_and_quantiles():
    p = rtorch.tensor([1e-4, 0.01, 0.3, 0.9], dtype=rtorch.float64, requires_grad=True)
    assert gradcheck(S.ndtri, (p,))
    assert gradcheck(S.logit, (p,))
    x = rtorch.tensor(GRAD_POINTS, dtype=rtorch.float64, requires_grad=True)
    y = rtorch.tensor(GRAD_POS, dtype=rtorch.float64, requires_grad=True)
    assert gradcheck(S.xlog1py, (x, y))
    assert gradcheck(S.xlogy, (x, y))
    s = rtorch.tensor(2.5, dtype=rtorch.float64)
    assert gradcheck(lambda q: S.zeta(s, q), (y,))
    assert gradcheck(lambda z: S.gammainc(s, z), (y,))
    assert gradcheck(lambda z: S.gammaincc(s, z), (y,))
    assert gradcheck(lambda z: S.polygamma(2, z), (y,))
    assert gradcheck(lambda z: S.multigammaln(z + 1, 3), (y,))


def test_second_derivative_through_closed_form_gradients():
    x = rtorch.tensor([0.7, 2.0], dtype=rtorch.float64, requires_grad=True)
    (g,) = rtorch.autograd.grad(S.i0(x).sum(), x, create_graph=True)
    (h,) = rtorch.autograd.grad(g.sum(), x)
    # I0'' = I0 - I1 / x
    np.testing.assert_allclose(h.numpy(), ss.i0([0.7, 2.0]) - ss.i1([0.7, 2.0]) / np.array([0.7, 2.0]), rtol=1e-9)


def test_undefined_derivatives_raise():
    s = rtorch.tensor([2.0], dtype=rtorch.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="zeta"):
        S.zeta(s, rtorch.tensor([1.0], dtype=rtorch.float64)).sum().backward()
    with pytest.raises(NotImplementedError, match="igamma: input"):
        S.gammainc(s, rtorch.tensor([1.0], dtype=rtorch.float64)).sum().backward()


def test_integer_inputs_and_out():
    assert S.i0(rtorch.tensor([1, 2])).dtype == rtorch.float32
    assert S.ndtr(rtorch.tensor([0])).tolist() == [0.5]
    out = rtorch.empty(3, dtype=rtorch.float64)
    res = S.erfcx(rtorch.tensor([0.0, 1.0, 2.0], dtype=rtorch.float64), out=out)
    assert res is out
    np.testing.assert_allclose(out.numpy(), ss.erfcx([0.0, 1.0, 2.0]), rtol=1e-13)


def test_side_by_side_with_torch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-8, 8, 41)
    for name in ["i0e", "i1", "ndtr", "log_ndtr", "erfcx", "bessel_j0", "bessel_j1", "entr", "sinc",
                 "modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai"]:
        ours = getattr(S, name)(rtorch.tensor(x, dtype=rtorch.float64)).numpy()
        theirs = getattr(torch.special, name)(torch.tensor(x, dtype=torch.float64)).numpy()
        # PyTorch's Bessel J and Airy kernels agree with scipy only to ~5e-7 (ours to ~1e-10).
        tol = 1e-6 if name.startswith(("bessel", "airy")) else 1e-9
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, err_msg=name)
    for name in S.__all__:
        assert hasattr(torch.special, name), name
    for name, values in EDGE_EXPECTED.items():
        theirs = getattr(torch.special, name)(torch.tensor(EDGE, dtype=torch.float64)).numpy()
        np.testing.assert_array_equal(theirs, np.array(values), err_msg=name)
