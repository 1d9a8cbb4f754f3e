"""Multivariate normal, parameterised by a covariance, a precision or a lower-triangular
scale factor (exactly one). Everything is computed from the Cholesky factor L of the
covariance: log-densities through triangular solves, samples as loc + L eps."""

import math

import rtorch
from rtorch.distributions import _linalg, constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import lazy_property

__all__ = ["MultivariateNormal"]


class MultivariateNormal(Distribution):
    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.dim() < 1:
            raise ValueError(
                "loc must be at least one-dimensional."
            )
        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        matrix = next(m for m in (scale_tril, covariance_matrix, precision_matrix) if m is not None)
        name = ("scale_tril" if scale_tril is not None else
                "covariance_matrix" if covariance_matrix is not None else "precision_matrix")
        if matrix.dim() < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, "
                             "with optional leading batch dimensions")
        batch = rtorch.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        n = loc.shape[-1]
        setattr(self, name, matrix.expand(tuple(batch) + (n, n)))
        self.loc = loc.expand(tuple(batch) + (n,))
        super().__init__(batch, (n,), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = _linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _linalg.cholesky(rtorch.inverse(precision_matrix))

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(MultivariateNormal, batch_shape, _instance)

    @lazy_property
    def scale_tril(self):
        shape = tuple(self._batch_shape) + tuple(self._event_shape) * 2
        return self._unbroadcasted_scale_tril.expand(shape)

    @lazy_property
    def covariance_matrix(self):
        lower = self._unbroadcasted_scale_tril
        shape = tuple(self._batch_shape) + tuple(self._event_shape) * 2
        return (lower @ lower.mT).expand(shape)

    @lazy_property
    def precision_matrix(self):
        shape = tuple(self._batch_shape) + tuple(self._event_shape) * 2
        return rtorch.cholesky_inverse(self._unbroadcasted_scale_tril).expand(shape)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        lower = self._unbroadcasted_scale_tril
        return (lower * lower).sum(-1).expand(tuple(self._batch_shape) + tuple(self._event_shape))

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        eps = rtorch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        lower = self._unbroadcasted_scale_tril
        m = _linalg.mahalanobis_sq(lower, value - self.loc)
        n = self._event_shape[0]
        return -0.5 * (n * math.log(2 * math.pi) + m) - _linalg.half_log_det(lower)

    def entropy(self):
        n = self._event_shape[0]
        h = 0.5 * n * (1.0 + math.log(2 * math.pi)) + _linalg.half_log_det(self._unbroadcasted_scale_tril)
        if len(self._batch_shape) == 0:
            return h
        return h.expand(self._batch_shape)
