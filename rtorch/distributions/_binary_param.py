"""Parameter handling shared by the distributions of yes/no trials (Bernoulli, Binomial,
Geometric, NegativeBinomial, ContinuousBernoulli, LogitRelaxedBernoulli): exactly one of
``probs`` or ``logits`` is given, the other is derived on first use."""

from rtorch.distributions.utils import (
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)


def require_one(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


class TrialProbsOrLogits:
    """Mixin: stores the given parameter under its own name and derives the other lazily."""

    def _take_param(self, probs, logits, total_count=None):
        """Stores ``probs`` or ``logits`` (broadcast with ``total_count`` when one is given,
        which then takes the parameter's dtype) and returns the batch shape."""
        require_one(probs, logits)
        name, given = ("probs", probs) if probs is not None else ("logits", logits)
        if total_count is None:
            (value,) = broadcast_all(given)
        else:
            count, value = broadcast_all(total_count, given)
            self.total_count = count.to(value.dtype)
        self.__dict__[name] = value
        self._param_name = name
        return value.size()

    @property
    def _param(self):
        return self.__dict__[self._param_name]

    @property
    def param_shape(self):
        return self._param.size()

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, True)
