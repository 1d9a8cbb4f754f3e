"""Sampling: moments and Kolmogorov-Smirnov / chi-square goodness of fit with fixed seeds,
reproducibility under manual_seed, and reparameterised gradients (gradcheck and implicit
gamma gradients against scipy)."""

import numpy as np
import pytest

import rtorch
import rtorch.distributions as D
from rtorch.autograd import gradcheck

st = pytest.importorskip("scipy.stats")
sp = pytest.importorskip("scipy.special")

F64 = rtorch.float64
N = 4000


def t(a):
    return rtorch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)


CONTINUOUS = [
    ("Normal", lambda: D.Normal(t(1.5), t(2.0)), st.norm(1.5, 2.0)),
    ("LogNormal", lambda: D.LogNormal(t(0.3), t(0.5)), st.lognorm(0.5, scale=np.exp(0.3))),
    ("Laplace", lambda: D.Laplace(t(-1.0), t(0.7)), st.laplace(-1.0, 0.7)),
    ("Uniform", lambda: D.Uniform(t(-2.0), t(3.0)), st.uniform(-2.0, 5.0)),
    ("Exponential", lambda: D.Exponential(t(2.5)), st.expon(scale=0.4)),
    ("Gamma small", lambda: D.Gamma(t(0.3), t(2.0)), st.gamma(0.3, scale=0.5)),
    ("Gamma", lambda: D.Gamma(t(4.0), t(0.5)), st.gamma(4.0, scale=2.0)),
    ("Chi2", lambda: D.Chi2(t(3.0)), st.chi2(3.0)),
    ("Beta", lambda: D.Beta(t(0.8), t(2.5)), st.beta(0.8, 2.5)),
]


