"""Relaxed one-hot categorical (Concrete / Gumbel-softmax): reparameterisable points on the
simplex that approach one-hot vectors as ``temperature`` goes to 0."""

import math

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.categorical import Categorical
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.transformed_distribution import TransformedDistribution
from rtorch.distributions.transforms import ExpTransform
from rtorch.distributions.utils import clamp_probs

__all__ = [
    "ExpRelaxedCategorical",
    "RelaxedOneHotCategorical",
]


class ExpRelaxedCategorical(Distribution):
    """The log of a RelaxedOneHotCategorical sample (values on the log-simplex)."""

    arg_constraints = dict(probs=constraints.simplex, logits=constraints.real_vector)
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, None)
        self.temperature = temperature
        batch = self._categorical.batch_shape
        event = self._categorical.param_shape[-1:]
        super().__init__(batch, event, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(ExpRelaxedCategorical, _instance)
        batch_shape = rtorch.Size(batch_shape)
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(rtorch.Size(batch_shape))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        logits = self.logits
        u = clamp_probs(rtorch.rand(shape, dtype=logits.dtype, device=logits.device))
        gumbels = -(-u.log()).log()
        scores = (logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        k = self._categorical._num_events
        if self._validate_args:
            self._validate_sample(value)
        logits, value = rtorch.broadcast_tensors(self.logits, value)
        t = self.temperature
        log_t = t.log() if isinstance(t, rtorch.Tensor) else math.log(t)
        # log (K-1)! + (K-1) log t + sum(s_i) - K logsumexp(s), s = logits - t * value
        score = logits - value * t
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + math.lgamma(k) + (k - 1) * log_t


class RelaxedOneHotCategorical(TransformedDistribution):
    """exp of an ExpRelaxedCategorical sample."""

    arg_constraints = dict(probs=constraints.simplex, logits=constraints.real_vector)
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(RelaxedOneHotCategorical, _instance)
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
