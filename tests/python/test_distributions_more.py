"""The further families (StudentT, Cauchy, HalfNormal, Gumbel, Weibull, Pareto, F, inverse
gamma, Kumaraswamy, negative binomial, continuous Bernoulli, von Mises, logistic-normal,
low-rank MVN) against scipy.stats: densities, moments, entropies and samples."""

import numpy as np
import pytest

import rtorch
import rtorch.distributions as D
from rtorch.autograd import gradcheck

st = pytest.importorskip("scipy.stats")
F64 = rtorch.float64
# numpy < 2 names it trapz
trapezoid = getattr(np, "trapezoid", None) or np.trapz


def t(a):
    return rtorch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)


X = np.array([0.3, 1.2, 2.5])

CASES = [
    ("StudentT", lambda: D.StudentT(t(3.0), t(0.5), t(2.0)), st.t(3, 0.5, 2.0), True),
    ("Cauchy", lambda: D.Cauchy(t(0.5), t(2.0)), st.cauchy(0.5, 2.0), True),
    ("HalfNormal", lambda: D.HalfNormal(t(1.5)), st.halfnorm(scale=1.5), True),
    ("HalfCauchy", lambda: D.HalfCauchy(t(1.5)), st.halfcauchy(scale=1.5), True),
    ("Gumbel", lambda: D.Gumbel(t(0.5), t(2.0)), st.gumbel_r(0.5, 2.0), True),
    ("Weibull", lambda: D.Weibull(t(1.5), t(2.5)), st.weibull_min(2.5, scale=1.5), True),
    ("Pareto", lambda: D.Pareto(t(0.2), t(3.0)), st.pareto(3.0, scale=0.2), True),
    ("FisherSnedecor", lambda: D.FisherSnedecor(t(5.0), t(9.0)), st.f(5, 9), False),
    ("InverseGamma", lambda: D.InverseGamma(t(3.0), t(2.0)), st.invgamma(3.0, scale=2.0), True),
]


@pytest.mark.parametrize("name,make,ref,has_entropy", CASES, ids=[c[0] for c in CASES])
def test_family_matches_scipy(name, make, ref, has_entropy):
    d = make()
    np.testing.assert_allclose(d.log_prob(t(X)).numpy(), ref.logpdf(X), rtol=1e-10, atol=1e-12)
    with np.errstate(all="ignore"):
        mean, var = ref.mean(), ref.var()
    # PyTorch's moments where they do not exist (scipy says NaN for both)
    mean, var = {"Cauchy": (np.nan, np.inf), "HalfCauchy": (np.inf, np.inf)}.get(name, (mean, var))
    np.testing.assert_allclose(d.mean.numpy(), mean, rtol=1e-10)
    np.testing.assert_allclose(d.variance.numpy(), var, rtol=1e-10)
    if has_entropy:
        np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-10)
    rtorch.manual_seed(21)
    sample = d.sample((3000,)).numpy()
    assert st.kstest(sample, ref.cdf).pvalue > 1e-3


def test_cdf_icdf_of_the_symmetric_and_folded_families():
    q = np.array([0.1, 0.5, 0.9])
    for d, ref in [(D.Cauchy(t(0.5), t(2.0)), st.cauchy(0.5, 2.0)),
                   (D.HalfNormal(t(1.5)), st.halfnorm(scale=1.5)),
                   (D.HalfCauchy(t(1.5)), st.halfcauchy(scale=1.5))]:
        np.testing.assert_allclose(d.cdf(t(X)).numpy(), ref.cdf(X), rtol=1e-10)
        np.testing.assert_allclose(d.icdf(t(q)).numpy(), ref.ppf(q), rtol=1e-10)


