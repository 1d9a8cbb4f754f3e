"""Fisher-Snedecor F distribution: (G1 / df1) / (G2 / df2) for chi-squared G1, G2."""

from numbers import Number

import rtorch
from rtorch.distributions import _sampling, constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import broadcast_all

__all__ = ["FisherSnedecor"]


class FisherSnedecor(Distribution):
    arg_constraints = dict(df1=constraints.positive, df2=constraints.positive)
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        (self.df1, self.df2) = broadcast_all(df1, df2)
        scalar = isinstance(df1, Number) and isinstance(df2, Number)
        super().__init__(() if scalar else self.df1.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(FisherSnedecor, batch_shape, _instance)

    def _nan_unless(self, ok, value):
        return rtorch.where(ok, value, rtorch.full_like(value, float("nan")))

    @property
    def mean(self):
        d2 = self.df2
        return self._nan_unless(d2 > 2, d2 / (d2 - 2).clamp(min=1e-30))

    @property
    def mode(self):
        d1, d2 = self.df1, self.df2
        return self._nan_unless(d1 > 2, (d1 - 2) / d1 * d2 / (d2 + 2))

    @property
    def variance(self):
        d1, d2 = self.df1, self.df2
        v = 2 * d2.pow(2) * (d1 + d2 - 2) / (d1 * (d2 - 2).pow(2) * (d2 - 4).clamp(min=1e-30))
        return self._nan_unless(d2 > 4, v)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        g1 = _sampling.standard_gamma((0.5 * self.df1).expand(shape)) / self.df1
        g2 = _sampling.standard_gamma((0.5 * self.df2).expand(shape)) / self.df2
        tiny = rtorch.finfo(g1.dtype).tiny
        return (g1.clamp(min=tiny) / g2.clamp(min=tiny)).clamp(min=tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        h1, h2 = 0.5 * self.df1, 0.5 * self.df2
        ratio = self.df1 / self.df2
        log_beta = h1.lgamma() + h2.lgamma() - (h1 + h2).lgamma()
        return h1 * ratio.log() + (h1 - 1) * value.log() - (h1 + h2) * (ratio * value).log1p() - log_beta