@pytest.mark.parametrize("name,make,ref", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_samples_fit(name, make, ref):
    rtorch.manual_seed(7)
    x = make().sample((N,)).numpy()
    assert x.shape == (N,)
    assert st.kstest(x, ref.cdf).pvalue > 1e-3
    assert abs(x.mean() - ref.mean()) < 5 * ref.std() / np.sqrt(N)


def _chi_square_ok(samples, pmf, support):
    counts = np.array([(samples == k).sum() for k in support], dtype=float)
    expected = pmf(np.asarray(support)) * len(samples)
    keep = expected > 5
    observed = counts[keep]
    exp = expected[keep]
    # lump the tail so the totals agree
    observed = np.append(observed, len(samples) - observed.sum())
    exp = np.append(exp, len(samples) - exp.sum())
    mask = exp > 1e-9
    return st.chisquare(observed[mask], exp[mask] * observed[mask].sum() / exp[mask].sum()).pvalue > 1e-3


DISCRETE = [
    ("Bernoulli", lambda: D.Bernoulli(t(0.3)), st.bernoulli(0.3).pmf, range(2)),
    ("Geometric", lambda: D.Geometric(t(0.35)), lambda k: st.geom(0.35).pmf(k + 1), range(20)),
    ("Poisson small", lambda: D.Poisson(t(3.5)), st.poisson(3.5).pmf, range(20)),
    ("Poisson large", lambda: D.Poisson(t(60.0)), st.poisson(60.0).pmf, range(20, 110)),
    ("Binomial small", lambda: D.Binomial(8, t(0.3)), st.binom(8, 0.3).pmf, range(9)),
    ("Binomial large", lambda: D.Binomial(200, t(0.7)), st.binom(200, 0.7).pmf, range(100, 180)),
    ("Categorical", lambda: D.Categorical(t([0.1, 0.2, 0.3, 0.4])), lambda k: np.array([0.1, 0.2, 0.3, 0.4])[k], range(4)),
]


@pytest.mark.parametrize("name,make,pmf,support", DISCRETE, ids=[d[0] for d in DISCRETE])
def test_discrete_samples_fit(name, make, pmf, support):
    rtorch.manual_seed(11)
    x = make().sample((N,)).numpy()
    assert _chi_square_ok(x, pmf, support)


def test_multivariate_samples_moments():
    rtorch.manual_seed(3)
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    loc = np.array([1.0, -2.0, 0.5])
    x = D.MultivariateNormal(t(loc), covariance_matrix=t(cov)).sample((N,)).numpy()
    np.testing.assert_allclose(x.mean(0), loc, atol=0.08)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.12)

    alpha = np.array([0.5, 2.0, 4.0])
    d = D.Dirichlet(t(alpha)).sample((N,)).numpy()
    np.testing.assert_allclose(d.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(d.mean(0), alpha / alpha.sum(), atol=0.01)
    assert st.kstest(d[:, 0], st.beta(0.5, 6.0).cdf).pvalue > 1e-3

    p = np.array([0.2, 0.5, 0.3])
    m = D.Multinomial(10, t(p)).sample((N,)).numpy()
    assert (m.sum(-1) == 10).all()
    np.testing.assert_allclose(m.mean(0), 10 * p, atol=0.1)
    oh = D.OneHotCategorical(t(p)).sample((N,)).numpy()
    assert (oh.sum(-1) == 1).all()
    np.testing.assert_allclose(oh.mean(0), p, atol=0.03)


def test_sample_shapes():
    rtorch.manual_seed(0)
    n = D.Normal(rtorch.zeros(2, 3), rtorch.ones(2, 3))
    assert n.sample().shape == (2, 3)
    assert n.sample((4, 5)).shape == (4, 5, 2, 3)
    assert n.rsample(rtorch.Size([4])).shape == (4, 2, 3)
    cat = D.Categorical(logits=rtorch.zeros(2, 5))
    s = cat.sample((7,))
    assert s.shape == (7, 2) and s.dtype == rtorch.int64
    assert D.Poisson(rtorch.ones(3)).sample((2,)).shape == (2, 3)
    assert D.Binomial(rtorch.tensor([5.0, 500.0]), rtorch.tensor([0.2, 0.9])).sample((3,)).shape == (3, 2)
    assert D.Dirichlet(rtorch.ones(2, 4)).sample((3,)).shape == (3, 2, 4)
    assert D.MultivariateNormal(rtorch.zeros(2, 3), rtorch.eye(3)).sample((5,)).shape == (5, 2, 3)
    assert D.RelaxedOneHotCategorical(rtorch.tensor(0.5), logits=rtorch.zeros(2, 4)).rsample((3,)).shape == (3, 2, 4)
    assert D.Multinomial(4, rtorch.ones(2, 3)).sample((6,)).shape == (6, 2, 3)


def test_manual_seed_reproduces_samples():
    for make in (lambda: D.Gamma(rtorch.tensor([0.5, 3.0]), rtorch.tensor(1.0)),
                 lambda: D.Poisson(rtorch.tensor([2.0, 40.0])),
                 lambda: D.Binomial(100, rtorch.tensor([0.3, 0.8])),
                 lambda: D.Categorical(logits=rtorch.zeros(4))):
        rtorch.manual_seed(42)
        a = make().sample((50,))
        rtorch.manual_seed(42)
        b = make().sample((50,))
        assert rtorch.equal(a, b)


def _seeded(fn):
    def wrapped(*args):
        rtorch.manual_seed(5)
        return fn(*args)

    return wrapped


@pytest.mark.parametrize("make", [
    lambda loc, scale: D.Normal(loc, scale).rsample((3,)),
    lambda loc, scale: D.LogNormal(loc, scale).rsample((3,)),
    lambda loc, scale: D.Laplace(loc, scale).rsample((3,)),
    lambda loc, scale: D.Uniform(loc, loc + scale).rsample((3,)),
    lambda loc, scale: D.Exponential(scale).rsample((3,)),
    lambda loc, scale: D.RelaxedBernoulli(scale, logits=loc).rsample((3,)),
    lambda loc, scale: D.RelaxedOneHotCategorical(scale[0], logits=loc).rsample((3,)),
    lambda loc, scale: D.MultivariateNormal(loc, scale_tril=rtorch.diag(scale) + 0.1 * rtorch.ones(2, 2).tril(-1)).rsample((3,)),
], ids=["Normal", "LogNormal", "Laplace", "Uniform", "Exponential", "RelaxedBernoulli",
        "RelaxedOneHotCategorical", "MultivariateNormal"])
def test_rsample_gradcheck(make):
    loc = rtorch.tensor([0.3, -0.8], dtype=F64, requires_grad=True)
    scale = rtorch.tensor([0.9, 1.7], dtype=F64, requires_grad=True)
    assert gradcheck(_seeded(make), (loc, scale))


def test_gamma_rsample_implicit_gradient_matches_cdf_derivative():
    rtorch.manual_seed(9)
    a = rtorch.tensor([0.2, 0.9, 3.0, 25.0], dtype=F64, requires_grad=True)
    x = D.Gamma(a, rtorch.ones(4, dtype=F64)).rsample()
    (g,) = rtorch.autograd.grad(x.sum(), a)
    xs, an = x.detach().numpy(), a.detach().numpy()
    h = 1e-6 * an
    dcdf = (sp.gammainc(an + h, xs) - sp.gammainc(an - h, xs)) / (2 * h)
    np.testing.assert_allclose(g.numpy(), -dcdf / st.gamma(an).pdf(xs), rtol=1e-4)


def test_gamma_beta_dirichlet_rsample_gradients_are_unbiased():
    # d/da E[x] for Gamma(a, b) is 1/b; for Beta(a, b) it is b / (a + b)^2.
    rtorch.manual_seed(1)
    a = rtorch.tensor(2.0, dtype=F64, requires_grad=True)
    rate = rtorch.tensor(3.0, dtype=F64, requires_grad=True)
    D.Gamma(a, rate).rsample((N,)).mean().backward()
    assert abs(float(a.grad) - 1 / 3) < 0.02
    assert abs(float(rate.grad) - (-2 / 9)) < 0.02
    c1 = rtorch.tensor(1.5, dtype=F64, requires_grad=True)
    c0 = rtorch.tensor(2.5, dtype=F64, requires_grad=True)
    D.Beta(c1, c0).rsample((N,)).mean().backward()
    assert abs(float(c1.grad) - 2.5 / 16) < 0.01
    assert abs(float(c0.grad) + 1.5 / 16) < 0.01
    conc = rtorch.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True)
    D.Dirichlet(conc).rsample((N,))[:, 0].mean().backward()
    # E[x_0] = c_0 / sum(c): gradient (s - c_0) / s^2 and -c_0 / s^2
    np.testing.assert_allclose(conc.grad.numpy(), [5 / 36, -1 / 36, -1 / 36], atol=0.01)


def test_sample_has_no_graph_and_rsample_flags():
    loc = rtorch.zeros(2, requires_grad=True)
    n = D.Normal(loc, 1.0)
    assert not n.sample().requires_grad
    assert n.rsample().requires_grad
    assert n.has_rsample and not D.Bernoulli(0.5).has_rsample
    with pytest.raises(NotImplementedError):
        D.Poisson(rtorch.tensor(1.0)).rsample()
    st_probs = rtorch.tensor([0.2, 0.8], requires_grad=True)
    s = D.OneHotCategoricalStraightThrough(st_probs).rsample()
    (s * rtorch.tensor([1.0, 2.0])).sum().backward()
    # the gradient is that of the (normalised) probabilities: (g - <g, p>) / sum(p)
    np.testing.assert_allclose(st_probs.grad.numpy(), [-0.8, 0.2], rtol=1e-6)
