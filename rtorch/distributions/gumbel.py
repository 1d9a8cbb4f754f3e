"""Gumbel (type-I extreme value) distribution: loc - scale * log(Exponential(1))."""

import math
from numbers import Number

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import AffineTransform, ExpTransform
from rtorch.distributions.uniform import Uniform
from rtorch.distributions.utils import broadcast_all, euler_constant

__all__ = ["Gumbel"]


class Gumbel(TransformedDistribution):
    arg_constraints = dict(loc=constraints.real, scale=constraints.positive)
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        (self.loc, self.scale) = broadcast_all(loc, scale)
        info = rtorch.finfo(self.loc.dtype)
        if isinstance(loc, Number) and isinstance(scale, Number):
            base = Uniform(info.tiny, 1 - info.eps, validate_args=validate_args)
        else:
            low = rtorch.full_like(self.loc, info.tiny)
            base = Uniform(low, rtorch.full_like(self.loc, 1 - info.eps), validate_args=validate_args)
        # u -> -log(u) -> log(-log(u)) -> loc - scale * log(-log(u))
        chain = [ExpTransform().inv, AffineTransform(0, -rtorch.ones_like(self.scale)),
                 ExpTransform().inv, AffineTransform(self.loc, -self.scale)]
        super().__init__(base, chain, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(Gumbel, _instance)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        return TransformedDistribution.expand(self, batch_shape, new)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (self.loc - value) / self.scale
        return z - z.exp() - self.scale.log()

    @property
    def mean(self):
        return self.loc + self.scale * euler_constant

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def entropy(self):
        return self.scale.log() + (1 + euler_constant)
