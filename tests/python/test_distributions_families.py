"""Each family's log_prob, cdf/icdf, entropy, mean, mode and variance against scipy.stats over
random parameters (float64)."""

import numpy as np
import pytest

import rtorch
import rtorch.distributions as D

st = pytest.importorskip("scipy.stats")

RNG = np.random.default_rng(1234)
F64 = rtorch.float64


def t(a):
    return rtorch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)


def close(got, want, rtol=1e-9, atol=1e-10):
    np.testing.assert_allclose(np.asarray(got.detach().numpy() if hasattr(got, "numpy") else got),
                               np.asarray(want, dtype=np.float64), rtol=rtol, atol=atol)


def pos(*shape, lo=0.2, hi=5.0):
    return RNG.uniform(lo, hi, shape)


# name: (build rtorch dist from numpy params, scipy frozen dist, values to score, has cdf)
def _continuous_cases():
    loc, scale = RNG.normal(size=5), pos(5)
    a, b = pos(5), pos(5)
    low = RNG.normal(size=5)
    high = low + pos(5)
    rate = pos(5)
    return {
        "Normal": (D.Normal(t(loc), t(scale)), st.norm(loc, scale), RNG.normal(size=(3, 5)) * 2, True),
        "LogNormal": (D.LogNormal(t(loc), t(scale)), st.lognorm(scale, scale=np.exp(loc)), pos(3, 5), True),
        "Laplace": (D.Laplace(t(loc), t(scale)), st.laplace(loc, scale), RNG.normal(size=(3, 5)) * 2, True),
        "Uniform": (D.Uniform(t(low), t(high)), st.uniform(low, high - low), low + (high - low) * RNG.uniform(size=(3, 5)), True),
        "Exponential": (D.Exponential(t(rate)), st.expon(scale=1 / rate), pos(3, 5), True),
        "Gamma": (D.Gamma(t(a), t(rate)), st.gamma(a, scale=1 / rate), pos(3, 5), True),
        "Chi2": (D.Chi2(t(2 * a)), st.chi2(2 * a), pos(3, 5), True),
        "Beta": (D.Beta(t(a), t(b)), st.beta(a, b), RNG.uniform(0.01, 0.99, (3, 5)), False),
    }


@pytest.mark.parametrize("name", list(_continuous_cases()))
def test_continuous_family_matches_scipy(name):
    dist, ref, values, has_cdf = _continuous_cases()[name]
    close(dist.log_prob(t(values)), ref.logpdf(values), rtol=1e-8)
    close(dist.mean, ref.mean(), rtol=1e-9)
    close(dist.variance, ref.var(), rtol=1e-8)
    close(dist.stddev, ref.std(), rtol=1e-8)
    close(dist.entropy(), ref.entropy(), rtol=1e-8, atol=1e-9)
    if has_cdf:
        close(dist.cdf(t(values)), ref.cdf(values), rtol=1e-7, atol=1e-10)
    assert dist.log_prob(t(values)).dtype == F64


@pytest.mark.parametrize("name", ["Normal", "LogNormal", "Laplace", "Uniform", "Exponential"])
def test_icdf_inverts_cdf(name):
    dist, ref, _, _ = _continuous_cases()[name]
    q = RNG.uniform(0.02, 0.98, (3, 5))
    close(dist.icdf(t(q)), ref.ppf(q), rtol=1e-8, atol=1e-9)


def test_modes():
    loc, scale = RNG.normal(size=4), pos(4)
    close(D.Normal(t(loc), t(scale)).mode, loc)
    close(D.LogNormal(t(loc), t(scale)).mode, np.exp(loc - scale**2))
    a, r = pos(4, lo=1.5), pos(4)
    close(D.Gamma(t(a), t(r)).mode, (a - 1) / r)
    b = pos(4, lo=1.5)
    close(D.Beta(t(a), t(b)).mode, (a - 1) / (a + b - 2))
    close(D.Exponential(t(r)).mode, np.zeros(4))
    p = RNG.uniform(0.05, 0.95, 4)
    close(D.Binomial(10, t(p)).mode, np.minimum(np.floor(11 * p), 10))
    close(D.Poisson(t(r * 3)).mode, np.floor(r * 3))
    probs = RNG.dirichlet(np.ones(5), 3)
    assert D.Categorical(t(probs)).mode.tolist() == probs.argmax(-1).tolist()


