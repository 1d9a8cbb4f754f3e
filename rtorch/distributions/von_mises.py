"""Von Mises distribution on the circle [-pi, pi), sampled by Best and Fisher's rejection
method (run in float64)."""

import math
from numbers import Number

import rtorch
from rtorch import _C
from rtorch.distributions import constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import broadcast_all, lazy_property

__all__ = ["VonMises"]


class VonMises(Distribution):
    arg_constraints = dict(loc=constraints.real, concentration=constraints.positive)
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        (self.loc, self.concentration) = broadcast_all(loc, concentration)
        scalar = isinstance(loc, Number) and isinstance(concentration, Number)
        super().__init__(() if scalar else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(VonMises, batch_shape, _instance)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self.concentration
        # log I0(k) = log(i0e(k)) + k
        log_i0 = rtorch.special.i0e(k).log() + k
        return k * (value - self.loc).cos() - math.log(2 * math.pi) - log_i0

    @lazy_property
    def _proposal_r(self):
        k = self.concentration.detach().to(_C.float64)
        tau = 1 + (1 + 4 * k * k).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * k)
        r = (1 + rho * rho) / (2 * rho)
        # small k: rho -> k/2 ... r -> 1/k; use that limit to avoid 0/0
        return rtorch.where(k < 1e-5, 1 / k.clamp(min=1e-300), r)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        with rtorch.no_grad():
            k = self.concentration.detach().to(_C.float64).expand(shape).reshape(-1)
            r = self._proposal_r.expand(shape).reshape(-1)
            out = rtorch.zeros(k.numel(), dtype=_C.float64, device=k.device)
            pending = rtorch.arange(k.numel(), device=k.device)
            while pending.numel():
                n = pending.numel()
                u1, u2, u3 = (rtorch.rand(n, dtype=_C.float64, device=k.device) for _ in range(3))
                kk, rr = k[pending], r[pending]
                z = (math.pi * u1).cos()
                f = ((1 + rr * z) / (rr + z)).clamp(-1, 1)
                c = kk * (rr - f)
                ok = (c * (2 - c) - u2 > 0) | ((c / u2).log() + 1 - c >= 0)
                theta = (u3 - 0.5).sign() * f.acos()
                out[pending[ok]] = theta[ok]
                pending = pending[~ok]
            x = out.reshape(shape) + self.loc.detach().to(_C.float64)
            x = (x + math.pi).remainder(2 * math.pi) - math.pi
            return x.to(self.loc.dtype)

    @property
    def mean(self):
        return self.loc

    @property
    def circular_mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        k = self.concentration
        ratio = rtorch.special.i1e(k) / rtorch.special.i0e(k)
        return 1 - ratio

    @property
    def circular_variance(self):
        return self.variance
