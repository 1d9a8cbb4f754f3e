"""Kumaraswamy distribution on (0, 1): x = (1 - (1 - u)^(1/b))^(1/a) for uniform u."""

from numbers import Number

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import broadcast_all, euler_constant

__all__ = ["Kumaraswamy"]


def _moment(a, b, n):
    """E[x^n] = b * B(1 + n / a, b)."""
    c = 1 + n / a
    return (b.log() + c.lgamma() + b.lgamma() - (c + b).lgamma()).exp()


class Kumaraswamy(Distribution):
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        scalar = isinstance(concentration1, Number) and isinstance(concentration0, Number)
        super().__init__(() if scalar else self.concentration1.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Kumaraswamy, batch_shape, _instance)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        info = rtorch.finfo(self.concentration1.dtype)
        u = rtorch.rand(shape, dtype=self.concentration1.dtype, device=self.concentration1.device)
        u = u.clamp(min=info.tiny, max=1 - info.eps)
        inner = -((u.log() / self.concentration0).expm1())  # 1 - u^(1/b)
        return (inner.log() / self.concentration1).exp().clamp(min=info.tiny, max=1 - info.eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return a.log() + b.log() + (a - 1) * value.log() + (b - 1) * (-value.pow(a)).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (1 - value.pow(self.concentration1)).pow(self.concentration0)

    def icdf(self, value):
        return (1 - (1 - value).pow(self.concentration0.reciprocal())).pow(self.concentration1.reciprocal())

    @property
    def mean(self):
        return _moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        out = ((a - 1) / (a * b - 1)).pow(a.reciprocal())
        return rtorch.where((a < 1) | (b < 1), rtorch.full_like(out, float("nan")), out)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        return _moment(a, b, 2) - _moment(a, b, 1).pow(2)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic_b = (b + 1).digamma() + euler_constant
        return (1 - a.reciprocal()) * harmonic_b + (1 - b.reciprocal()) - (a * b).log()

