"""Negative binomial: successes before ``total_count`` failures, success probability ``probs``.

Sampled as a gamma-Poisson mixture: rate ~ Gamma(total_count, 1) * p / (1 - p)."""

import rtorch
from rtorch.distributions import _sampling, constraints
from rtorch.distributions._binary_param import TrialProbsOrLogits
from rtorch.distributions.distribution import Distribution

__all__ = ["NegativeBinomial"]


def _log_sigmoid(x):
    return -(x.clamp_min(0) - x + (-x.abs()).exp().log1p())


class NegativeBinomial(TrialProbsOrLogits, Distribution):
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        batch = self._take_param(probs, logits, total_count)
        super().__init__(batch, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(NegativeBinomial, batch_shape, _instance)

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
