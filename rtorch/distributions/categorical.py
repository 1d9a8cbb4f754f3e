"""Categorical distribution over {0, ..., K-1}, parameterised by ``probs`` or ``logits``
along the last dim (probabilities need not be normalised; logits are log-normalised)."""

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Categorical"]


class Categorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError(
                    "`probs` parameter must be at least one-dimensional."
                )
            self.probs = probs / probs.sum(-1, keepdim=True)
            self._param_name = "probs"
        else:
            if logits.dim() < 1:
                raise ValueError(
                    "`logits` parameter must be at least one-dimensional."
                )
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self._param_name = "logits"
        self._num_events = self._param.shape[-1]
        batch = self._param.size()[:-1] if self._param.dim() > 1 else ()
        super().__init__(batch, validate_args=validate_args)

    @property
    def _param(self):
        return self.__dict__[self._param_name]

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Categorical, batch_shape, _instance)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        return rtorch.full(self._extended_shape(), float("nan"), dtype=self.probs.dtype,
                           device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return rtorch.full(self._extended_shape(), float("nan"), dtype=self.probs.dtype,
                           device=self.probs.device)

    def sample(self, sample_shape=()):
        if not isinstance(sample_shape, rtorch.Size):
            sample_shape = rtorch.Size(sample_shape)
        n = 1
        for s in sample_shape:
            n *= s
        with rtorch.no_grad():
            rows = self.probs.reshape(-1, self._num_events)
            draws = rtorch.multinomial(rows, n, True) if rows.shape[0] else rows.new_zeros((0, n)).long()
            # (rows, n) -> sample_shape + batch_shape
            return draws.T.reshape(self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = rtorch.broadcast_tensors(value, self.logits)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        # 0 * log 0 counts as 0: clamp the logits of zero-probability classes.
        low = rtorch.finfo(self.logits.dtype).min
        logits = self.logits.clamp(min=low)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = rtorch.arange(self._num_events, dtype=rtorch.int64, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values
