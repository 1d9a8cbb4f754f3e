"""Student's t distribution with ``df`` degrees of freedom, location and scale."""

import math
from numbers import Number

import rtorch
from rtorch.distributions import _sampling, constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import broadcast_all

__all__ = ["StudentT"]


class StudentT(Distribution):
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        (self.df, self.loc, self.scale) = broadcast_all(df, loc, scale)
        scalar = all(isinstance(v, Number) for v in (df, loc, scale))
        super().__init__(() if scalar else self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(StudentT, batch_shape, _instance)

    @property
    def mean(self):
        m = self.loc.clone()
        return rtorch.where(self.df <= 1, rtorch.full_like(m, float("nan")), m)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale.pow(2) * df / (df - 2).clamp(min=1e-30)
        inf = rtorch.full_like(finite, math.inf)
        nan = rtorch.full_like(finite, float("nan"))
        out = rtorch.where(df > 2, finite, inf)
        return rtorch.where(df <= 1, nan, out)

    def rsample(self, sample_shape=()):
        # t = Z / sqrt(V / df) with V ~ Chi2(df) = 2 Gamma(df / 2)
        shape = tuple(self._extended_shape(sample_shape))
        z = rtorch.randn(shape, dtype=self.df.dtype, device=self.df.device)
        v = 2 * _sampling.standard_gamma((0.5 * self.df).expand(shape))
        return self.loc + self.scale * z * (self.df / v).sqrt()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        df = self.df
        norm = (self.scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi)
                + (0.5 * df).lgamma() - (0.5 * (df + 1)).lgamma())
        return -0.5 * (df + 1) * (y.pow(2) / df).log1p() - norm

    def entropy(self):
        df = self.df
        half = 0.5 * df
        log_beta = half.lgamma() + math.lgamma(0.5) - (half + 0.5).lgamma()
        return (self.scale.log() + 0.5 * (df + 1) * ((half + 0.5).digamma() - half.digamma())
                + 0.5 * df.log() + log_beta)