def test_kumaraswamy():
    a, b = 2.0, 3.0
    d = D.Kumaraswamy(t(a), t(b))
    x = np.array([0.1, 0.4, 0.8])
    dens = a * b * x ** (a - 1) * (1 - x**a) ** (b - 1)
    np.testing.assert_allclose(d.log_prob(t(x)).numpy(), np.log(dens), rtol=1e-12)
    np.testing.assert_allclose(d.cdf(t(x)).numpy(), 1 - (1 - x**a) ** b, rtol=1e-12)
    grid = np.linspace(0, 1, 200001)
    pdf = a * b * grid ** (a - 1) * (1 - grid**a) ** (b - 1)
    mean = trapezoid(grid * pdf, grid)
    var = trapezoid(grid**2 * pdf, grid) - mean**2
    safe = np.where(pdf > 0, pdf, 1.0)
    ent = -trapezoid(np.where(pdf > 0, pdf * np.log(safe), 0.0), grid)
    np.testing.assert_allclose(float(d.mean), mean, rtol=1e-6)
    np.testing.assert_allclose(float(d.variance), var, rtol=1e-5)
    np.testing.assert_allclose(float(d.entropy()), ent, rtol=1e-5)
    rtorch.manual_seed(2)
    assert st.kstest(d.sample((3000,)).numpy(), lambda v: 1 - (1 - v**a) ** b).pvalue > 1e-3


def test_negative_binomial():
    r, p = 3.0, 0.4
    d = D.NegativeBinomial(t(r), t(p))
    # rtorch counts successes (probability p) before r failures: scipy's nbinom with 1 - p
    k = np.array([0.0, 2.0, 5.0, 11.0])
    np.testing.assert_allclose(d.log_prob(t(k)).numpy(), st.nbinom(r, 1 - p).logpmf(k), rtol=1e-12)
    np.testing.assert_allclose(float(d.mean), st.nbinom(r, 1 - p).mean(), rtol=1e-12)
    np.testing.assert_allclose(float(d.variance), st.nbinom(r, 1 - p).var(), rtol=1e-12)
    rtorch.manual_seed(4)
    s = d.sample((4000,)).numpy()
    assert abs(s.mean() - 2.0) < 0.15 and abs(s.var() - 10 / 3) < 0.5


def test_continuous_bernoulli():
    lam = np.array([0.2, 0.5, 0.7, 0.5004])
    d = D.ContinuousBernoulli(t(lam))
    x = np.array([0.3, 0.3, 0.9, 0.6])
    eta = np.log(lam / (1 - lam))
    with np.errstate(all="ignore"):
        logz = np.where(np.abs(eta) > 1e-8, np.log(np.expm1(eta) / eta), 0.0)
    np.testing.assert_allclose(d.log_prob(t(x)).numpy(), eta * x - logz, rtol=1e-9, atol=1e-12)
    grid = np.linspace(0, 1, 100001)
    for i in range(len(lam)):
        pdf = np.exp(eta[i] * grid - logz[i])
        mean = trapezoid(grid * pdf, grid)
        np.testing.assert_allclose(float(d.mean[i]), mean, rtol=1e-7)
        np.testing.assert_allclose(float(d.variance[i]), trapezoid(grid**2 * pdf, grid) - mean**2, rtol=1e-6)
        np.testing.assert_allclose(float(d.entropy()[i]), -trapezoid(pdf * np.log(pdf), grid), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(d.icdf(d.cdf(t(x))).numpy(), x, rtol=1e-9)
    rtorch.manual_seed(8)
    s = d.sample((4000,)).numpy()
    np.testing.assert_allclose(s.mean(0), d.mean.numpy(), atol=0.02)


def test_von_mises():
    d = D.VonMises(t(0.5), t(2.0))
    np.testing.assert_allclose(d.log_prob(t(X)).numpy(), st.vonmises(2.0, loc=0.5).logpdf(X), rtol=1e-10)
    rtorch.manual_seed(13)
    s = d.sample((4000,)).numpy()
    assert (s >= -np.pi).all() and (s < np.pi).all()
    assert st.kstest(s, st.vonmises(2.0, loc=0.5).cdf).pvalue > 1e-3
    from scipy.special import i0, i1
    np.testing.assert_allclose(float(d.variance), 1 - i1(2.0) / i0(2.0), rtol=1e-10)


def test_logistic_normal_and_low_rank_mvn():
    ln = D.LogisticNormal(t([0.1, 0.2]), t([1.0, 0.5]))
    rtorch.manual_seed(0)
    s = ln.sample((5,))
    assert s.shape == (5, 3)
    np.testing.assert_allclose(s.sum(-1).numpy(), 1.0, rtol=1e-12)
    # density: normal density of the stick-breaking preimage times the Jacobian
    y = s[0]
    x = D.StickBreakingTransform().inv(y)
    base = st.norm([0.1, 0.2], [1.0, 0.5]).logpdf(x.numpy()).sum()
    ladj = float(D.StickBreakingTransform().log_abs_det_jacobian(x, y))
    np.testing.assert_allclose(float(ln.log_prob(y)), base - ladj, rtol=1e-10)

    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 2))
    diag = np.array([1.0, 2.0, 0.5, 1.0])
    loc = rng.normal(size=4)
    lr = D.LowRankMultivariateNormal(t(loc), t(w), t(diag))
    cov = w @ w.T + np.diag(diag)
    xv = rng.normal(size=(3, 4))
    ref = st.multivariate_normal(loc, cov)
    np.testing.assert_allclose(lr.log_prob(t(xv)).numpy(), ref.logpdf(xv), rtol=1e-10)
    np.testing.assert_allclose(float(lr.entropy()), ref.entropy(), rtol=1e-10)
    np.testing.assert_allclose(lr.covariance_matrix.numpy(), cov, rtol=1e-12)
    np.testing.assert_allclose(lr.variance.numpy(), np.diag(cov), rtol=1e-12)
    np.testing.assert_allclose(lr.precision_matrix.numpy(), np.linalg.inv(cov), rtol=1e-8)
    rtorch.manual_seed(1)
    samples = lr.sample((4000,)).numpy()
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.25)


