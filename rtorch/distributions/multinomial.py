"""Multinomial distribution: category counts of ``total_count`` categorical draws."""

import math

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.binomial import Binomial
from rtorch.distributions.categorical import Categorical
from rtorch.distributions.distribution import Distribution

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    total_count: int

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError(
                "inhomogeneous total_count is not supported"
            )
        self.total_count = total_count
        self._categorical = Categorical(probs, logits, None)
        self._binomial = Binomial(total_count, self.probs)
        batch = self._categorical.batch_shape
        event = self._categorical.param_shape[-1:]
        super().__init__(batch, event, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(Multinomial, _instance)
        batch_shape = rtorch.Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(rtorch.Size(batch_shape))
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        p = self.probs
        return self.total_count * p * (1 - p)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def sample(self, sample_shape=()):
        sample_shape = rtorch.Size(sample_shape)
        draws = self._categorical.sample(rtorch.Size((self.total_count,)) + sample_shape)
        # (total_count, *sample, *batch) -> one-hot counts summed over the draws
        k = self._categorical._num_events
        onehot = rtorch.nn.functional.one_hot(draws, k).to(self.probs.dtype)
        return onehot.sum(0) if self.total_count else onehot.new_zeros(self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = rtorch.broadcast_tensors(self.logits, value)
        # 0 * (-inf) counts as 0 for categories with zero probability and zero count.
        safe = rtorch.where((value == 0) & logits.isinf(), rtorch.zeros_like(logits), logits)
        return math.lgamma(self.total_count + 1) - (value + 1).lgamma().sum(-1) + (value * safe).sum(-1)

    def entropy(self):
        n = rtorch.tensor(float(self.total_count), dtype=self.probs.dtype, device=self.probs.device)
        counts = self._binomial.enumerate_support(False)  # (n + 1, 1, ..., 1)
        # Each count's marginal is Binomial(n, p_i): E[log x_i!] from its pmf.
        binom_log = self._binomial.log_prob(counts)
        expected = (binom_log.exp() * (counts + 1).lgamma()).sum(0).sum(-1)
        return n * self._categorical.entropy() - (n + 1).lgamma() + expected
