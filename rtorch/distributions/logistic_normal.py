"""Logistic-normal: a Normal vector pushed onto the simplex by stick-breaking."""

from rtorch.distributions import constraints
from rtorch.distributions.normal import Normal
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    arg_constraints = dict(loc=constraints.real, scale=constraints.positive)
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand([1])
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(LogisticNormal, _instance)
        return TransformedDistribution.expand(self, batch_shape, new)

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale
