"""Wishart distribution over positive-definite p x p matrices, parameterised by ``df`` and one
of a covariance, a precision or a lower Cholesky factor of the scale matrix.

Samples use Bartlett's decomposition, X = L A A^T L^T with A lower-triangular, A_ii^2 ~
Chi2(df - i) and standard normal entries below the diagonal; the chi-squared draws are
reparameterised gamma samples, so ``rsample`` is differentiable in ``df`` and the scale."""

import math

import rtorch
from rtorch.distributions import _linalg, _sampling, constraints
from rtorch.distributions.distribution import Distribution
from rtorch.distributions.utils import lazy_property

__all__ = ["Wishart"]


class Wishart(Distribution):
    support = constraints.positive_definite
    has_rsample = True

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError(
                "Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified."
            )
        matrix = given[0]
        if matrix.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        p = matrix.shape[-1]
        if not isinstance(df, rtorch.Tensor):
            df = rtorch.tensor(float(df), dtype=matrix.dtype, device=matrix.device)
        batch = rtorch.broadcast_shapes(tuple(df.shape), tuple(matrix.shape[:-2]))
        self.df = df.expand(batch)
        full = tuple(batch) + (p, p)
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(full)
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(full)
            self._unbroadcasted_scale_tril = _linalg.cholesky(covariance_matrix)
        else:
            self.precision_matrix = precision_matrix.expand(full)
            self._unbroadcasted_scale_tril = _linalg.cholesky(rtorch.inverse(precision_matrix))
        super().__init__(batch, (p, p), validate_args=validate_args)

    @property
    def arg_constraints(self):
        # df must exceed p - 1, which depends on the event size
        return {
            "covariance_matrix": constraints.positive_definite,
            "precision_matrix": constraints.positive_definite,
            "scale_tril": constraints.lower_cholesky,
            "df": constraints.greater_than(self._event_shape[-1] - 1),
        }

    def expand(self, batch_shape, _instance=None):
        return self._expand_to(Wishart, batch_shape, _instance)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(tuple(self._batch_shape) + tuple(self._event_shape))

    @lazy_property
    def covariance_matrix(self):
        low = self._unbroadcasted_scale_tril
        return (low @ low.mT).expand(tuple(self._batch_shape) + tuple(self._event_shape))

    @lazy_property
    def precision_matrix(self):
        inv = rtorch.cholesky_inverse(self._unbroadcasted_scale_tril)
        return inv.expand(tuple(self._batch_shape) + tuple(self._event_shape))

    @property
    def _p(self):
        return self._event_shape[-1]

    @property
    def mean(self):
        return self.df.unsqueeze(-1).unsqueeze(-1) * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self._p - 1
        factor = rtorch.where(factor > 0, factor, rtorch.full_like(factor, math.nan))
        return factor.unsqueeze(-1).unsqueeze(-1) * self.covariance_matrix

    @property
    def variance(self):
        cov = self.covariance_matrix
        diag = cov.diagonal(0, -2, -1)
        outer = diag.unsqueeze(-1) * diag.unsqueeze(-2)
        return self.df.unsqueeze(-1).unsqueeze(-1) * (cov.pow(2) + outer)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        p = self._p
        lead = shape[:-2]
        df = self.df.expand(lead)
        offsets = rtorch.arange(p, dtype=df.dtype, device=df.device)
        chi2 = 2 * _sampling.standard_gamma((df.unsqueeze(-1) - offsets) / 2)
        below = rtorch.randn(shape, dtype=df.dtype, device=df.device).tril(-1)
        bartlett = below + chi2.sqrt().diag_embed()
        factor = self._unbroadcasted_scale_tril @ bartlett
        return factor @ factor.mT

    def _half_log_det_scale(self):
        return _linalg.half_log_det(self._unbroadcasted_scale_tril)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        p, nu = self._p, self.df
        value_tril = _linalg.cholesky(value)
        low = self._unbroadcasted_scale_tril
        batch = rtorch.broadcast_shapes(tuple(low.shape[:-2]), tuple(value_tril.shape[:-2]))
        solved = _linalg.solve_triangular(low.expand(tuple(batch) + (p, p)),
                                          value_tril.expand(tuple(batch) + (p, p)), upper=False)
        trace = solved.pow(2).sum((-2, -1))  # tr(S^-1 X)
        log_det_x = 2 * _linalg.half_log_det(value_tril)
        return (0.5 * (nu - p - 1) * log_det_x - 0.5 * trace - 0.5 * nu * p * math.log(2)
                - nu * self._half_log_det_scale() - (0.5 * nu).mvlgamma(p))

    def entropy(self):
        p, nu = self._p, self.df
        half = 0.5 * nu
        offsets = rtorch.arange(p, dtype=nu.dtype, device=nu.device) / 2
        psi_p = (half.unsqueeze(-1) - offsets).digamma().sum(-1)
        return ((p + 1) * self._half_log_det_scale() + 0.5 * p * (p + 1) * math.log(2)
                + half.mvlgamma(p) - 0.5 * (nu - p - 1) * psi_p + half * p)
