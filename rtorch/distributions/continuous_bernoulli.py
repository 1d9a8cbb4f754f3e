"""Continuous Bernoulli on [0, 1]: density proportional to lambda^x (1 - lambda)^(1 - x).

Everything is written in the natural parameter eta = logit(lambda), where the density is
exp(eta x) / Z(eta) with Z(eta) = (e^eta - 1) / eta; near eta = 0 (lambda = 1/2) the
closed forms are 0/0, so Taylor expansions take over for |eta| below ``_TAYLOR``."""


import rtorch
from rtorch.distributions import constraints
from rtorch.distributions._binary_param import TrialProbsOrLogits
from rtorch.distributions.exp_family import ExponentialFamily
from rtorch.distributions.utils import (
    clamp_probs,
    lazy_property,
    logits_to_probs,
)

__all__ = ["ContinuousBernoulli"]

_TAYLOR = 1e-2


def _split(eta):
    near = eta.abs() < _TAYLOR
    safe = rtorch.where(near, rtorch.full_like(eta, 1.0), eta)
    return near, safe


def _log_z(eta):
    """log((e^eta - 1) / eta)."""
    near, e = _split(eta)
    pos = e + (-(-e).expm1()).log() - e.abs().log()
    neg = (-e.expm1()).log() - e.abs().log()
    far = rtorch.where(e > 0, pos, neg)
    taylor = eta / 2 + eta.pow(2) / 24 - eta.pow(4) / 2880
    return rtorch.where(near, taylor, far)


class ContinuousBernoulli(TrialProbsOrLogits, ExponentialFamily):
    arg_constraints = dict(probs=constraints.unit_interval, logits=constraints.real)
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        batch = self._take_param(probs, logits)
        self._lims = lims
        super().__init__(batch, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(ContinuousBernoulli, batch_shape, _instance)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, True))

    @property
    def mean(self):
        eta = self.logits
        near, e = _split(eta)
        far = 1 / (-(-e).expm1()) - 1 / e
        return rtorch.where(near, 0.5 + eta / 12 - eta.pow(3) / 720, far)

    @property
    def variance(self):
        eta = self.logits
        near, e = _split(eta)
        # 1/eta^2 - e^eta / (e^eta - 1)^2, the second term written as 1 / (4 sinh^2(eta / 2))
        far = 1 / e.pow(2) - 1 / (4 * (e / 2).sinh().pow(2))
        return rtorch.where(near, 1 / 12 - eta.pow(2) / 240, far)

    @property
    def stddev(self):
        return self.variance.sqrt()

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        u = rtorch.rand(shape, dtype=self.logits.dtype, device=self.logits.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.logits * value - _log_z(self.logits)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        eta = self.logits
        near, e = _split(eta)
        far = (e * value).expm1() / e.expm1()
        out = rtorch.where(near, value, far)
        return out.clamp(0, 1)

    def icdf(self, value):
        eta = self.logits
        near, e = _split(eta)
        far = (value * e.expm1()).log1p() / e
        return rtorch.where(near, value, far)

    def entropy(self):
        return _log_z(self.logits) - self.logits * self.mean

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        return _log_z(x)
