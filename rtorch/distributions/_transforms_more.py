"""Transforms onto structured sets (simplex, Cholesky factors, correlation factors) and
transforms combining others along a dim. Re-exported by ``transforms``."""

import math

import rtorch
from rtorch.distributions import constraints
from rtorch.distributions.utils import tril_matrix_to_vec, vec_to_tril_matrix


def _softplus(x):
    return x.clamp_min(0) + (-x.abs()).exp().log1p()


from rtorch.distributions.transforms import Transform, _real_event, _Stateless, sum_rightmost  # noqa: E402


class StickBreakingTransform(_Stateless, Transform):
    """R^(K-1) -> K-simplex: each coordinate takes a sigmoid share of what is left.

    Offsets log(K-1-i) make x = 0 map to the uniform vector."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    @staticmethod
    def _offsets(n, like):
        return rtorch.arange(n, 0, -1, dtype=like.dtype, device=like.device).log()

    def _call(self, x):
        z = (x - self._offsets(x.shape[-1], x)).sigmoid()
        rest = (1 - z).cumprod(-1)
        ones = rtorch.ones(tuple(x.shape[:-1]) + (1,), dtype=x.dtype, device=x.device)
        return rtorch.cat([z, ones], -1) * rtorch.cat([ones, rest], -1)

    def _inverse(self, y):
        head = y[..., :-1]
        left = (1 - head.cumsum(-1)).clamp(min=rtorch.finfo(y.dtype).tiny)
        return head.log() - left.log() + self._offsets(head.shape[-1], y)

    def log_abs_det_jacobian(self, x, y):
        shifted = x - self._offsets(x.shape[-1], x)
        # dy_i/dx_i = y_i (1 - z_i) with log(1 - z_i) = -softplus(shifted)
        return (-_softplus(shifted) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError(
                "Too few dimensions on input"
            )
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        if len(shape) < 1:
            raise ValueError(
                "Too few dimensions on input"
            )
        return tuple(shape[:-1]) + (shape[-1] - 1,)


class LowerCholeskyTransform(_Stateless, Transform):
    """Square matrices -> lower-triangular with positive diagonal (exp of the diagonal)."""

    domain = _real_event(2)
    codomain = constraints.lower_cholesky

    def _call(self, x):
        return x.tril(-1) + x.diagonal(0, -2, -1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(0, -2, -1).log().diag_embed()


class PositiveDefiniteTransform(_Stateless, Transform):
    """Square matrices -> positive-definite matrices L L^T through LowerCholeskyTransform."""

    domain = _real_event(2)
    codomain = constraints.positive_definite

    def _call(self, x):
        lower = LowerCholeskyTransform()(x)
        return lower @ lower.mT

    def _inverse(self, y):
        from rtorch.distributions._linalg import cholesky

        return LowerCholeskyTransform().inv(cholesky(y))


class CorrCholeskyTransform(_Stateless, Transform):
    """R^(D(D-1)/2) -> Cholesky factors of D x D correlation matrices.

    tanh maps each coordinate to a partial correlation z in (-1, 1); row i of L is then
    built by stick-breaking on the unit sphere: L_ij = z_ij * prod_{k<j} sqrt(1 - z_ik^2),
    and the diagonal takes what is left, so every row has unit norm."""

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    @staticmethod
    def _exclusive_cumprod(w):
        ones = rtorch.ones(tuple(w.shape[:-1]) + (1,), dtype=w.dtype, device=w.device)
        return rtorch.cat([ones, w[..., :-1].cumprod(-1)], -1)

    def _call(self, x):
        eps = rtorch.finfo(x.dtype).eps
        r = x.tanh().clamp(min=-1 + eps, max=1 - eps)
        z = vec_to_tril_matrix(r, diag=-1)
        n = z.shape[-1]
        eye = rtorch.eye(n, dtype=x.dtype, device=x.device)
        left = self._exclusive_cumprod((1 - z * z).sqrt())
        return (z + eye) * left

    def _inverse(self, y):
        sq = y * y
        zeros = rtorch.zeros(tuple(y.shape[:-1]) + (1,), dtype=y.dtype, device=y.device)
        used = rtorch.cat([zeros, sq[..., :-1].cumsum(-1)], -1)
        z = y / (1 - used).clamp(min=rtorch.finfo(y.dtype).tiny).sqrt()
        r = tril_matrix_to_vec(z, diag=-1)
        return r.atanh()

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        r = x.tanh()
        z = vec_to_tril_matrix(r, diag=-1)
        left = self._exclusive_cumprod((1 - z * z).sqrt())
        # dL_ij / dz_ij = left_ij for i > j; tanh contributes log(1 - r^2) per coordinate.
        part = tril_matrix_to_vec(left.log(), diag=-1).sum(-1)
        tanh_part = (2.0 * (math.log(2.0) - x - _softplus(-2.0 * x))).sum(-1)
        return part + tanh_part

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError(
                "Too few dimensions on input"
            )
        n = shape[-1]
        d = round((0.25 + 2 * n) ** 0.5 + 0.5)
        if d * (d - 1) // 2 != n:
            raise ValueError(
                "Input is not a flattened lower-diagonal number"
            )
        return tuple(shape[:-1]) + (d, d)

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError(
                "Too few dimensions on input"
            )
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        d = shape[-1]
        return tuple(shape[:-2]) + (d * (d - 1) // 2,)


class CatTransform(Transform):
    """Applies transforms to consecutive slices of sizes ``lengths`` along ``dim``."""

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.transforms = [tr.with_cache(cache_size) if cache_size else tr for tr in tseq]
        self.lengths = [1] * len(self.transforms) if lengths is None else list(lengths)
        if len(self.transforms) != len(self.lengths):
            raise ValueError("CatTransform: lengths and transforms differ in number")
        self.dim = dim

    @property
    def event_dim(self):
        return max(tr.event_dim for tr in self.transforms)

    @property
    def length(self):
        return sum(self.lengths)

    def _ctor_args(self):
        return (self.transforms, self.dim, self.lengths)

    def _map(self, x, fn):
        parts, start = [], 0
        for t, length in zip(self.transforms, self.lengths):
            parts.append(fn(t, x.narrow(self.dim, start, length)))
            start += length
        return parts

    def _call(self, x):
        return rtorch.cat(self._map(x, lambda t, v: t(v)), self.dim)

    def _inverse(self, y):
        return rtorch.cat(self._map(y, lambda t, v: t.inv(v)), self.dim)

    def log_abs_det_jacobian(self, x, y):
        parts, start = [], 0
        for t, length in zip(self.transforms, self.lengths):
            xs, ys = x.narrow(self.dim, start, length), y.narrow(self.dim, start, length)
            term = t.log_abs_det_jacobian(xs, ys)
            if t.event_dim < self.event_dim:
                term = sum_rightmost(term, self.event_dim - t.event_dim)
            parts.append(term)
            start += length
        from_right = self.dim - x.dim() if self.dim >= 0 else self.dim
        if -from_right <= self.event_dim:
            return sum(parts)  # the slices are parts of one event
        # the Jacobian terms lost the event dims, so the dim counts event_dim fewer from the right
        return rtorch.cat(parts, from_right + self.event_dim)

    @property
    def bijective(self):
        return all(tr.bijective for tr in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)


class StackTransform(Transform):
    """Applies transforms to the slices ``x.select(dim, i)`` and stacks the results."""

    def __init__(self, tseq, dim=0, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.transforms = [tr.with_cache(cache_size) if cache_size else tr for tr in tseq]
        self.dim = dim

    def _ctor_args(self):
        return (self.transforms, self.dim)

    def _slices(self, z):
        return [z.select(self.dim, i) for i in range(z.shape[self.dim])]

    def _call(self, x):
        return rtorch.stack([t(v) for t, v in zip(self.transforms, self._slices(x))], self.dim)

    def _inverse(self, y):
        return rtorch.stack([t.inv(v) for t, v in zip(self.transforms, self._slices(y))], self.dim)

    def log_abs_det_jacobian(self, x, y):
        terms = [t.log_abs_det_jacobian(a, b)
                 for t, a, b in zip(self.transforms, self._slices(x), self._slices(y))]
        return rtorch.stack(terms, self.dim)

    @property
    def bijective(self):
        return all(tr.bijective for tr in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.stack([tr.domain for tr in self.transforms], self.dim)

    @constraints.dependent_property
    def codomain(self):
        return constraints.stack([tr.codomain for tr in self.transforms], self.dim)


class CumulativeDistributionTransform(Transform):
    """x -> distribution.cdf(x), onto the unit interval; its Jacobian is the density."""

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)

    def _ctor_args(self):
        return (self.distribution,)
