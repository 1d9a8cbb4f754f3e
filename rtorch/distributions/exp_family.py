"""``ExponentialFamily``: densities p(x) = h(x) exp(<theta, t(x)> - A(theta)).

A family that gives its natural parameters theta and log-normaliser A gets ``entropy`` for
free: H = A(theta) - <theta, grad A(theta)> - E[log h(x)], with grad A from autograd."""

import rtorch
from rtorch.distributions.distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    @property
    def _natural_params(self):
        raise NotImplementedError(f"{type(self).__name__} does not give its natural parameters")

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError(f"{type(self).__name__} does not give its log-normaliser")

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError(f"{type(self).__name__} does not give E[log h(x)]")

    def entropy(self):
        thetas = [p.detach().requires_grad_() for p in self._natural_params]
        with rtorch.enable_grad():
            lognorm = self._log_normalizer(*thetas)
            grads = rtorch.autograd.grad(lognorm.sum(), thetas, create_graph=True)
        result = lognorm - self._mean_carrier_measure
        for theta, g in zip(thetas, grads):
            prod = theta * g
            extra = prod.dim() - result.dim()
            result = result - (prod.reshape(tuple(prod.shape[: result.dim()]) + (-1,)).sum(-1) if extra > 0 else prod)
        return result
