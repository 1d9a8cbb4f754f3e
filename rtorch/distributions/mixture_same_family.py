"""MixtureSameFamily: a Categorical over the rightmost batch dim of a component distribution."""

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.categorical import Categorical
from rtorch.distributions.distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    arg_constraints = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of torch.distributions.Distribution")
        mdbs = tuple(mixture_distribution.batch_shape)
        cdbs = tuple(component_distribution.batch_shape)[:-1]
        clash = [a != b for a, b in zip(mdbs[::-1], cdbs[::-1]) if 1 not in (a, b)]
        if any(clash):
            raise ValueError(
                f"`mixture_distribution.batch_shape` ({rtorch.Size(mdbs)}) is not compatible with "
                f"`component_distribution.batch_shape`({rtorch.Size(cdbs)})"
            )
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1]
        if km != kc:
            raise ValueError(
                f"`mixture_distribution component` ({km}) does not equal "
                f"`component_distribution.batch_shape[-1]` ({kc})"
            )
        self._mixture_distribution, self._component_distribution = mixture_distribution, component_distribution
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cdbs, component_distribution.event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = rtorch.Size(batch_shape)
        new = self._fresh_instance(MixtureSameFamily, _instance)
        comp_shape = tuple(batch_shape) + (self._num_component,)
        new._component_distribution = self._component_distribution.expand(comp_shape)
        new._mixture_distribution = self._mixture_distribution.expand(tuple(batch_shape))
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self):
        return constraints.MixtureSameFamilyConstraint(self._component_distribution.support)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _weights(self):
        """Mixture probabilities shaped to broadcast against component event values."""
        probs = self._mixture_distribution.probs
        return probs.reshape(tuple(probs.shape) + (1,) * self._event_ndims)

    @property
    def mean(self):
        return (self._weights() * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        w = self._weights()
        dim = -1 - self._event_ndims
        comp_mean = self._component_distribution.mean
        mean_cond_var = (w * self._component_distribution.variance).sum(dim)
        mean = (w * comp_mean).sum(dim)
        var_cond_mean = (w * (comp_mean - mean.unsqueeze(dim)).pow(2)).sum(dim)
        return mean_cond_var + var_cond_mean

    def cdf(self, x):
        x = self._pad(x)
        cdf_x = self._component_distribution.cdf(x)
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        x = self._pad(x)
        log_prob_x = self._component_distribution.log_prob(x)
        log_mix = self._mixture_distribution.logits.log_softmax(-1)
        return (log_prob_x + log_mix).logsumexp(-1)

    def sample(self, sample_shape=()):
        with rtorch.no_grad():
            sample_shape = rtorch.Size(sample_shape)
            n_sample = len(sample_shape)
            n_batch = len(self.batch_shape)
            choice = self._mixture_distribution.sample(sample_shape)  # sample + batch
            comp = self._component_distribution.sample(sample_shape)  # sample + batch + (K,) + event
            index = choice.reshape(tuple(choice.shape) + (1,) * (self._event_ndims + 1))
            index = index.expand(tuple(choice.shape) + (1,) + tuple(self.event_shape))
            picked = comp.gather(n_sample + n_batch, index)
            return picked.squeeze(n_sample + n_batch)

    def _pad(self, x):
        return x.unsqueeze(x.dim() - self._event_ndims)

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self._mixture_distribution},\n"
                f"  {self._component_distribution})")
