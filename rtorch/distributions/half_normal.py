"""HalfNormal and HalfCauchy: |X| for a zero-centred Normal or Cauchy X."""

import math

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.cauchy import Cauchy
from rtorch.distributions.normal import Normal
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import AbsTransform

__all__ = ["HalfCauchy", "HalfNormal"]


class _Folded(TransformedDistribution):
    """|X| for X symmetric about 0: the density doubles on [0, inf)."""

    support = constraints.nonnegative
    has_rsample = True

    @property
    def scale(self):
        return self.base_dist.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        lp = self.base_dist.log_prob(value) + math.log(2)
        return rtorch.where(value >= 0, lp, rtorch.full_like(lp, -math.inf))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_Folded):
    arg_constraints = dict(scale=constraints.positive)

    def __init__(self, scale, validate_args=None):
        super().__init__(Normal(0, scale, validate_args=False), AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(HalfNormal, _instance)
        return TransformedDistribution.expand(self, batch_shape, new)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self):
        return rtorch.zeros_like(self.scale)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)


class HalfCauchy(_Folded):
    arg_constraints = dict(scale=constraints.positive)

    def __init__(self, scale, validate_args=None):
        super().__init__(Cauchy(0, scale, validate_args=False), AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(HalfCauchy, _instance)
        return TransformedDistribution.expand(self, batch_shape, new)

    @property
    def mean(self):
        return rtorch.full(self._extended_shape(), math.inf, dtype=self.scale.dtype, device=self.scale.device)

    @property
    def mode(self):
        return rtorch.zeros_like(self.scale)

    @property
    def variance(self):
        return self.base_dist.variance
