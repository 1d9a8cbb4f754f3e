"""Inverse gamma: 1 / X for X ~ Gamma(concentration, rate)."""

import math

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.gamma import Gamma
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import PowerTransform

__all__ = ["InverseGamma"]


class InverseGamma(TransformedDistribution):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        base = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -rtorch.ones_like(base.rate)
        super().__init__(base, PowerTransform(neg_one), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(InverseGamma, _instance)
        new = super().expand(batch_shape, _instance=new)
        new.transforms = [PowerTransform(-rtorch.ones_like(new.base_dist.rate))]
        return new

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        a = self.concentration
        out = self.rate / (a - 1)
        return rtorch.where(a > 1, out, rtorch.full_like(out, math.inf))

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        a = self.concentration
        out = self.rate.pow(2) / ((a - 1).pow(2) * (a - 2))
        return rtorch.where(a > 2, out, rtorch.full_like(out, math.inf))

    def entropy(self):
        a = self.concentration
        return a + self.rate.log() + a.lgamma() - (1 + a) * a.digamma()