def test_more_rsample_gradcheck():
    def seeded(fn):
        def wrapped(*args):
            rtorch.manual_seed(3)
            return fn(*args)

        return wrapped

    a = t([0.7, 1.9]).requires_grad_()
    b = t([1.3, 0.6]).requires_grad_()
    for make in (lambda x, y: D.Cauchy(x, y).rsample((2,)),
                 lambda x, y: D.Gumbel(x, y).rsample((2,)),
                 lambda x, y: D.HalfNormal(y).rsample((2,)),
                 lambda x, y: D.Weibull(x, y).rsample((2,)),
                 lambda x, y: D.Pareto(x, y).rsample((2,)),
                 lambda x, y: D.Kumaraswamy(x, y).rsample((2,)),
                 lambda x, y: D.ContinuousBernoulli(logits=x - 1).rsample((2,)),
                 lambda x, y: D.LowRankMultivariateNormal(x, y.reshape(2, 1), x + y).rsample((2,))):
        assert gradcheck(seeded(make), (a, b))


@pytest.mark.parametrize("xi", [0.3, 0.0, -0.25])
def test_generalized_pareto(xi):
    d = D.GeneralizedPareto(t(1.0), t(2.0), t(xi))
    ref = st.genpareto(xi, loc=1.0, scale=2.0)
    x = np.array([1.2, 2.0, 5.0])
    np.testing.assert_allclose(d.log_prob(t(x)).numpy(), ref.logpdf(x), rtol=1e-10)
    np.testing.assert_allclose(d.cdf(t(x)).numpy(), ref.cdf(x), rtol=1e-10)
    q = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(d.icdf(t(q)).numpy(), ref.ppf(q), rtol=1e-10)
    np.testing.assert_allclose(float(d.mean), ref.mean(), rtol=1e-10)
    np.testing.assert_allclose(float(d.variance), ref.var(), rtol=1e-10)
    np.testing.assert_allclose(float(d.entropy()), ref.entropy(), rtol=1e-10)
    rtorch.manual_seed(6)
    assert st.kstest(d.sample((3000,)).numpy(), ref.cdf).pvalue > 1e-3
    outside = D.GeneralizedPareto(t(1.0), t(2.0), t(xi), validate_args=False).log_prob(t([0.5]))
    assert float(outside) == -np.inf
    scale = t([2.0]).requires_grad_()
    conc = t([xi + 0.01]).requires_grad_()

    def draw(s, c):
        rtorch.manual_seed(0)
        return D.GeneralizedPareto(t(1.0), s, c).rsample((3,))

    assert gradcheck(draw, (scale, conc))


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_wishart(param):
    cov = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.5]])
    given = {"covariance_matrix": cov, "precision_matrix": np.linalg.inv(cov),
             "scale_tril": np.linalg.cholesky(cov)}[param]
    w = D.Wishart(t(5.0), **{param: t(given)})
    ref = st.wishart(5.0, cov)
    x = ref.rvs(3, random_state=0)
    np.testing.assert_allclose(w.log_prob(t(x)).numpy(), ref.logpdf(np.moveaxis(x, 0, -1)), rtol=1e-10)
    np.testing.assert_allclose(float(w.entropy()), ref.entropy(), rtol=1e-10)
    np.testing.assert_allclose(w.mean.numpy(), 5 * cov, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.mode.numpy(), cov, rtol=1e-10, atol=1e-12)
    rtorch.manual_seed(0)
    s = w.sample((4000,)).numpy()
    np.testing.assert_allclose(s.mean(0), 5 * cov, atol=0.15)
    np.testing.assert_allclose(s.var(0), w.variance.numpy(), rtol=0.1, atol=0.05)
    assert w.sample((2,)).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="Expected parameter df"):
        D.Wishart(t(1.0), covariance_matrix=t(cov))


