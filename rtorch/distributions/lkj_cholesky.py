"""LKJ distribution over Cholesky factors of correlation matrices.

The density of C = L L^T is proportional to det(C)^(eta - 1); over the free (strictly lower)
entries of L this becomes prod_i L_ii^(d - i + 2 eta - 2) (i from 1), normalised by
Lewandowski, Kurowicka and Joe's constant. Samples use the onion method: row k of L is
sqrt(y) u with u uniform on the unit sphere in R^k and y ~ Beta(k / 2, eta + (d - 1 - k) / 2),
its diagonal entry sqrt(1 - y)."""

import math

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.beta import Beta
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    arg_constraints = dict(concentration=constraints.positive)
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(
                f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}."
            )
        self.dim = dim
        self.concentration = broadcast_all(concentration)[0]
        batch = self.concentration.shape
        rows = rtorch.arange(1, dim, dtype=self.concentration.dtype, device=self.concentration.device)
        eta = self.concentration.unsqueeze(-1)
        self._rows = Beta((rows / 2).expand(tuple(batch) + (dim - 1,)), eta + (dim - 1 - rows) / 2)
        super().__init__(batch, (dim, dim), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._fresh_instance(LKJCholesky, _instance)
        batch_shape = rtorch.Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._rows = self._rows.expand(tuple(batch_shape) + (self.dim - 1,))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with rtorch.no_grad():
            shape = tuple(self._extended_shape(sample_shape))
            y = self._rows.sample(sample_shape)  # (..., d - 1)
            dt, dev = y.dtype, y.device
            noise = rtorch.randn(shape, dtype=dt, device=dev).tril(-1)
            norms = noise.pow(2).sum(-1, keepdim=True).sqrt()
            direction = noise / rtorch.where(norms > 0, norms, rtorch.ones_like(norms))
            zero = rtorch.zeros(tuple(y.shape[:-1]) + (1,), dtype=dt, device=dev)
            y_rows = rtorch.cat([zero, y], -1)  # row 0 has no free entries
            lower = direction * y_rows.sqrt().unsqueeze(-1)
            diag = (1 - y_rows).clamp(min=0).sqrt()
            return lower + diag.diag_embed()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        d = self.dim
        eta = self.concentration
        diag = value.diagonal(0, -2, -1)[..., 1:]
        i = rtorch.arange(2, d + 1, dtype=value.dtype, device=value.device)
        powers = (d - i) + 2 * (eta.unsqueeze(-1) - 1)
        unnormalised = (powers * diag.log()).sum(-1)
        return unnormalised - self._log_normaliser()

    def _log_normaliser(self):
        """log of the integral of det(C)^(eta - 1) over d x d correlation matrices."""
        d, eta = self.dim, self.concentration
        total = rtorch.zeros_like(eta)
        for k in range(1, d):
            m = d - k
            b = eta + (m - 1) / 2
            log_beta = 2 * b.lgamma() - (2 * b).lgamma()
            total = total + (2 * eta - 2 + m) * m * math.log(2) + m * log_beta
        return total
