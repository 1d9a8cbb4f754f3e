"""Geometric distribution: the number of failures before the first success."""

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions._binary_param import TrialProbsOrLogits
from rtorch.distributions.bernoulli import bce_with_logits
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import (
    broadcast_all,
)

__all__ = ["Geometric"]


class Geometric(TrialProbsOrLogits, Distribution):
    arg_constraints = dict(probs=constraints.unit_interval, logits=constraints.real)
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        batch = self._take_param(probs, logits)
        super().__init__(batch, validate_args=validate_args)
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
