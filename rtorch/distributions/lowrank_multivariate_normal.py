"""Multivariate normal with covariance W W^T + diag(D) (low-rank plus diagonal).

Densities use the Woodbury identity through the r x r "capacitance" matrix
C = I + W^T D^-1 W, so no n x n factorization is needed."""

import math

import rtorch
from rtorch.distributions import _linalg, constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import lazy_property

__all__ = ["LowRankMultivariateNormal"]


class LowRankMultivariateNormal(Distribution):
    arg_constraints = {
        "loc": constraints.real_vector,
        "cov_factor": constraints.independent(constraints.real, 2),
        "cov_diag": constraints.independent(constraints.positive, 1),
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if loc.dim() < 1:
            raise ValueError(
                "loc must be at least one-dimensional."
            )
        n = loc.shape[-1]
        if cov_factor.dim() < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading batch dimensions")
        if cov_factor.shape[-2] != n:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {n} x m")
        if tuple(cov_diag.shape[-1:]) != (n,):
            raise ValueError(f"cov_diag must be a batch of vectors with shape {(n,)}")
        batch = rtorch.broadcast_shapes(tuple(loc.shape[:-1]), tuple(cov_factor.shape[:-2]),
                                        tuple(cov_diag.shape[:-1]))
        r = cov_factor.shape[-1]
        self.loc = loc.expand(tuple(batch) + (n,))
        self.cov_factor = cov_factor.expand(tuple(batch) + (n, r))
        self.cov_diag = cov_diag.expand(tuple(batch) + (n,))
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = _linalg.cholesky(self._capacitance(cov_factor, cov_diag))
        super().__init__(batch, (n,), validate_args=validate_args)

    @staticmethod
    def _capacitance(w, d):
        wt_dinv = w.mT / d.unsqueeze(-2)
        eye = rtorch.eye(w.shape[-1], dtype=w.dtype, device=w.device)
        return eye + wt_dinv @ w

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(LowRankMultivariateNormal, batch_shape, _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return (w.pow(2).sum(-1) + d).expand(tuple(self._batch_shape) + tuple(self._event_shape))

    @lazy_property
    def covariance_matrix(self):
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        cov = w @ w.mT + d.diag_embed()
        return cov.expand(tuple(self._batch_shape) + tuple(self._event_shape) * 2)

    @lazy_property
    def scale_tril(self):
        return _linalg.cholesky(self.covariance_matrix)

    @lazy_property
    def precision_matrix(self):
        return rtorch.cholesky_inverse(self.scale_tril)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        eps_w = rtorch.randn(tuple(shape[:-1]) + (w.shape[-1],), dtype=self.loc.dtype, device=self.loc.device)
        eps_d = rtorch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (w @ eps_w.unsqueeze(-1)).squeeze(-1) + d.sqrt() * eps_d

    def _log_det(self):
        # log det(W W^T + D) = log det C + sum log D
        return 2 * _linalg.half_log_det(self._capacitance_tril) + self._unbroadcasted_cov_diag.log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        # x^T S^-1 x = x^T D^-1 x - |L_C^-1 W^T D^-1 x|^2
        scaled = diff / d
        plain = (diff * scaled).sum(-1)
        proj = (w.mT @ scaled.unsqueeze(-1)).squeeze(-1)
        correction = _linalg.mahalanobis_sq(self._capacitance_tril, proj)
        m = plain - correction
        n = self._event_shape[0]
        return -0.5 * (n * math.log(2 * math.pi) + m + self._log_det())

    def entropy(self):
        n = self._event_shape[0]
        h = 0.5 * (n * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return h.expand(self._batch_shape) if len(self._batch_shape) else h