def test_wishart_rsample_gradient_flows():
    df = t(6.0).requires_grad_()
    rtorch.manual_seed(2)
    # E[X] = df * Sigma: the gradient of the mean trace w.r.t. df is tr(Sigma) = 3
    D.Wishart(df, covariance_matrix=rtorch.eye(3, dtype=F64)).rsample((2000,)).diagonal(0, -2, -1).sum(-1).mean().backward()
    assert abs(float(df.grad) - 3.0) < 0.15


@pytest.mark.parametrize("eta,dim", [(1.0, 3), (2.5, 3), (0.6, 4)])
def test_lkj_cholesky(eta, dim):
    lkj = D.LKJCholesky(dim, t(eta))
    rtorch.manual_seed(0)
    s = lkj.sample((3000,))
    assert s.shape == (3000, dim, dim)
    assert bool(D.constraints.corr_cholesky.check(s).all())
    # every off-diagonal correlation is Beta(eta - 1 + d/2, same) on (-1, 1)
    a = eta - 1 + dim / 2
    for i, j in [(1, 0), (dim - 1, 0), (dim - 1, dim - 2)]:
        corr = (s[:, i, :] * s[:, j, :]).sum(-1).numpy()
        assert st.kstest((corr + 1) / 2, st.beta(a, a).cdf).pvalue > 1e-3
    if dim == 3:
        # the density integrates to one over the free entries (Monte Carlo over a cube)
        rng = np.random.default_rng(0)
        n = 200000
        u = rng.uniform(-1, 1, (n, 3))
        ok = u[:, 1] ** 2 + u[:, 2] ** 2 < 1
        u = u[ok]
        low = np.zeros((len(u), 3, 3))
        low[:, 0, 0] = 1
        low[:, 1, 0], low[:, 1, 1] = u[:, 0], np.sqrt(1 - u[:, 0] ** 2)
        low[:, 2, 0], low[:, 2, 1] = u[:, 1], u[:, 2]
        low[:, 2, 2] = np.sqrt(1 - u[:, 1] ** 2 - u[:, 2] ** 2)
        total = 8 * np.exp(lkj.log_prob(t(low)).numpy()).sum() / n
        assert abs(total - 1) < 0.02


def test_lkj_cholesky_matches_torch():
    torch = pytest.importorskip("torch")
    rtorch.manual_seed(1)
    value = D.LKJCholesky(4, t(1.7)).sample((5,))
    ours = D.LKJCholesky(4, t(1.7)).log_prob(value).numpy()
    theirs = torch.distributions.LKJCholesky(4, torch.tensor(1.7, dtype=torch.float64)).log_prob(
        torch.tensor(value.numpy())).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
