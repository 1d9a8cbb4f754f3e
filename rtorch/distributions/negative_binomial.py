"""Negative binomial: successes before ``total_count`` failures, success probability ``probs``.

Sampled as a gamma-Poisson mixture: rate ~ Gamma(total_count, 1) * p / (1 - p)."""

import rtorch
from rtorch.distributions import _sampling, constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import (
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)

__all__ = ["NegativeBinomial"]


def _log_sigmoid(x):
    return -(x.clamp_min(0) - x + (-x.abs()).exp().log1p())


class NegativeBinomial(Distribution):
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.to(self.probs.dtype)
            self._param_name = "probs"
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.to(self.logits.dtype)
            self._param_name = "logits"
        super().__init__(self.__dict__[self._param_name].size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(NegativeBinomial, batch_shape, _instance)

    @property
    def _param(self):
        return self.__dict__[self._param_name]

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, True)

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with rtorch.no_grad():
            rate = _sampling.standard_gamma(self.total_count.expand(shape)) * self.logits.exp().expand(shape)
            return _sampling.poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        r, k = self.total_count, value
        log_norm = (k + r).lgamma() - (k + 1).lgamma() - r.lgamma()
        # r = 0 with k = 0 has probability 1: lgamma(0) terms cancel to 0 there.
        log_norm = rtorch.where((r + k) == 0, rtorch.zeros_like(log_norm), log_norm)
        return log_norm + r * _log_sigmoid(-self.logits) + k * _log_sigmoid(self.logits)