def test_discrete_families_match_scipy():
    p = RNG.uniform(0.05, 0.95, 6)
    k = RNG.integers(0, 2, (4, 6)).astype(float)
    ber = D.Bernoulli(t(p))
    close(ber.log_prob(t(k)), st.bernoulli(p).logpmf(k))
    close(ber.entropy(), st.bernoulli(p).entropy())
    close(ber.variance, p * (1 - p))
    lber = D.Bernoulli(logits=t(np.log(p / (1 - p))))
    close(lber.log_prob(t(k)), st.bernoulli(p).logpmf(k), rtol=1e-8)

    geo = D.Geometric(t(p))
    kg = RNG.integers(0, 10, (4, 6)).astype(float)
    # scipy's geom counts trials (>= 1); rtorch counts failures (>= 0)
    close(geo.log_prob(t(kg)), st.geom(p).logpmf(kg + 1))
    close(geo.mean, st.geom(p).mean() - 1)
    close(geo.variance, st.geom(p).var())
    close(geo.entropy(), st.geom(p).entropy(), rtol=1e-8)

    rate = pos(6, lo=0.5, hi=30)
    kp = RNG.integers(0, 40, (4, 6)).astype(float)
    poi = D.Poisson(t(rate))
    close(poi.log_prob(t(kp)), st.poisson(rate).logpmf(kp), rtol=1e-8)
    close(poi.mean, rate)
    close(poi.variance, rate)

    n = 12
    kb = RNG.integers(0, n + 1, (4, 6)).astype(float)
    binom = D.Binomial(n, t(p))
    close(binom.log_prob(t(kb)), st.binom(n, p).logpmf(kb), rtol=1e-8)
    close(binom.mean, n * p)
    close(binom.variance, n * p * (1 - p))
    close(binom.entropy(), st.binom(n, p).entropy(), rtol=1e-8)
    # tensor total_count, broadcast
    counts = np.array([3.0, 7.0, 20.0])
    binom2 = D.Binomial(t(counts), t(p[:3]))
    close(binom2.log_prob(t([1.0, 7.0, 4.0])), st.binom(counts, p[:3]).logpmf([1, 7, 4]), rtol=1e-8)


def test_categorical_family():
    probs = RNG.dirichlet(np.ones(4), 3)
    cat = D.Categorical(probs=t(probs * 5))  # unnormalised input is normalised
    close(cat.probs, probs)
    close(cat.logits, np.log(probs))
    k = np.array([[0, 3, 1], [2, 2, 0]])
    close(cat.log_prob(rtorch.tensor(k)), np.log(probs[np.arange(3), k]))
    close(cat.entropy(), [st.entropy(p) for p in probs])
    lc = D.Categorical(logits=t(np.log(probs) + 3.0))
    close(lc.probs, probs)
    # zero-probability classes: entropy counts 0 log 0 as 0
    z = D.Categorical(probs=t([0.0, 0.5, 0.5]))
    close(z.entropy(), np.log(2))
    oh = D.OneHotCategorical(t(probs))
    value = rtorch.nn.functional.one_hot(rtorch.tensor([1, 0, 3]), 4).to(F64)
    close(oh.log_prob(value), np.log(probs[np.arange(3), [1, 0, 3]]))
    close(oh.mean, probs)
    close(oh.variance, probs * (1 - probs))
    assert oh.event_shape == (4,) and oh.batch_shape == (3,)


def test_multinomial_family():
    probs = RNG.dirichlet(np.ones(4), 2)
    n = 6
    m = D.Multinomial(n, t(probs))
    x = np.array([[1, 2, 0, 3], [6, 0, 0, 0]], dtype=float)
    close(m.log_prob(t(x)), st.multinomial(n, probs).logpmf(x), rtol=1e-8)
    close(m.mean, n * probs)
    close(m.variance, n * probs * (1 - probs))
    close(m.entropy(), st.multinomial(n, probs).entropy(), rtol=1e-8)


def test_dirichlet_family():
    alpha = pos(3, 4, lo=0.5)
    d = D.Dirichlet(t(alpha))
    x = np.stack([RNG.dirichlet(a) for a in alpha])
    want = [st.dirichlet(a).logpdf(v) for a, v in zip(alpha, x)]
    close(d.log_prob(t(x)), want, rtol=1e-8)
    close(d.entropy(), [st.dirichlet(a).entropy() for a in alpha], rtol=1e-8)
    close(d.mean, alpha / alpha.sum(-1, keepdims=True))
    close(d.variance, np.stack([st.dirichlet(a).var() for a in alpha]), rtol=1e-8)
    big = pos(4, lo=1.5)
    close(D.Dirichlet(t(big)).mode, (big - 1) / (big.sum() - 4))


def _spd(n, batch=()):
    a = RNG.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal(param):
    n = 3
    cov = _spd(n)
    loc = RNG.normal(size=(2, n))
    given = {"covariance_matrix": cov, "precision_matrix": np.linalg.inv(cov),
             "scale_tril": np.linalg.cholesky(cov)}[param]
    mvn = D.MultivariateNormal(t(loc), **{param: t(given)})
    assert mvn.batch_shape == (2,) and mvn.event_shape == (n,)
    x = RNG.normal(size=(4, 2, n))
    want = np.stack([st.multivariate_normal(loc[i], cov).logpdf(x[:, i]) for i in range(2)], -1)
    close(mvn.log_prob(t(x)), want, rtol=1e-8)
    close(mvn.entropy(), [st.multivariate_normal(loc[i], cov).entropy() for i in range(2)], rtol=1e-9)
    close(mvn.covariance_matrix, np.broadcast_to(cov, (2, n, n)), rtol=1e-9)
    close(mvn.precision_matrix, np.broadcast_to(np.linalg.inv(cov), (2, n, n)), rtol=1e-8)
    close(mvn.scale_tril, np.broadcast_to(np.linalg.cholesky(cov), (2, n, n)), rtol=1e-9)
    close(mvn.variance, np.broadcast_to(np.diag(cov), (2, n)), rtol=1e-9)
    close(mvn.mean, loc)


