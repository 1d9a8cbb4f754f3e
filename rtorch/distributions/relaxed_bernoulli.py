"""Relaxed (Concrete / Gumbel-softmax) Bernoulli: a reparameterisable stand-in for Bernoulli
samples on (0, 1), sharper as ``temperature`` goes to 0."""


import rtorch
from rtorch.distributions import constraints
from rtorch.distributions._binary_param import TrialProbsOrLogits
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import SigmoidTransform
from rtorch.distributions.utils import (
    broadcast_all,
    clamp_probs,
)

__all__ = [
    "LogitRelaxedBernoulli",
    "RelaxedBernoulli",
]


def _softplus(x):
    return x.clamp_min(0) + (-x.abs()).exp().log1p()


class LogitRelaxedBernoulli(TrialProbsOrLogits, Distribution):
    """The logit of a RelaxedBernoulli sample: (logits + Logistic noise) / temperature."""

    arg_constraints = dict(probs=constraints.unit_interval, logits=constraints.real)
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self.temperature = temperature
        batch = self._take_param(probs, logits)
        super().__init__(batch, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(LogitRelaxedBernoulli, batch_shape, _instance)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        probs = clamp_probs(self.probs).expand(shape)
        u = clamp_probs(rtorch.rand(shape, dtype=probs.dtype, device=probs.device))
        noise = u.log() - (-u).log1p()  # a standard logistic draw
        return (probs.log() - (-probs).log1p() + noise) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, logits = broadcast_all(value, self.logits)
        diff = logits - value * self.temperature
        t = self.temperature
        log_t = t.log() if isinstance(t, rtorch.Tensor) else rtorch.tensor(float(t), dtype=diff.dtype).log()
        return log_t + diff - 2 * _softplus(diff)


class RelaxedBernoulli(TransformedDistribution):
    """sigmoid of a LogitRelaxedBernoulli sample."""

    arg_constraints = dict(probs=constraints.unit_interval, logits=constraints.real)
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(RelaxedBernoulli, _instance)
        return TransformedDistribution.expand(self, batch_shape, new)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs
