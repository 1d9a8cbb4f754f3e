"""Generalized Pareto distribution (location, scale, shape ``concentration`` xi).

Samples come from the inverse CDF, so they are reparameterised. Formulas are written with
log1p/expm1 so that xi = 0 (the exponential limit) needs no special case beyond a guarded
division."""

import math
from numbers import Number

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import broadcast_all

__all__ = ["GeneralizedPareto"]


def _div_xi(num, xi, limit):
    """num / xi, replaced by ``limit`` where xi == 0."""
    zero = xi == 0
    safe = rtorch.where(zero, rtorch.ones_like(xi), xi)
    return rtorch.where(zero, limit, num / safe)


class GeneralizedPareto(Distribution):
    arg_constraints = dict(loc=constraints.real, scale=constraints.positive, concentration=constraints.real)
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        (self.loc, self.scale, self.concentration) = broadcast_all(loc, scale, concentration)
        scalar = all(isinstance(v, Number) for v in (loc, scale, concentration))
        super().__init__(() if scalar else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(GeneralizedPareto, batch_shape, _instance)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        xi = self.concentration
        width = _div_xi(-self.scale, xi.clamp(max=0), rtorch.full_like(xi, math.inf))
        return constraints.interval(self.loc, self.loc + width)

    def _z(self, value):
        return (value - self.loc) / self.scale

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        u = rtorch.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        xi = self.concentration
        # log(1 + xi z) / xi -> z as xi -> 0
        inner = _div_xi((xi * z).log1p(), xi, z)
        lp = -self.scale.log() - inner - (xi * z).log1p()
        inside = (z >= 0) & ((xi >= 0) | (z <= -1 / xi))
        return rtorch.where(inside, lp, rtorch.full_like(lp, -math.inf))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value).clamp(min=0)
        xi = self.concentration
        tail = (-_div_xi((xi * z).log1p(), xi, z)).exp()
        return (1 - tail).clamp(0, 1)

    def icdf(self, value):
        xi = self.concentration
        log_tail = (-value).log1p()  # log(1 - u)
        z = _div_xi((-xi * log_tail).expm1(), xi, -log_tail)
        return self.loc + self.scale * z

    @property
    def mean(self):
        xi = self.concentration
        out = self.loc + self.scale / (1 - xi)
        return rtorch.where(xi < 1, out, rtorch.full_like(out, math.nan))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        xi = self.concentration
        out = self.scale.pow(2) / ((1 - xi).pow(2) * (1 - 2 * xi))
        return rtorch.where(xi < 0.5, out, rtorch.full_like(out, math.nan))

    def entropy(self):
        return self.scale.log() + self.concentration + 1
