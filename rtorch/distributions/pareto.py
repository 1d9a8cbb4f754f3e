"""Pareto type-I distribution: scale * exp(Exponential(alpha))."""

import math

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.exponential import Exponential
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import AffineTransform, ExpTransform
from rtorch.distributions.utils import broadcast_all

__all__ = ["Pareto"]


class Pareto(TransformedDistribution):
    arg_constraints = dict(alpha=constraints.positive, scale=constraints.positive)

    def __init__(self, scale, alpha, validate_args=None):
        (self.scale, self.alpha) = broadcast_all(scale, alpha)
        base = Exponential(self.alpha, validate_args=validate_args)
        super().__init__(base, [ExpTransform(), AffineTransform(loc=0, scale=self.scale)],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(Pareto, _instance)
        new.scale = self.scale.expand(batch_shape)
        new.alpha = self.alpha.expand(batch_shape)
        base = self.base_dist.expand(batch_shape)
        TransformedDistribution.__init__(new, base, [ExpTransform(), AffineTransform(0, new.scale)],
                                         validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)
        out = a * self.scale / (a - 1)
        return rtorch.where(self.alpha <= 1, rtorch.full_like(out, math.inf), out)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)
        out = self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))
        return rtorch.where(self.alpha <= 2, rtorch.full_like(out, math.inf), out)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    def entropy(self):
        return (self.scale / self.alpha).log() + self.alpha.reciprocal() + 1
