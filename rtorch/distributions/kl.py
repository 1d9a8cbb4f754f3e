"""KL divergence KL(p || q) with a registry of closed forms keyed by the pair of types.

``register_kl(P, Q)`` registers a function for distributions of types P and Q; lookup takes
the most specific registered pair along both classes' MROs (ambiguities warn and pick one).
"""

import math
import warnings

import rtorch
from rtorch.distributions import _linalg
from rtorch.distributions.bernoulli import Bernoulli
from rtorch.distributions.beta import Beta
from rtorch.distributions.binomial import Binomial
from rtorch.distributions.categorical import Categorical
from rtorch.distributions.dirichlet import Dirichlet
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.exponential import Exponential
from rtorch.distributions.gamma import Gamma
from rtorch.distributions.geometric import Geometric
from rtorch.distributions.independent import Independent
from rtorch.distributions.laplace import Laplace
from rtorch.distributions.multivariate_normal import MultivariateNormal
from rtorch.distributions.normal import Normal
from rtorch.distributions.one_hot_categorical import OneHotCategorical
from rtorch.distributions.poisson import Poisson
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import sum_rightmost
from rtorch.distributions.uniform import Uniform

__all__ = ["kl_divergence", "register_kl"]

_REGISTRY = {}  # (type_p, type_q) -> fn
_CACHE = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for p of type_p and q of type_q."""
    for t in (type_p, type_q):
        if not isinstance(t, type) or not issubclass(t, Distribution):
            raise TypeError(f"Expected type_p and type_q to be subclasses of Distribution but got {t}")

    def decorator(fn):
        _REGISTRY[type_p, type_q] = fn
        _CACHE.clear()
        return fn

    return decorator


def _lookup(type_p, type_q):
    matches = [(p, q) for p, q in _REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return None
    depth = {m: (type_p.__mro__.index(m[0]), type_q.__mro__.index(m[1])) for m in matches}
    best = min(matches, key=lambda m: depth[m])
    flipped = min(matches, key=lambda m: depth[m][::-1])
    if _REGISTRY[best] is not _REGISTRY[flipped]:
        warnings.warn(
            f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). Please register_kl"
            f"({best[0].__name__}, {flipped[1].__name__})",
            RuntimeWarning, stacklevel=3,
        )
    return _REGISTRY[best]


def kl_divergence(p, q):
    """KL(p || q) over the batch shape; NotImplementedError when no closed form is registered."""
    key = (type(p), type(q))
    if key not in _CACHE:
        _CACHE[key] = _lookup(*key)
    fn = _CACHE[key]
    if fn is None:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p type {type(p).__name__} and q type {type(q).__name__}"
        )
    return fn(p, q)


def _inf_like(t):
    return rtorch.full_like(t, math.inf)


def _softplus(x):
    return x.clamp_min(0) + (-x.abs()).exp().log1p()


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    ratio = (p.scale / q.scale).pow(2)
    gap = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (ratio + gap - 1 - ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # log p = -softplus(-logit), log(1 - p) = -softplus(logit)
    on = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    off = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    return on + off


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    terms = p.probs * (p.logits - q.logits)
    terms = rtorch.where(p.probs == 0, rtorch.zeros_like(terms), terms)
    terms = rtorch.where((q.probs == 0) & (p.probs > 0), _inf_like(terms), terms)
    return terms.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    s1 = a1 + b1
    log_b = lambda a, b: a.lgamma() + b.lgamma() - (a + b).lgamma()  # noqa: E731
    return (log_b(a2, b2) - log_b(a1, b1) + (a1 - a2) * a1.digamma()
            + (b1 - b2) * b1.digamma() + (a2 - a1 + b2 - b1) * s1.digamma())


def _kl_gamma(a1, r1, a2, r2):
    return ((a1 - a2) * a1.digamma() - a1.lgamma() + a2.lgamma()
            + a2 * (r1.log() - r2.log()) + a1 * (r2 - r1) / r1)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    return _kl_gamma(p.concentration, p.rate, q.concentration, q.rate)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    one = rtorch.ones_like(p.rate)
    return _kl_gamma(one, p.rate, q.concentration, q.rate)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return _kl_gamma(p.concentration, p.rate, rtorch.ones_like(q.rate), q.rate)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    a, b = p.concentration, q.concentration
    a0 = a.sum(-1)
    return (a0.lgamma() - a.lgamma().sum(-1) - b.sum(-1).lgamma() + b.lgamma().sum(-1)
            + ((a - b) * (a.digamma() - a0.digamma().unsqueeze(-1))).sum(-1))


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - 1 - ratio.log()


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    ratio = p.scale / q.scale
    gap = (p.loc - q.loc).abs()
    return -ratio.log() + gap / q.scale + ratio * (-gap / p.scale).exp() - 1


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate.xlogy(p.rate) - p.rate.xlogy(q.rate) - p.rate + q.rate


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if not bool((p.total_count == q.total_count).all()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    n = p.total_count
    on = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    off = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    return n * (on + off)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    out = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return rtorch.where(outside, _inf_like(out), out)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    # E[(x - mu)^2] for x ~ U(a, b)
    second = ((p.high - q.loc).pow(3) - (p.low - q.loc).pow(3)) / (3 * width)
    return -width.log() + (q.scale * math.sqrt(2 * math.pi)).log() + second / (2 * q.scale.pow(2))


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    out = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return rtorch.where(p.low < 0, _inf_like(out), out)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event shapes cannot be computed")
    lp, lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    n = p.event_shape[0]
    batch = rtorch.broadcast_shapes(tuple(lp.shape[:-2]), tuple(lq.shape[:-2]))
    lq_b = lq.expand(tuple(batch) + (n, n))
    lp_b = lp.expand(tuple(batch) + (n, n))
    # tr(Sq^-1 Sp) = || Lq^-1 Lp ||_F^2
    trace = _linalg.solve_triangular(lq_b, lp_b, upper=False).pow(2).sum((-2, -1))
    maha = _linalg.mahalanobis_sq(lq, q.loc - p.loc)
    logdet = _linalg.half_log_det(lq) - _linalg.half_log_det(lp)
    return logdet + 0.5 * (trace + maha - n)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different reinterpreted_batch_ndims")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError("KL between TransformedDistributions with different transforms")
    extra = len(p.event_shape) - len(p.base_dist.event_shape)
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), extra)

