"""Beta distribution on [0, 1]; samples are normalised gamma pairs (reparameterised)."""

from numbers import Real

import rtorch
from rtorch.distributions import _sampling, constraints
from rtorch.distributions.exp_family import ExponentialFamily
from rtorch.distributions.utils import broadcast_all

__all__ = ["Beta"]


class Beta(ExponentialFamily):
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        scalar = isinstance(concentration1, Real) and isinstance(concentration0, Real)
        super().__init__(() if scalar else self.concentration1.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Beta, batch_shape, _instance)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        return (a - 1) / (a + b - 2)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        x = _sampling.standard_gamma(self.concentration1.expand(shape))
        y = _sampling.standard_gamma(self.concentration0.expand(shape))
        tiny = rtorch.finfo(x.dtype).tiny
        x, y = x.clamp(min=tiny), y.clamp(min=tiny)
        eps = rtorch.finfo(x.dtype).eps
        return (x / (x + y)).clamp(min=tiny, max=1 - eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        log_beta = a.lgamma() + b.lgamma() - (a + b).lgamma()
        return (a - 1).xlogy(value) + (b - 1).xlogy(1 - value) - log_beta

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        log_beta = a.lgamma() + b.lgamma() - total.lgamma()
        return log_beta - (a - 1) * a.digamma() - (b - 1) * b.digamma() + (total - 2) * total.digamma()

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return x.lgamma() + y.lgamma() - (x + y).lgamma()
