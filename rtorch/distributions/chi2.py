"""Chi-squared distribution with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2)."""

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.gamma import Gamma

__all__ = ["Chi2"]


class Chi2(Gamma):
    arg_constraints = dict(df=constraints.positive)

    def __init__(self, df, validate_args=None):
        df = df if isinstance(df, rtorch.Tensor) else rtorch.tensor(float(df))
        super().__init__(0.5 * df, rtorch.full_like(df, 0.5), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Chi2, batch_shape, _instance)

    @property
    def df(self):
        return self.concentration * 2
