"""Geometric distribution: the number of failures before the first success."""

from numbers import Number

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.bernoulli import bce_with_logits
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import (
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)

__all__ = ["Geometric"]


class Geometric(Distribution):
    arg_constraints = dict(probs=constraints.unit_interval, logits=constraints.real)
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            self._param_name = "probs"
        else:
            (self.logits,) = broadcast_all(logits)
            self._param_name = "logits"
        param = self.__dict__[self._param_name]
        super().__init__(() if isinstance(given, Number) else param.size(), validate_args=validate_args)
        if self._validate_args and probs is not None:
            # probs must be in (0, 1]: a success must be possible.
            ok = self.probs > 0
            if not bool(ok.all()):
                raise ValueError(
                    f"Expected parameter probs ({type(self.probs).__name__} of shape {tuple(self.probs.shape)}) "
                    f"of distribution {self!r} to be positive but found invalid values:\n{self.probs[~ok]}"
                )

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Geometric, batch_shape, _instance)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, True)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return rtorch.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        tiny = rtorch.finfo(self.probs.dtype).tiny
        with rtorch.no_grad():
            u = rtorch.rand(shape, dtype=self.probs.dtype, device=self.probs.device).clamp(min=tiny)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # value * log(1 - p) with 0 * log(0) = 0 when p = 1 and value = 0.
        fail = rtorch.where((probs == 1) & (value == 0), rtorch.zeros_like(probs), value * (-probs).log1p())
        return fail + self.probs.log()

    def entropy(self):
        return bce_with_logits(self.logits, self.probs) / self.probs
