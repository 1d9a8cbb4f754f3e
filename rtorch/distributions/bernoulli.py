"""Bernoulli distribution, parameterised by ``probs`` or ``logits``."""


import rtorch
from rtorch.distributions import constraints
from rtorch.distributions._binary_param import TrialProbsOrLogits
from rtorch.distributions.exp_family import ExponentialFamily
from rtorch.distributions.utils import (
    broadcast_all,
)

__all__ = ["Bernoulli"]


def bce_with_logits(logits, value):
    """-log p(value) for Bernoulli logits, stable for large |logits|."""
    return logits.clamp_min(0) - logits * value + (-logits.abs()).exp().log1p()


class Bernoulli(TrialProbsOrLogits, ExponentialFamily):
    arg_constraints = dict(probs=constraints.unit_interval, logits=constraints.real)
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        batch = self._take_param(probs, logits)
        super().__init__(batch, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Bernoulli, batch_shape, _instance)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        m = (self.probs >= 0.5).to(self.probs.dtype)
        return rtorch.where(self.probs == 0.5, rtorch.full_like(m, float("nan")), m)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with rtorch.no_grad():
            return rtorch.bernoulli(self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, logits = broadcast_all(value, self.logits)
        return -bce_with_logits(logits, value)

    def entropy(self):
        return bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand=True):
        values = rtorch.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        return x.exp().log1p()
