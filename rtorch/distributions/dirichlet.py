"""Dirichlet distribution over the probability simplex."""

import rtorch
from rtorch.distributions import _sampling, constraints
from rtorch.distributions.exp_family import ExponentialFamily

__all__ = ["Dirichlet"]


def _log_beta(conc):
    """log B(c) = sum lgamma(c_i) - lgamma(sum c_i) over the last dim."""
    return conc.lgamma().sum(-1) - conc.sum(-1).lgamma()


class Dirichlet(ExponentialFamily):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Dirichlet, batch_shape, _instance)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        g = _sampling.standard_gamma(self.concentration.expand(shape))
        g = g.clamp(min=rtorch.finfo(g.dtype).tiny)
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (c - 1).xlogy(value).sum(-1) - _log_beta(c)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        c = self.concentration
        k = c.shape[-1]
        inner = (c - 1).clamp(min=0)
        mode = inner / inner.sum(-1, keepdim=True)
        # Where every c_i <= 1 except none above, the density peaks at a vertex.
        vertex = rtorch.nn.functional.one_hot(c.argmax(-1), k).to(c.dtype)
        all_small = (c < 1).all(-1, keepdim=True)
        return rtorch.where(all_small, vertex, mode)

    @property
    def variance(self):
        c = self.concentration
        c0 = c.sum(-1, keepdim=True)
        return c * (c0 - c) / (c0.pow(2) * (c0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        c0 = c.sum(-1)
        return _log_beta(c) + (c0 - k) * c0.digamma() - ((c - 1) * c.digamma()).sum(-1)

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return _log_beta(x)