def test_multivariate_normal_batched_covariance():
    covs = _spd(2, (3,))
    loc = RNG.normal(size=2)
    mvn = D.MultivariateNormal(t(loc), covariance_matrix=t(covs))
    x = RNG.normal(size=2)
    close(mvn.log_prob(t(x)), [st.multivariate_normal(loc, c).logpdf(x) for c in covs], rtol=1e-8)


def test_independent_and_transformed():
    loc, scale = RNG.normal(size=(2, 3)), pos(2, 3)
    ind = D.Independent(D.Normal(t(loc), t(scale)), 1)
    assert ind.batch_shape == (2,) and ind.event_shape == (3,)
    x = RNG.normal(size=(2, 3))
    close(ind.log_prob(t(x)), st.norm(loc, scale).logpdf(x).sum(-1))
    close(ind.entropy(), st.norm(loc, scale).entropy().sum(-1))
    # y = 2 + 3 exp(x), x ~ N(loc, scale)
    td = D.TransformedDistribution(D.Normal(t(loc), t(scale)),
                                   [D.ExpTransform(), D.AffineTransform(2.0, 3.0)])
    y = 2 + 3 * pos(2, 3)
    want = st.lognorm(scale, scale=np.exp(loc)).logpdf((y - 2) / 3) - np.log(3)
    close(td.log_prob(t(y)), want, rtol=1e-8)
    close(td.cdf(t(y)), st.lognorm(scale, scale=np.exp(loc)).cdf((y - 2) / 3), rtol=1e-8)
    # a decreasing transform flips the cdf
    neg = D.TransformedDistribution(D.Normal(t(loc), t(scale)), D.AffineTransform(0.0, -1.0))
    close(neg.cdf(t(x)), 1 - st.norm(loc, scale).cdf(-x), rtol=1e-8)
    close(neg.icdf(t(np.full((2, 3), 0.3))), -st.norm(loc, scale).ppf(0.7), rtol=1e-8)


def test_mixture_same_family():
    w = RNG.dirichlet(np.ones(3), 2)
    loc, scale = RNG.normal(size=(2, 3)), pos(2, 3)
    mix = D.MixtureSameFamily(D.Categorical(t(w)), D.Normal(t(loc), t(scale)))
    assert mix.batch_shape == (2,) and mix.event_shape == ()
    x = RNG.normal(size=(5, 2))
    want = np.log((w * st.norm(loc, scale).pdf(x[..., None])).sum(-1))
    close(mix.log_prob(t(x)), want, rtol=1e-9)
    close(mix.cdf(t(x)), (w * st.norm(loc, scale).cdf(x[..., None])).sum(-1), rtol=1e-9)
    mean = (w * loc).sum(-1)
    close(mix.mean, mean)
    close(mix.variance, (w * (scale**2 + loc**2)).sum(-1) - mean**2, rtol=1e-9)
    # multivariate components
    comp = D.Independent(D.Normal(t(RNG.normal(size=(3, 2))), t(pos(3, 2))), 1)
    mix2 = D.MixtureSameFamily(D.Categorical(t(w[0])), comp)
    assert mix2.event_shape == (2,)
    assert mix2.sample((4,)).shape == (4, 2)
    assert mix2.log_prob(t(RNG.normal(size=(4, 2)))).shape == (4,)


def test_relaxed_log_probs_match_concrete_density():
    temp = 0.7
    p = RNG.uniform(0.1, 0.9, 3)
    rb = D.RelaxedBernoulli(t(temp), t(p))
    y = RNG.uniform(0.05, 0.95, (4, 3))
    logit_p = np.log(p / (1 - p))
    # Concrete(K=2) density on (0, 1)
    num = temp * np.exp(logit_p) * y ** (-temp - 1) * (1 - y) ** (-temp - 1)
    den = (np.exp(logit_p) * y ** (-temp) + (1 - y) ** (-temp)) ** 2
    close(rb.log_prob(t(y)), np.log(num / den), rtol=1e-8)

    probs = RNG.dirichlet(np.ones(3))
    rc = D.RelaxedOneHotCategorical(t(temp), t(probs))
    x = RNG.dirichlet(np.ones(3), 4)
    k = 3
    from math import lgamma
    log_dens = (lgamma(k) + (k - 1) * np.log(temp) + (np.log(probs) - (temp + 1) * np.log(x)).sum(-1)
                - k * np.log((probs * x ** (-temp)).sum(-1)))
    close(rc.log_prob(t(x)), log_dens, rtol=1e-8)
