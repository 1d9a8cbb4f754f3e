"""More ``Tensor`` methods, each composed from rtorch's native tensor ops so that autograd
flows through them: scans, order statistics, histograms, special functions, small dense
linear algebra, scatter/put variants and the in-place forms of out-of-place ops."""

import builtins
import math
from collections import namedtuple

from rtorch import _C
from rtorch import return_types as _rt
from rtorch._autocast_ops import autocast_op
from rtorch._out import write_out as _write_out
from rtorch._profiled import profiled as _profiled

Tensor = _C.Tensor
_pymax, _pymin, _pyabs, _pysum = builtins.max, builtins.min, builtins.abs, builtins.sum

_aminmax_base = namedtuple("aminmax", ["min", "max"])
_histogram_base = namedtuple("histogram", ["hist", "bin_edges"])
_frexp_base = namedtuple("frexp", ["mantissa", "exponent"])
_slogdet_base = namedtuple("slogdet", ["sign", "logabsdet"])
_tsolve_base = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
for _cls in (_aminmax_base, _histogram_base, _frexp_base, _slogdet_base, _tsolve_base):
    _cls.__module__ = "torch.return_types"


# ---------------------------------------------------------------- helpers


def _wrap_dim(dim, ndim):
    n = _pymax(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _as_tensor(value, like):
    if isinstance(value, Tensor):
        return value
    return _C.tensor(value, device=like.device)


def _to_float(t):
    return t if t.is_floating_point() else t.to(_C._get_default_dtype())


def _require_float(t, op):
    if not t.is_floating_point():
        raise NotImplementedError(f'"{op}" not implemented for \'{_dtype_name(t.dtype)}\'')


_NAMES = {
    "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
    "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
    "float64": "Double",
}


def _dtype_name(dt):
    return _NAMES.get(str(dt).split(".")[-1], str(dt))


def _last(t, dim):
    """t with `dim` moved last (a view)."""
    return t.movedim(dim, -1) if t.dim() > 0 else t.reshape(1)


def _restore(t, dim, ndim, keepdim):
    """Undo `_last` for a result whose last axis was reduced away (or kept as size 1)."""
    if ndim == 0:
        return t.reshape(())
    if keepdim:
        return t.unsqueeze(-1).movedim(-1, dim)
    return t


def _no_grad_ctx():
    from rtorch.autograd.grad_mode import no_grad

    return no_grad()


def _inplace(name):
    """``x.name_(...)``: the out-of-place result written back into x."""
    def method(self, *args, **kwargs):
        return self.copy_(getattr(self, name)(*args, **kwargs))

    method.__name__ = name + "_"
    return method


# ---------------------------------------------------------------- BLAS-like


def _check_2d(t, op, name, nd=2):
    if t.dim() != nd:
        raise RuntimeError(f"{op}: {name} must be a {nd}D tensor, got {t.dim()}D")


@autocast_op("addbmm")
def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
    _check_2d(batch1, "addbmm", "batch1", 3)
    _check_2d(batch2, "addbmm", "batch2", 3)
    return _blend_to(self, batch1.bmm(batch2).sum(0), beta, alpha)


@autocast_op("baddbmm")
def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    _check_2d(batch1, "baddbmm", "batch1", 3)
    _check_2d(batch2, "baddbmm", "batch2", 3)
    return _blend_to(self, batch1.bmm(batch2), beta, alpha)


@autocast_op("addmm")
def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    _check_2d(mat1, "addmm", "mat1", 2)
    _check_2d(mat2, "addmm", "mat2", 2)
    return _blend_to(self, mat1.mm(mat2), beta, alpha)


@autocast_op("addmv")
def addmv(self, mat, vec, *, beta=1, alpha=1):
    _check_2d(mat, "addmv", "mat", 2)
    _check_2d(vec, "addmv", "vec", 1)
    return _blend_to(self, mat.mv(vec), beta, alpha)


@autocast_op("addr")
def addr(self, vec1, vec2, *, beta=1, alpha=1):
    _check_2d(vec1, "addr", "vec1", 1)
    _check_2d(vec2, "addr", "vec2", 1)
    return _blend_to(self, vec1.outer(vec2), beta, alpha)


def _blend_to(self, prod, beta, alpha):
    # beta == 0 ignores self entirely, so NaN/inf in self do not propagate.
    out = prod if alpha == 1 else prod * alpha
    if beta != 0:
        out = out + (self if beta == 1 else self * beta)
    return _bshape(out, self)


def _bshape(out, self):
    # The result has the broadcast shape of self and the product even when beta == 0.
    shape = _broadcast(self.shape, out.shape)
    return out if tuple(out.shape) == shape else out.expand(shape).clone()


def _bcast(*tensors):
    shape = ()
    for t in tensors:
        shape = _broadcast(shape, t.shape)
    return [t.expand(shape) for t in tensors]


def _broadcast(a, b):
    a, b = tuple(a), tuple(b)
    n = _pymax(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and 1 not in (x, y):
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                f"at non-singleton dimension {i}"
            )
        out.append(y if x == 1 else x)
    return tuple(out)


@autocast_op("vdot")
def vdot(self, other):
    if self.dim() != 1 or other.dim() != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {self.dim()}D and {other.dim()}D tensors"
        )
    return self.dot(other)


def kron(self, other):
    n = _pymax(self.dim(), other.dim())
    a = self.reshape((1,) * (n - self.dim()) + tuple(self.shape))
    b = other.reshape((1,) * (n - other.dim()) + tuple(other.shape))
    # Interleave axes: a's i-th axis goes before b's i-th, then merge each pair.
    ashape, bshape = [], []
    for i in range(n):
        ashape += [a.shape[i], 1]
        bshape += [1, b.shape[i]]
    prod = a.reshape(ashape) * b.reshape(bshape)
    return prod.reshape([a.shape[i] * b.shape[i] for i in range(n)])


def cross(self, other, dim=None):
    if dim is None:
        shape = _broadcast(self.shape, other.shape)
        found = [i for i, s in enumerate(shape) if s == 3]
        if not found:
            raise RuntimeError("no dimension of size 3 in input")
        dim = found[0]
    d = _wrap_dim(dim, _pymax(self.dim(), other.dim()))
    if self.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. "
            f"Got {self.shape[d]} and {other.shape[d]}"
        )
    a = [self.select(d, i) for i in range(3)]
    b = [other.select(d, i) for i in range(3)]
    parts = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    return _C.stack(parts, d)


# ---------------------------------------------------------------- linear algebra
# The factorization-based methods forward to rtorch.linalg (imported late: it is loaded
# after this module).

_qr_base = namedtuple("qr", ["Q", "R"])
_svd_base = namedtuple("svd", ["U", "S", "V"])
_qr_base.__module__ = _svd_base.__module__ = "torch.return_types"


def _la():
    from rtorch import linalg

    return linalg


def det(self):
    return _la().det(self)


def slogdet(self):
    sign, logabsdet = _la().slogdet(self)
    return _slogdet_base(sign, logabsdet)


def logdet(self):
    if self.dim() < 2:
        raise RuntimeError("linalg.logdet: The input tensor A must have at least 2 dimensions.")
    s, la = slogdet(self)
    nan = _C.full_like(la, float("nan"))
    return _C.where(s < 0, nan, _C.where(s == 0, _C.full_like(la, -math.inf), la))


@autocast_op("inverse")
def inverse(self):
    return _la().inv(self)


@autocast_op("pinverse")
def pinverse(self, rcond=1e-15):
    """``torch.pinverse``: ``linalg.pinv`` with ``rcond`` as its relative tolerance."""
    return _la().pinv(self, rtol=rcond)


def matrix_power(self, n):
    return _la().matrix_power(self, n)


def matrix_exp(self):
    from rtorch.linalg._core import square_float

    square_float(self, "linalg.matrix_exp")
    n = self.shape[-1]
    with _no_grad_ctx():
        norm = float(self.abs().sum(-2).amax()) if self.numel() else 0.0
    # Scaling and squaring around a degree-18 Taylor polynomial.
    s = _pymax(0, math.ceil(math.log2(norm)) + 1) if norm > 0.5 else 0
    a = self / (2.0**s) if s else self
    eye = _C.eye(n, dtype=self.dtype, device=self.device).expand(self.shape)
    term, total = eye, eye
    for k in range(1, 19):
        term = term.matmul(a) / k
        total = total + term
    for _ in range(s):
        total = total.matmul(total)
    return total


@autocast_op("cholesky_solve")
def cholesky_solve(self, input2, upper=False):
    """X with A X = B for A = L Lᵀ (or Uᵀ U when `upper`), given the factor `input2`."""
    la = _la()
    lower = input2.mT if upper else input2
    y = la.solve_triangular(lower, self, upper=False)
    return la.solve_triangular(lower.mT, y, upper=True)


@autocast_op("cholesky_inverse")
def cholesky_inverse(self, upper=False):
    n = self.shape[-1]
    eye = _C.eye(n, dtype=self.dtype, device=self.device).expand(self.shape)
    return cholesky_solve(eye, self, upper)


@autocast_op("cholesky")
def cholesky(self, upper=False):
    return _la().cholesky(self, upper=upper)


@autocast_op("qr")
def qr(self, some=True):
    q, r = _la().qr(self, "reduced" if some else "complete")
    return _qr_base(q, r)


@autocast_op("svd")
def svd(self, some=True, compute_uv=True):
    la = _la()
    if not compute_uv:
        m, n = self.shape[-2], self.shape[-1]
        batch = tuple(self.shape[:-2])
        s = la.svdvals(self)
        zeros = [_C.zeros(batch + (k, k), dtype=self.dtype, device=self.device) for k in (m, n)]
        return _svd_base(zeros[0], s, zeros[1])
    u, s, vh = la.svd(self, full_matrices=not some)
    return _svd_base(u, s, vh.mT)


@autocast_op("triangular_solve")
def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False):
    a = A.mT if transpose else A
    sol = _la().solve_triangular(a, self, upper=upper != transpose, unitriangular=unitriangular)
    batch = tuple(sol.shape[:-2])
    return _tsolve_base(sol, A.expand(batch + tuple(A.shape[-2:])).clone())


@autocast_op("lu_solve")
def lu_solve(self, LU_data, LU_pivots):
    return _la().lu_solve(LU_data, LU_pivots, self)


def lu(self, pivot=True, get_infos=False):
    lu_, piv, info = _la().lu_factor_ex(self, pivot=pivot)
    return (lu_, piv, info) if get_infos else (lu_, piv)


# ---------------------------------------------------------------- reductions and scans


def aminmax(self, *, dim=None, keepdim=False):
    if self.numel() == 0:
        raise RuntimeError(
            "aminmax(): Expected reduction dim to be specified for input.numel() == 0."
        )
    if dim is None:
        if keepdim:
            return _aminmax_base(
                self.amin(list(range(self.dim())), True), self.amax(list(range(self.dim())), True)
            )
        return _aminmax_base(self.min(), self.max())
    return _aminmax_base(self.amin(dim, keepdim), self.amax(dim, keepdim))


def nanmean(self, dim=None, keepdim=False, *, dtype=None):
    if not self.is_floating_point():
        raise NotImplementedError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{_dtype_name(self.dtype)}"
        )
    x = self.to(dtype) if dtype is not None else self
    count = (~x.isnan()).sum(dim, keepdim=keepdim) if dim is not None else (~x.isnan()).sum()
    total = x.nansum(dim, keepdim=keepdim) if dim is not None else x.nansum()
    if keepdim and dim is None:
        total = total.reshape([1] * x.dim())
        count = count.reshape([1] * x.dim())
    return total / count


def _scan(x, dim, combine):
    """Inclusive prefix scan along `dim` by recursive doubling (log2(n) whole-tensor steps).
    `combine(earlier, later)` merges two partial results, each a tuple of tensors."""
    n = x[0].shape[dim]
    s = 1
    while s < n:
        head = [t.narrow(dim, 0, s) for t in x]
        prev = [t.narrow(dim, 0, n - s) for t in x]
        cur = [t.narrow(dim, s, n - s) for t in x]
        merged = combine(prev, cur)
        x = [_C.cat([h, m], dim) for h, m in zip(head, merged)]
        s *= 2
    return x


def _cum_extreme(self, dim, greater, rt, name):
    d = _wrap_dim(dim, self.dim())
    if self.dim() == 0:
        return rt((self.clone(), _C.zeros((), dtype=_C.int64, device=self.device)))
    idx = _C.arange(self.shape[d], device=self.device)
    shape = [1] * self.dim()
    shape[d] = -1
    idx = idx.reshape(shape).expand(self.shape)

    def combine(prev, cur):
        pv, pi = prev
        cv, ci = cur
        # Ties and NaN take the later position, so NaN propagates once seen.
        better = (cv >= pv) if greater else (cv <= pv)
        take = better | cv.isnan() if self.is_floating_point() else better
        if self.is_floating_point():
            take = take & ~(pv.isnan() & ~cv.isnan())
        return [_C.where(take, cv, pv), _C.where(take, ci, pi)]

    with _no_grad_ctx():
        _, indices = _scan([self.detach(), idx], d, combine)
    return rt((self.gather(d, indices), indices))


@_profiled("aten::cummax")
def cummax(self, dim):
    return _cum_extreme(self, dim, True, _rt.cummax, "cummax")


@_profiled("aten::cummin")
def cummin(self, dim):
    return _cum_extreme(self, dim, False, _rt.cummin, "cummin")


def _logaddexp(a, b):
    m = a.maximum(b)
    both_inf = a.isinf() & b.isinf() & (a == b)
    diff = _C.where(both_inf, _C.zeros_like(a), a - b)
    return m + (-diff.abs()).exp().log1p()


@_profiled("aten::logcumsumexp")
def logcumsumexp(self, dim):
    _require_float(self, "logcumsumexp_out_cpu")
    d = _wrap_dim(dim, self.dim())
    if self.dim() == 0:
        return self.clone()
    (out,) = _scan([self], d, lambda p, c: [_logaddexp(p[0], c[0])])
    return out


def cumsum_(self, dim, *, dtype=None):
    return self.copy_(self.cumsum(dim, dtype=dtype))


def cumprod_(self, dim, *, dtype=None):
    return self.copy_(self.cumprod(dim, dtype=dtype))


def _sorted_along(self, dim):
    d = _wrap_dim(dim, self.dim())
    x = _last(self, d)
    with _no_grad_ctx():
        _, order = x.detach().sort(-1)
    return x, order, d


@_profiled("aten::kthvalue")
def kthvalue(self, k, dim=-1, keepdim=False):
    x, order, d = _sorted_along(self, dim)
    n = x.shape[-1]
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    idx = order[..., k - 1 : k]
    vals = x.gather(-1, idx)
    vals, idx = vals.squeeze(-1), idx.squeeze(-1)
    return _rt.kthvalue((_restore(vals, d, self.dim(), keepdim), _restore(idx, d, self.dim(), keepdim)))


def _median(self, dim, keepdim, ignore_nan, name):
    if dim is None:
        flat = self.reshape(-1)
        if flat.numel() == 0:
            return _C.full((), float("nan"), dtype=self.dtype)
        x = flat
        with _no_grad_ctx():
            _, order = x.detach().sort(-1)
            pos = _median_pos(x.detach(), ignore_nan)
        return x.gather(-1, order.gather(-1, pos)).reshape(())
    d = _wrap_dim(dim, self.dim())
    if self.dim() and self.shape[d] == 0:
        raise IndexError(
            f"{name}(): Expected reduction dim {d} to have non-zero size."
        )
    x, order, d = _sorted_along(self, d)
    with _no_grad_ctx():
        pos = _median_pos(x.detach(), ignore_nan)
        idx = order.gather(-1, pos)
    vals = x.gather(-1, idx).squeeze(-1)
    idx = idx.squeeze(-1)
    rt = _rt.median
    return rt((_restore(vals, d, self.dim(), keepdim), _restore(idx, d, self.dim(), keepdim)))


def _median_pos(x, ignore_nan):
    """Position in the ascending sort (NaN last) of the lower median of each row."""
    n = x.shape[-1]
    if not x.is_floating_point():
        return _C.full(tuple(x.shape[:-1]) + (1,), (n - 1) // 2, dtype=_C.int64)
    nans = x.isnan().sum(-1, keepdim=True)
    if ignore_nan:
        valid = n - nans
        # All-NaN rows point at a NaN.
        return _C.where(valid > 0, (valid - 1) // 2, _C.zeros_like(valid))
    # Any NaN makes the median NaN: point at the first NaN in sorted order.
    return _C.where(nans > 0, n - nans, _C.full_like(nans, (n - 1) // 2))


@_profiled("aten::median")
def median(self, dim=None, keepdim=False):
    return _median(self, dim, keepdim, False, "median")


@_profiled("aten::nanmedian")
def nanmedian(self, dim=None, keepdim=False):
    return _median(self, dim, keepdim, True, "nanmedian")


@_profiled("aten::mode")
def mode(self, dim=-1, keepdim=False):
    d = _wrap_dim(dim, self.dim())
    x = _last(self, d)
    with _no_grad_ctx():
        xd = x.detach()
        eq = xd.unsqueeze(-1) == xd.unsqueeze(-2)
        if xd.is_floating_point():
            eq = eq | (xd.isnan().unsqueeze(-1) & xd.isnan().unsqueeze(-2))
        counts = eq.sum(-1)
        best = counts.amax(-1, keepdim=True)
        # Among the most frequent values the smallest wins; its last position is reported.
        key = xd.to(_C.float64) if not xd.is_floating_point() else xd
        big = _C.full_like(key, math.inf)
        cand = _C.where(counts == best, key, big)
        mval = cand.amin(-1, keepdim=True)
        hit = (counts == best) & ((key == mval) | (key.isnan() & mval.isnan()))
        n = x.shape[-1]
        pos = _C.where(hit, _C.arange(n).expand(hit.shape), _C.full(hit.shape, -1, dtype=_C.int64))
        idx = pos.amax(-1, keepdim=True)
    vals = x.gather(-1, idx).squeeze(-1)
    idx = idx.squeeze(-1)
    return _rt.mode((_restore(vals, d, self.dim(), keepdim), _restore(idx, d, self.dim(), keepdim)))


@_profiled("aten::msort")
def msort(self):
    return self.sort(0).values


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(self, q, dim, keepdim, interpolation, ignore_nan, name):
    if self.dtype not in (_C.float32, _C.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or "
            f"nearest. Got {interpolation}"
        )
    scalar_q = not isinstance(q, Tensor) or q.dim() == 0
    if isinstance(q, Tensor):
        if q.dim() > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.dtype != self.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        qt = q.reshape(-1)
    else:
        qt = _C.tensor([float(q)], dtype=self.dtype)
    with _no_grad_ctx():
        bad = ((qt < 0) | (qt > 1)).any()
    if bool(bad):
        if scalar_q and not isinstance(q, Tensor):
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if dim is None:
        x = self.reshape(-1)
        d = 0
        out_nd = 0
    else:
        d = _wrap_dim(dim, self.dim())
        x = _last(self, d)
        out_nd = self.dim()
    if x.shape[-1] == 0:
        raise IndexError(f"{name}() input tensor must be non-empty")
    with _no_grad_ctx():
        srt, order = x.detach().sort(-1)
        nans = srt.isnan().sum(-1, keepdim=True)
        n = x.shape[-1]
        valid = (n - nans) if ignore_nan else _C.full_like(nans, n)
        last = (valid - 1).clamp_min(0).to(self.dtype)
        rank = qt.to(self.dtype) * last  # (..., Q)
        lo = rank.floor()
        hi = rank.ceil()
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            # Round half to even, like the reference implementation's round().
            lo = hi = rank.round()
        lo_i, hi_i = lo.to(_C.int64), hi.to(_C.int64)
        w = (rank - lo) if interpolation == "linear" else None
    vlo = x.gather(-1, order.gather(-1, lo_i.clamp(0, n - 1)))
    vhi = x.gather(-1, order.gather(-1, hi_i.clamp(0, n - 1)))
    if interpolation == "linear":
        out = vlo + (vhi - vlo) * w
    elif interpolation == "midpoint":
        out = (vlo + vhi) * 0.5
    else:
        out = vlo
    nan = _C.full_like(out, float("nan"))
    if ignore_nan:
        out = _C.where(valid == 0, nan, out)
    else:
        out = _C.where(nans > 0, nan, out)
    # out: (..., Q) -> Q first, then the reduced dim restored if keepdim.
    out = out.movedim(-1, 0)
    if dim is None:
        if keepdim:
            out = out.reshape((out.shape[0],) + (1,) * self.dim())
    elif keepdim:
        out = out.unsqueeze(-1).movedim(-1, d + 1)
    if out_nd == 0 and dim is not None and self.dim() == 0:
        out = out.reshape(out.shape[0])
    return out[0] if scalar_q else out


@autocast_op("quantile")
def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(self, q, dim, keepdim, interpolation, False, "quantile")


@autocast_op("nanquantile")
def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(self, q, dim, keepdim, interpolation, True, "nanquantile")


def histc(self, bins=100, min=0, max=0):
    if not self.is_floating_point():
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_dtype_name(self.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    with _no_grad_ctx():
        x = self.detach().reshape(-1)
        lo, hi = float(min), float(max)
        if lo == hi and x.numel():
            lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if lo > hi:
            raise RuntimeError("torch.histc: max must be larger than min")
        if math.isinf(lo) or math.isinf(hi) or math.isnan(lo) or math.isnan(hi):
            raise RuntimeError(
                f"torch.histc: range of [{lo}, {hi}] is not finite"
            )
        inside = (x >= lo) & (x <= hi)
        pos = ((x.to(_C.float64) - lo) * bins / (hi - lo)).floor().to(_C.int64).clamp(0, bins - 1)
        pos = pos[inside]
        out = _C.zeros(bins, dtype=self.dtype, device=self.device)
        return out.index_add(0, pos, _C.ones(pos.shape, dtype=self.dtype))


def histogram(self, bins=100, *, range=None, weight=None, density=False):
    if not self.is_floating_point():
        raise NotImplementedError(
            f"\"histogramdd\" not implemented for '{_dtype_name(self.dtype)}'"
        )
    with _no_grad_ctx():
        x = self.detach().reshape(-1)
        if isinstance(bins, Tensor):
            edges = bins.to(self.dtype)
            nb = edges.numel() - 1
        else:
            nb = int(bins)
            if range is not None:
                lo, hi = float(range[0]), float(range[1])
            elif x.numel():
                lo, hi = float(x.min()), float(x.max())
            else:
                lo, hi = 0.0, 0.0
            if lo > hi:
                raise RuntimeError(
                    "torch.histogram(): min should not exceed max, but got min "
                    f"{lo} max {hi}"
                )
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges = _C.linspace(lo, hi, nb + 1, dtype=self.dtype)
        e = edges.to(_C.float64)
        xv = x.to(_C.float64)
        inside = (xv >= e[0]) & (xv <= e[-1])
        # Bin i holds [e_i, e_{i+1}), the last one also its right edge.
        pos = (xv.unsqueeze(-1) >= e[1:-1].unsqueeze(0)).sum(-1) if nb > 1 else _C.zeros(
            xv.shape, dtype=_C.int64
        )
        w = weight.reshape(-1).to(self.dtype) if weight is not None else _C.ones(
            x.shape, dtype=self.dtype
        )
        hist = _C.zeros(nb, dtype=self.dtype).index_add(0, pos[inside], w[inside])
        if density:
            widths = (edges[1:] - edges[:-1])
            hist = hist / (hist.sum() * widths)
    return _histogram_base(hist, edges)


def bincount(self, weights=None, minlength=0):
    if self.is_floating_point():
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_dtype_name(self.dtype)}'")
    if self.dim() != 1 or self.is_floating_point() or self.dtype == _C.bool:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    with _no_grad_ctx():
        if self.numel() and bool((self < 0).any()):
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        size = _pymax(int(self.max()) + 1 if self.numel() else 0, minlength)
    idx = self.to(_C.int64)
    if weights is None:
        return _C.zeros(size, dtype=_C.int64).index_add(0, idx, _C.ones(idx.shape, dtype=_C.int64))
    if weights.shape != self.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    # Float weights count in float32 only when they are float32; everything else in float64.
    dt = _C.float32 if weights.dtype == _C.float32 else _C.float64
    return _C.zeros(size, dtype=dt).index_add(0, idx, weights.to(dt))


def diff(self, n=1, dim=-1, prepend=None, append=None):
    if self.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = _wrap_dim(dim, self.dim())
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    parts = [p for p in (prepend, self, append) if p is not None]
    x = _C.cat([_as_tensor(p, self) for p in parts], d) if len(parts) > 1 else self
    for _ in builtins.range(n):
        m = x.shape[d]
        if m == 0:
            break
        a, b = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = (a ^ b) if x.dtype == _C.bool else a - b
    return x


@autocast_op("dist")
def dist(self, other, p=2):
    return (self - other).norm(p)


def cov(self, *, correction=1, fweights=None, aweights=None):
    if self.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with {self.dim()} dimensions")
    x = self.reshape(1, -1) if self.dim() < 2 else self
    x = x if x.is_floating_point() else x.to(_C._get_default_dtype())
    w = None
    if fweights is not None:
        w = fweights
    if aweights is not None:
        w = aweights if w is None else w * aweights
    n = x.shape[1]
    if w is None:
        mean = x.mean(1, keepdim=True)
        norm = n - correction
        xc = x - mean
        c = xc.matmul(xc.t()) / _pymax(norm, 0)
    else:
        w = w.to(x.dtype)
        wsum = w.sum()
        mean = (x * w).sum(1, keepdim=True) / wsum
        if correction == 0:
            norm = wsum
        elif aweights is None:
            norm = wsum - correction
        else:
            norm = wsum - correction * (w * aweights).sum() / wsum
        xc = x - mean
        c = (xc * w).matmul(xc.t()) / norm.clamp_min(0)
    return c.squeeze() if self.dim() < 2 or x.shape[0] == 1 else c


def corrcoef(self):
    c = cov(self)
    if c.dim() == 0:
        return c / c
    d = c.diagonal()
    std = d.sqrt()
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return c.clamp(-1, 1)


@autocast_op("renorm")
def renorm(self, p, dim, maxnorm):
    d = _wrap_dim(dim, self.dim())
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    others = [i for i in builtins.range(self.dim()) if i != d]
    norms = self.norm(p, dim=others, keepdim=True) if others else self.abs()
    scale = _C.where(norms > maxnorm, maxnorm / (norms + 1e-7), _C.ones_like(norms))
    return self * scale


def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
    if dim is None:
        x = self.reshape(-1)
        n = x.numel()
        if n == 0:
            keep = _C.zeros(0, dtype=_C.bool)
        else:
            keep = _C.cat([_C.ones(1, dtype=_C.bool), x[1:] != x[:-1]])
        values = x[keep]
        inverse_shape = self.shape
    else:
        d = _wrap_dim(dim, self.dim())
        x = self.movedim(d, 0)
        n = x.shape[0]
        flat = x.reshape(n, -1)
        if n == 0:
            keep = _C.zeros(0, dtype=_C.bool)
        else:
            change = (flat[1:] != flat[:-1]).any(1) if flat.shape[1] else _C.zeros(n - 1, dtype=_C.bool)
            keep = _C.cat([_C.ones(1, dtype=_C.bool), change])
        values = x[keep].movedim(0, d)
        inverse_shape = (n,)
    out = [values]
    if return_inverse:
        inv = keep.to(_C.int64).cumsum(0) - 1
        out.append(inv.reshape(inverse_shape))
    if return_counts:
        starts = keep.nonzero().reshape(-1)
        ends = _C.cat([starts[1:], _C.tensor([n])]) if starts.numel() else starts
        out.append(ends - starts)
    return out[0] if len(out) == 1 else tuple(out)


# ---------------------------------------------------------------- elementwise


def deg2rad(self):
    return _to_float(self) * (math.pi / 180.0)


def rad2deg(self):
    return _to_float(self) * (180.0 / math.pi)


def sinc(self):
    x = _to_float(self)
    px = x * math.pi
    zero = x == 0
    safe = _C.where(zero, _C.ones_like(px), px)
    return _C.where(zero, _C.ones_like(px), safe.sin() / safe)


def logit(self, eps=None):
    x = _to_float(self)
    if eps is not None:
        x = x.clamp(eps, 1 - eps)
    return (x / (1 - x)).log()


def _operand(self, other):
    return other if isinstance(other, Tensor) else _C.tensor(other, device=self.device)


def _tpromote(self, other):
    """Both operands in the dtype PyTorch's binary-op promotion gives (floating)."""
    from rtorch._tensor import _result_type

    o = _operand(self, other)
    if not isinstance(other, Tensor):
        # A Python scalar only lifts the category, like a 0-d tensor.
        o = _C.tensor(other, dtype=_C.float64 if isinstance(other, float) else None)
    dt = _result_type(self, o)
    if not dt.is_floating_point:
        dt = _C._get_default_dtype()
    return self.to(dt), o.to(dt)


def xlogy(self, other):
    if not isinstance(self, Tensor):
        self = _C.tensor(self)
    x, y = _tpromote(self, other)
    prod = x * y.log()
    return _C.where((x == 0) & ~y.isnan(), _C.zeros_like(prod), prod)


def hypot(self, other):
    _require_float(self, "hypot_cpu")
    x, y = _tpromote(self, other)
    return (x * x + y * y).sqrt()


def logaddexp(self, other):
    _require_float(self, "logaddexp_cpu")
    x, y = _tpromote(self, other)
    return _logaddexp(x, y)


def logaddexp2(self, other):
    _require_float(self, "logaddexp2_cpu")
    x, y = _tpromote(self, other)
    ln2 = math.log(2.0)
    return _logaddexp(x * ln2, y * ln2) / ln2


def heaviside(self, values):
    if not isinstance(values, Tensor) or values.dtype != self.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    pos = (self > 0).to(self.dtype)
    return _C.where(self == 0, values.to(self.dtype), pos)


def copysign(self, other):
    x, y = _tpromote(self, other)
    neg = y.signbit()
    mag = x.abs()
    return _C.where(neg, -mag, mag)


def ldexp(self, other):
    x, e = _tpromote(self, other)
    return x * e.exp2()


def frexp(self):
    if not self.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    x = self.detach().to(_C.float64)
    finite = x.isfinite() & (x != 0)
    a = _C.where(finite, x.abs(), _C.ones_like(x))
    e = a.log2().floor() + 1
    m = a / e.exp2()
    # log2 can be off by one near powers of two; nudge the mantissa into [0.5, 1).
    e = _C.where(m >= 1, e + 1, _C.where(m < 0.5, e - 1, e))
    m = a / e.exp2()
    m = _C.where(finite, m * x.sign(), x)
    e = _C.where(finite, e, _C.zeros_like(e))
    return _frexp_base(m.to(self.dtype), e.to(_C.int32))


def nextafter(self, other):
    _require_float(self, "nextafter_cpu")
    if not isinstance(other, Tensor) or other.dtype != self.dtype:
        raise RuntimeError(
            "nextafter expected both arguments to have the same dtype"
        )
    if self.dtype not in (_C.float32, _C.float64):
        raise NotImplementedError(f'"nextafter_cpu" not implemented for \'{_dtype_name(self.dtype)}\'')
    mant, tiny_exp = (53, -1074) if self.dtype == _C.float64 else (24, -149)
    with _no_grad_ctx():
        x, y = (t.to(_C.float64) for t in _bcast(self, other))
        m, e = frexp(x)
        e = e.to(_C.float64)
        toward_zero = (y - x).sign() != x.sign()
        # Spacing above |x| is 2^(e - mant); just below a power of two it halves.
        step_exp = e - mant - ((m.abs() == 0.5) & toward_zero).to(_C.float64)
        step = step_exp.clamp_min(tiny_exp).exp2()
        moved = x + (y - x).sign() * step
        tiny = _C.full_like(x, 2.0**tiny_exp) * (y - x).sign()
        out = _C.where(x == 0, tiny, moved)
        out = _C.where(x == y, y, out)
        out = _C.where(x.isnan() | y.isnan(), _C.full_like(x, float("nan")), out)
        out = _C.where(x.isinf() & (x != y), x.sign() * _C.full_like(x, 2.0) ** 0 * _largest(self.dtype), out)
    return out.to(self.dtype)


def _largest(dt):
    return 1.7976931348623157e308 if dt == _C.float64 else 3.4028234663852886e38


def gcd(self, other):
    other = _operand(self, other)
    if self.is_floating_point() or other.is_floating_point():
        dt = self.dtype if self.is_floating_point() else other.dtype
        raise NotImplementedError(f"\"gcd_cpu\" not implemented for '{_dtype_name(dt)}'")
    dt = _C.promote_types(self.dtype, other.dtype)
    a, b = (t.to(_C.int64).abs() for t in _bcast(self, other))
    while bool((b != 0).any()):
        nz = b != 0
        safe = _C.where(nz, b, _C.ones_like(b))
        a, b = _C.where(nz, b, a), _C.where(nz, a % safe, b)
    return a.to(dt)


def lcm(self, other):
    other = _operand(self, other)
    if self.is_floating_point() or other.is_floating_point():
        dt = self.dtype if self.is_floating_point() else other.dtype
        raise NotImplementedError(f"\"lcm_cpu\" not implemented for '{_dtype_name(dt)}'")
    g = gcd(self, other).to(_C.int64)
    a, b = self.to(_C.int64), other.to(_C.int64)
    safe = _C.where(g == 0, _C.ones_like(g), g)
    out = (a // safe * b).abs()
    return _C.where(g == 0, _C.zeros_like(out), out).to(_C.promote_types(self.dtype, other.dtype))


def isposinf(self):
    return self.isinf() & (self > 0) if self.is_floating_point() else _C.zeros(self.shape, dtype=_C.bool)


def isneginf(self):
    return self.isinf() & (self < 0) if self.is_floating_point() else _C.zeros(self.shape, dtype=_C.bool)


def isreal(self):
    return _C.ones(self.shape, dtype=_C.bool, device=self.device)


def positive(self):
    if self.dtype == _C.bool:
        raise NotImplementedError("The `+` operator, on a bool tensor is not supported.")
    return self


def angle(self):
    x = _to_float(self)
    out = _C.where(x < 0, _C.full_like(x, math.pi), _C.zeros_like(x))
    return _C.where(x.isnan(), x, out)


def _identity(self):
    return self


def _false(self):
    return False


def _imag(self):
    raise TypeError("imag is not implemented for tensors with non-complex dtypes.")


# Lanczos approximation (g = 7, 9 terms), evaluated in float64.
_LANCZOS_G = 7.0
_LANCZOS = (
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
)


def _lgamma64(x):
    # Reflection for x < 0.5: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x).
    small = x < 0.5
    z = _C.where(small, 1 - x, x) - 1
    acc = _C.full_like(z, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], 1):
        acc = acc + c / (z + i)
    t = z + _LANCZOS_G + 0.5
    big = 0.5 * math.log(2 * math.pi) + (z + 0.5) * t.log() - t + acc.log()
    sinpx = (math.pi * _C.where(small, x, _C.zeros_like(x))).sin().abs()
    refl = math.log(math.pi) - sinpx.log() - big
    out = _C.where(small, refl, big)
    pole = (x <= 0) & (x == x.floor())
    return _C.where(pole, _C.full_like(out, math.inf), out)


def lgamma(self):
    x = _to_float(self)
    return _lgamma64(x.to(_C.float64)).to(x.dtype)


def _digamma64(x):
    small = x < 0.5
    y = _C.where(small, 1 - x, x)
    acc = _C.zeros_like(y)
    for k in builtins.range(6):
        acc = acc + 1 / (y + k)
    z = y + 6
    z2 = 1 / (z * z)
    series = z2 * (1 / 12 - z2 * (1 / 120 - z2 * (1 / 252 - z2 * (1 / 240 - z2 * (1 / 132)))))
    val = z.log() - 0.5 / z - series - acc
    tanpx = (math.pi * _C.where(small, x, _C.full_like(x, 0.25))).tan()
    out = _C.where(small, val - math.pi / tanpx, val)
    pole = (x <= 0) & (x == x.floor())
    nan = _C.full_like(out, float("nan"))
    out = _C.where(pole, nan, out)
    # digamma(0) is -inf, the sign PyTorch reports.
    return _C.where(x == 0, _C.full_like(out, -math.inf), out)


def digamma(self):
    x = _to_float(self)
    return _digamma64(x.to(_C.float64)).to(x.dtype)


# Bernoulli numbers B_2k for the polygamma asymptotic series.
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def polygamma(self, n):
    """polygamma(n, x): n-th derivative of digamma (method form ``x.polygamma(n)``)."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    if n == 0:
        return digamma(self)
    x0 = _to_float(self)
    x = x0.to(_C.float64)
    with _no_grad_ctx():
        lowest = float(x.detach().amin()) if x.numel() else 0.0
    shift = _pymax(10, math.ceil(12 - lowest)) if not math.isnan(lowest) else 10
    sgn = (-1) ** (n + 1)
    fact = math.factorial(n)
    acc = _C.zeros_like(x)
    for k in builtins.range(shift):
        acc = acc + (x + k) ** (-(n + 1))
    z = x + shift
    tail = math.factorial(n - 1) / z**n + fact / (2 * z ** (n + 1))
    for k, b in enumerate(_B2K, 1):
        coef = b * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        tail = tail + coef / z ** (2 * k + n)
    out = sgn * (fact * acc + tail)
    pole = (x <= 0) & (x == x.floor())
    # Poles: +inf for odd n, NaN otherwise (as the reference kernel reports).
    at_pole = _C.full_like(out, math.inf if n % 2 else float("nan"))
    return _C.where(pole, at_pole, out).to(x0.dtype)


def polygamma_(self, n):
    return self.copy_(polygamma(self, n))


def mvlgamma(self, p):
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = _to_float(self)
    with _no_grad_ctx():
        if x.numel() and not bool((x > (p - 1) / 2).all()):
            raise RuntimeError(
                "All elements must be greater than (p-1)/2"
            )
    out = x.new_full((), p * (p - 1) / 4 * math.log(math.pi)).expand(x.shape)
    for i in builtins.range(p):
        out = out + lgamma(x - i / 2)
    return out


def i0(self):
    x = _to_float(self)
    a = x.to(_C.float64).abs()
    small = a <= 15
    s = _C.where(small, a, _C.zeros_like(a))
    half_sq = (s / 2) ** 2
    term = _C.ones_like(s)
    total = term
    for k in builtins.range(1, 60):
        term = term * half_sq / (k * k)
        total = total + term
    # Large arguments: e^a / sqrt(2 pi a) * sum_k ((2k-1)!!)^2 / (k! 8^k a^k).
    b = _C.where(small, _C.full_like(a, 16.0), a)
    term = _C.ones_like(b)
    asym = term
    for k in builtins.range(1, 30):
        term = term * (2 * k - 1) ** 2 / (8 * k * b)
        asym = asym + term
    big = b.exp() / (2 * math.pi * b).sqrt() * asym
    return _C.where(small, total, big).to(x.dtype)


def _igamma64(a, x):
    """Regularised lower incomplete gamma P(a, x) and its complement Q(a, x), float64."""
    lg = _lgamma64(a)
    safe_x = _C.where(x > 0, x, _C.ones_like(x))
    logpre = a * safe_x.log() - safe_x - lg
    use_series = x < a + 1
    # Series: P = e^{-x} x^a / Gamma(a+1) * sum x^n / ((a+1)...(a+n)).
    term = 1 / a
    total = term
    for n in builtins.range(1, 300):
        term = term * x / (a + n)
        total = total + term
    p_series = (logpre.exp() * total).clamp(0, 1)
    # Continued fraction (modified Lentz) for Q.
    tiny = 1e-300
    b = x + 1 - a
    c = _C.full_like(x, 1 / tiny)
    d = 1 / _C.where(b == 0, _C.full_like(b, tiny), b)
    h = d
    for i in builtins.range(1, 300):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = 1 / _C.where(d.abs() < tiny, _C.full_like(d, tiny), d)
        c = b + an / c
        c = _C.where(c.abs() < tiny, _C.full_like(c, tiny), c)
        h = h * d * c
    q_cf = (logpre.exp() * h).clamp(0, 1)
    p = _C.where(use_series, p_series, 1 - q_cf)
    q = _C.where(use_series, 1 - p_series, q_cf)
    zero_x = x == 0
    p = _C.where(zero_x, _C.zeros_like(p), p)
    q = _C.where(zero_x, _C.ones_like(q), q)
    inf_x = x.isinf() & (x > 0)
    p = _C.where(inf_x, _C.ones_like(p), p)
    q = _C.where(inf_x, _C.zeros_like(q), q)
    bad = (a < 0) | (x < 0) | a.isnan() | x.isnan()
    nan = _C.full_like(p, float("nan"))
    return _C.where(bad, nan, p), _C.where(bad, nan, q)


def _igamma_args(self, other, op):
    o = _operand(self, other)
    if not (self.is_floating_point() and o.is_floating_point()):
        bad = self.dtype if not self.is_floating_point() else o.dtype
        raise NotImplementedError(f"\"{op}\" not implemented for '{_dtype_name(bad)}'")
    a, x = _bcast(self, o)
    dt = _C.promote_types(a.dtype, x.dtype)
    return a.to(_C.float64), x.to(_C.float64), dt


def igamma(self, other):
    a, x, dt = _igamma_args(self, other, "igamma_cpu")
    with _no_grad_ctx():
        p, _ = _igamma64(a.detach(), x.detach())
    return p.to(dt)


def igammac(self, other):
    a, x, dt = _igamma_args(self, other, "igammac_cpu")
    with _no_grad_ctx():
        _, q = _igamma64(a.detach(), x.detach())
    return q.to(dt)


# ---------------------------------------------------------------- indexing and shapes


def tile(self, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    nd = _pymax(len(dims), self.dim())
    dims = (1,) * (nd - len(dims)) + dims
    x = self.reshape((1,) * (nd - self.dim()) + tuple(self.shape))
    return x.repeat(*dims) if dims else x.clone()


def rot90(self, k=1, dims=(0, 1)):
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if self.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {self.dim()}")
    a, b = _wrap_dim(dims[0], self.dim()), _wrap_dim(dims[1], self.dim())
    if a == b:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {a} and dim1 = {b}"
        )
    k %= 4
    if k == 1:
        return self.flip(b).transpose(a, b)
    if k == 2:
        return self.flip([a, b])
    if k == 3:
        return self.flip(a).transpose(a, b)
    return self.clone()


@_profiled("aten::take_along_dim")
def take_along_dim(self, indices, dim=None):
    if dim is None:
        return self.reshape(-1).gather(0, indices.reshape(-1))
    d = _wrap_dim(dim, self.dim())
    if self.dim() != indices.dim():
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {self.dim()} dimensions for input, and {indices.dim()} "
            "dimensions for indices"
        )
    sshape = list(self.shape)
    ishape = list(indices.shape)
    sshape[d] = ishape[d] = 1
    b = _broadcast(sshape, ishape)
    src_shape = list(b)
    src_shape[d] = self.shape[d]
    idx_shape = list(b)
    idx_shape[d] = indices.shape[d]
    return self.expand(src_shape).gather(d, indices.expand(idx_shape))


def tensor_split(self, indices_or_sections, dim=0):
    if self.dim() == 0:
        raise RuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    d = _wrap_dim(dim, self.dim())
    n = self.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dim() == 0:
            ios = int(ios)
        else:
            ios = ios.tolist()
    if isinstance(ios, int):
        if ios <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {ios}")
        base, extra = divmod(n, ios)
        bounds, start = [], 0
        for i in builtins.range(ios):
            size = base + (1 if i < extra else 0)
            bounds.append((start, size))
            start += size
    else:
        cuts = [0] + [_pymin(_pymax(int(i) + (n if int(i) < 0 else 0), 0), n) for i in ios] + [n]
        bounds = []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            lo = _pymin(lo, n)
            bounds.append((lo, _pymax(hi - lo, 0)))
    return tuple(self.narrow(d, lo, size) for lo, size in bounds)


def _split_named(self, sections, dim, name, need):
    if self.dim() < need:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {need} dimension, but got a tensor "
            f"with {self.dim()} dimensions!"
        )
    if isinstance(sections, int):
        n = self.shape[dim]
        if sections == 0 or n % sections:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                f"dimension {n} is not divisible by the split_size {sections}!"
            )
    return tensor_split(self, sections, dim)


def hsplit(self, sections):
    return _split_named(self, sections, 1 if self.dim() > 1 else 0, "hsplit", 1)


def vsplit(self, sections):
    return _split_named(self, sections, 0, "vsplit", 2)


def dsplit(self, sections):
    return _split_named(self, sections, 2, "dsplit", 3)


def split_with_sizes(self, split_sizes, dim=0):
    d = _wrap_dim(dim, self.dim())
    sizes = [int(s) for s in split_sizes]
    if _pysum(sizes) != self.shape[d] or any(s < 0 for s in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {self.shape[d]} (input "
            f"tensor's size at dimension {d}), but got split_sizes={sizes}"
        )
    out, start = [], 0
    for s in sizes:
        out.append(self.narrow(d, start, s))
        start += s
    return tuple(out)


def unsafe_split(self, split_size, dim=0):
    return tuple(self.split(split_size, dim))


def unsafe_chunk(self, chunks, dim=0):
    return tuple(self.chunk(chunks, dim))


def narrow_copy(self, dim, start, length):
    return self.narrow(dim, start, length).clone()


def _positions(shape, device):
    n = 1
    for s in shape:
        n *= s
    return _C.arange(n, device=device).reshape(tuple(shape))


def _scatter_positions(self, pos, src, op):
    """self with the elements at flat positions `pos` replaced by `src`, differentiably."""
    if tuple(src.shape) != tuple(pos.shape):
        raise RuntimeError(
            f"{op}: expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(pos.shape)}"
        )
    flat = self.reshape(-1)
    return flat.index_copy(0, pos.reshape(-1), src.reshape(-1).to(self.dtype)).reshape(self.shape)


def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
    d = _wrap_dim(dim, self.dim())
    n = self.shape[d]
    idx = builtins.range(n)[builtins.slice(start, end, step)]
    pos = _positions(self.shape, self.device).narrow(d, 0, n).index_select(
        d, _C.tensor(list(idx), dtype=_C.int64)
    )
    return _scatter_positions(self, pos, src, "slice_scatter")


def select_scatter(self, src, dim, index):
    d = _wrap_dim(dim, self.dim())
    pos = _positions(self.shape, self.device).select(d, index)
    return _scatter_positions(self, pos, src, "select_scatter")


def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
    pos = _positions(self.shape, self.device).diagonal(offset, dim1, dim2)
    return _scatter_positions(self, pos, src, "diagonal_scatter")


def as_strided_scatter(self, src, size, stride, storage_offset=None):
    pos = _positions(self.shape, self.device).reshape(-1).as_strided(
        size, stride, storage_offset or 0
    )
    return _scatter_positions(self, pos, src, "as_strided_scatter")


@_profiled("aten::index_put")
def index_put(self, indices, values, accumulate=False):
    out = self.clone()
    out.index_put_(indices, values, accumulate)
    return out


@_profiled("aten::masked_scatter")
def masked_scatter(self, mask, source):
    if mask.dtype != _C.bool:
        raise RuntimeError(
            "masked_scatter_ only supports boolean masks, but got mask with dtype "
            f"{_dtype_name(mask.dtype)}"
        )
    shape = _broadcast(self.shape, mask.shape)
    base = self.expand(shape)
    m = mask.expand(shape).reshape(-1)
    pos = m.nonzero().reshape(-1)
    k = pos.numel()
    if source.numel() < k:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    taken = source.reshape(-1)[:k].to(self.dtype)
    return base.reshape(-1).index_copy(0, pos, taken).reshape(shape)


def masked_scatter_(self, mask, source):
    shape = _broadcast(self.shape, mask.shape)
    if tuple(shape) != tuple(self.shape):
        raise RuntimeError(
            f"masked_scatter_: expected self and mask to be broadcastable to self's shape, "
            f"got {list(self.shape)} and {list(mask.shape)}"
        )
    return self.copy_(masked_scatter(self, mask, source))


def _flat_index(self, index, op):
    n = self.numel()
    idx = index.reshape(-1).to(_C.int64)
    with _no_grad_ctx():
        if idx.numel():
            lo, hi = int(idx.min()), int(idx.max())
            for bad in (lo, hi):
                if not -n <= bad < n:
                    raise IndexError(
                        f"out of range: tried to access index {bad} on a tensor of {n} elements."
                    )
    return _C.where(idx < 0, idx + n, idx)


def put(self, index, source, accumulate=False):
    if index.dtype != _C.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {_dtype_name(index.dtype)}")
    if index.numel() != source.numel():
        raise RuntimeError(
            f"put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source.numel()}, index.numel() = {index.numel()}"
        )
    idx = _flat_index(self, index, "put")
    flat = self.reshape(-1)
    src = source.reshape(-1).to(self.dtype)
    out = flat.index_add(0, idx, src) if accumulate else flat.index_copy(0, idx, src)
    return out.reshape(self.shape)


def put_(self, index, source, accumulate=False):
    return self.copy_(put(self, index, source, accumulate))


_SCATTER_REDUCE = ("sum", "prod", "mean", "amax", "amin")


def _reduce_into(self, dim, index, src, reduce, include_self, op):
    """Reduce src[..., i, ...] into out[..., index[..., i, ...], ...] along dim (scatter
    semantics), by comparing every index against every output position."""
    d = _wrap_dim(dim, self.dim())
    J = self.shape[d] if self.dim() else 1
    region = [slice(0, s) for s in index.shape]
    src = src[tuple(region)] if index.dim() else src
    # (..., i, ...) -> (..., i, ..., J) hit mask; reduce over i.
    hit = index.unsqueeze(-1) == _C.arange(J, device=self.device)
    srcx = src.unsqueeze(-1).expand(hit.shape)
    fill = {"sum": 0, "mean": 0, "prod": 1}.get(reduce)
    if reduce == "amax":
        fill = -math.inf if self.is_floating_point() else _int_bound(self.dtype, low=True)
    elif reduce == "amin":
        fill = math.inf if self.is_floating_point() else _int_bound(self.dtype, low=False)
    filled = _C.where(hit, srcx, _C.full_like(srcx, fill))
    if reduce in ("sum", "mean"):
        red = filled.sum(d)
    elif reduce == "prod":
        red = filled.prod(d)
    elif reduce == "amax":
        red = filled.amax(d)
    else:
        red = filled.amin(d)
    count = hit.sum(d)
    red = red.movedim(-1, d)
    count = count.movedim(-1, d)
    # Embed the region back into self's shape.
    rshape = list(index.shape)
    rshape[d] = J
    sub = tuple(slice(0, s) for s in rshape)
    base = self[sub] if self.dim() else self
    touched = count > 0
    if include_self:
        if reduce in ("sum", "mean"):
            comb = base + red
        elif reduce == "prod":
            comb = base * red
        elif reduce == "amax":
            comb = base.maximum(red)
        else:
            comb = base.minimum(red)
        if reduce == "mean":
            comb = comb / (count + 1)
    else:
        comb = red / count.clamp_min(1) if reduce == "mean" else red
    comb = _C.where(touched, comb.to(self.dtype), base)
    if tuple(rshape) == tuple(self.shape):
        return comb
    out = self.clone()
    out[sub] = comb
    return out


def _int_bound(dt, low):
    bits = {_C.uint8: 8, _C.int8: 8, _C.int16: 16, _C.int32: 32, _C.int64: 64}.get(dt, 64)
    if dt == _C.uint8:
        return 0 if low else 255
    if dt == _C.bool:
        return 0 if low else 1
    return -(2 ** (bits - 1)) if low else 2 ** (bits - 1) - 1


@_profiled("aten::scatter_reduce")
def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
    if reduce not in _SCATTER_REDUCE:
        raise RuntimeError(
            "reduce argument must be either sum, prod, mean, amax or amin, got " + str(reduce)
        )
    if index.dtype != _C.int64:
        raise RuntimeError("scatter_reduce(): Expected dtype int64 for index")
    if self.dim() != index.dim() or src.dim() != index.dim():
        raise RuntimeError(
            "Index tensor must have the same number of dimensions as self tensor"
        )
    if src.dtype != self.dtype:
        raise RuntimeError(
            "scatter_reduce(): Expected self.dtype to be equal to src.dtype"
        )
    if reduce == "mean" and not self.is_floating_point():
        # Integer mean divides with flooring, as the reference kernel does.
        fl = _reduce_into(self.to(_C.float64), dim, index, src.to(_C.float64), "sum",
                          include_self, "scatter_reduce")
        cnt = _reduce_into(_C.ones(self.shape, dtype=_C.float64) if include_self else _C.zeros(self.shape, dtype=_C.float64),
                           dim, index, _C.ones(src.shape, dtype=_C.float64), "sum", True, "scatter_reduce")
        touched = _reduce_into(_C.zeros(self.shape, dtype=_C.float64), dim, index,
                               _C.ones(src.shape, dtype=_C.float64), "sum", True, "") > 0
        q = (fl / cnt.clamp_min(1)).floor()
        return _C.where(touched, q, self.to(_C.float64)).to(self.dtype)
    return _reduce_into(self, dim, index, src, reduce, include_self, "scatter_reduce")


def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    return self.copy_(scatter_reduce(self, dim, index, src, reduce, include_self=include_self))


@_profiled("aten::index_reduce")
def index_reduce(self, dim, index, source, reduce, *, include_self=True):
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(
            "index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
            f"{reduce}."
        )
    d = _wrap_dim(dim, self.dim())
    if index.dim() > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    # index_reduce's index picks whole slices: broadcast it to source's shape.
    shape = [1] * source.dim()
    shape[d] = -1
    full = index.to(_C.int64).reshape(shape).expand(source.shape)
    if tuple(source.shape[:d]) + tuple(source.shape[d + 1 :]) != tuple(self.shape[:d]) + tuple(self.shape[d + 1 :]):
        raise RuntimeError(
            "index_reduce_(): Source/destination tensor must have same slice shapes."
        )
    return scatter_reduce(self, d, full, source, reduce, include_self=include_self)


def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
    return self.copy_(index_reduce(self, dim, index, source, reduce, include_self=include_self))


def fill_diagonal_(self, fill_value, wrap=False):
    if self.dim() < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.dim() > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    n = self.numel()
    if self.dim() == 2:
        rows, cols = self.shape
        step = cols + 1
        limit = n if wrap and rows > cols else _pymin(rows, cols) * cols
    else:
        step = _pysum(self.shape[0] ** i for i in builtins.range(self.dim()))
        limit = n
    pos = _C.arange(0, limit, step, device=self.device)
    with _no_grad_ctx():
        flat = self.reshape(-1) if self.is_contiguous() else None
    if flat is not None and not self.requires_grad:
        flat.index_fill_(0, pos, fill_value)
        return self
    return self.copy_(self.reshape(-1).index_fill(0, pos, fill_value).reshape(self.shape))


def diag_embed(self, offset=0, dim1=-2, dim2=-1):
    n = self.shape[-1] + _pyabs(offset)
    nd = self.dim() + 1
    d1, d2 = _wrap_dim(dim1, nd), _wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape = list(self.shape[:-1])
    lo, hi = sorted((d1, d2))
    shape.insert(lo, n)
    shape.insert(hi, n)
    base = _C.zeros(shape, dtype=self.dtype, device=self.device)
    return diagonal_scatter(base, self.movedim(-1, -1), offset, d1, d2)


def diagflat(self, offset=0):
    flat = self.reshape(-1)
    return diag_embed(flat, offset)


def diag(self, diagonal=0):
    if self.dim() == 1:
        return diag_embed(self, diagonal)
    if self.dim() != 2:
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{self.dim()}D")
    return self.diagonal(diagonal).clone()


@autocast_op("trace")
def trace(self):
    if self.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.dim()}")
    return self.diagonal().sum()


def is_same_size(self, other):
    return tuple(self.shape) == tuple(other.shape)


def is_nonzero(self):
    n = self.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(self.item())


def is_set_to(self, tensor):
    return (
        self.untyped_storage_ptr() == tensor.untyped_storage_ptr()
        and self.storage_offset() == tensor.storage_offset()
        and tuple(self.shape) == tuple(tensor.shape)
        and tuple(self.stride()) == tuple(tensor.stride())
    )


def dim_order(self, *, ambiguity_check=False):
    # Dims from outermost to innermost: larger stride first, ties keep dim order.
    strides = self.stride()
    return tuple(sorted(builtins.range(self.dim()), key=lambda i: -strides[i]))


def const_data_ptr(self):
    return self.data_ptr()


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False):
    size, stride = tuple(size), tuple(stride)
    span = 1 + _pysum((s - 1) * st for s, st in zip(size, stride)) if all(size) else 0
    base = _C.empty(span, dtype=dtype or self.dtype, device=self.device if device is None else device)
    out = base.as_strided(size, stride)
    return out.requires_grad_(requires_grad) if requires_grad else out


def new(self, *args, **kwargs):
    """The legacy constructor: ``x.new(sizes...)``, ``x.new(sequence)`` or ``x.new(tensor)``."""
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"new() got an unexpected keyword argument '{next(iter(kwargs))}'")
    dev = self.device if device is None else device
    if not args:
        return _C.empty(0, dtype=self.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], Tensor):
        if args[0].dtype != self.dtype:
            raise TypeError(
                f"expected {self.type()} (got {args[0].type()})"
            )
        return args[0]
    if all(isinstance(a, int) for a in args):
        return _C.empty(args, dtype=self.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return _C.tensor(args[0], dtype=self.dtype, device=dev)
    if len(args) == 1 and hasattr(args[0], "__len__"):
        return _C.tensor(list(args[0]), dtype=self.dtype, device=dev)
    raise TypeError("new(): invalid arguments")


def as_subclass(self, cls):
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass: expected a subclass of torch.Tensor, got {cls!r}")
    return Tensor._make_subclass(cls, self, self.requires_grad) if cls is not Tensor else self.view_as(self)


def apply_(self, callable):
    if self.is_cuda:
        raise TypeError("apply_ is only implemented on CPU tensors")
    flat = self.reshape(-1).tolist()
    vals = _C.tensor([callable(v) for v in flat], dtype=self.dtype).reshape(self.shape)
    with _no_grad_ctx():
        self.copy_(vals)
    return self


def map_(self, tensor, callable):
    if self.is_cuda:
        raise TypeError("map_ is only implemented on CPU tensors")
    other = tensor.expand(self.shape).reshape(-1).tolist()
    flat = self.reshape(-1).tolist()
    vals = _C.tensor([callable(a, b) for a, b in zip(flat, other)], dtype=self.dtype)
    with _no_grad_ctx():
        self.copy_(vals.reshape(self.shape))
    return self


def map2_(self, x, y, callable):
    if self.is_cuda:
        raise TypeError("map2_ is only implemented on CPU tensors")
    a = self.reshape(-1).tolist()
    b = x.expand(self.shape).reshape(-1).tolist()
    c = y.expand(self.shape).reshape(-1).tolist()
    vals = _C.tensor([callable(p, q, r) for p, q, r in zip(a, b, c)], dtype=self.dtype)
    with _no_grad_ctx():
        self.copy_(vals.reshape(self.shape))
    return self


# ---------------------------------------------------------------- sampling


def bernoulli(self, p=None, *, generator=None):
    if p is None:
        return _C.bernoulli(self, generator=generator)
    out = _C.empty(self.shape, dtype=self.dtype, device=self.device)
    return out.bernoulli_(p, generator=generator)


def multinomial(self, num_samples, replacement=False, *, generator=None):
    return _C.multinomial(self, num_samples, replacement, generator=generator)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    u = _C.empty(self.shape, dtype=_C.float64).uniform_(generator=generator)
    with _no_grad_ctx():
        return self.copy_(median + sigma * (math.pi * (u - 0.5)).tan())


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    z = _C.empty(self.shape, dtype=_C.float64).normal_(mean, std, generator=generator)
    with _no_grad_ctx():
        return self.copy_(z.exp())


def geometric_(self, p, *, generator=None):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = _C.empty(self.shape, dtype=_C.float64).uniform_(generator=generator)
    with _no_grad_ctx():
        # Trials up to and including the first success: ceil(log(1 - u) / log(1 - p)).
        k = ((1 - u).log() / math.log1p(-p)).ceil().clamp_min(1)
        return self.copy_(k)


# ---------------------------------------------------------------- nn-style methods


def hardshrink(self, lambd=0.5):
    from rtorch.nn import functional as F

    return F.hardshrink(self, lambd)


def prelu(self, weight):
    from rtorch.nn import functional as F

    return F.prelu(self, weight)


# ---------------------------------------------------------------- dense-tensor queries


def adjoint(self):
    if self.dim() < 2:
        raise RuntimeError(
            "tensor.adjoint() is only supported on matrices or batches of matrices. "
            f"Got {self.dim()}-D tensor."
        )
    return self.transpose(-2, -1)


def to_dense(self, dtype=None, *, masked_grad=None):
    return self if dtype is None or dtype == self.dtype else self.to(dtype)


def dense_dim(self):
    return self.dim()


def sparse_dim(self):
    return 0


def nonzero_static(self, *, size, fill_value=-1):
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {size}")
    found = self.nonzero()
    k = found.shape[0]
    if k >= size:
        return found[:size]
    pad = _C.full((size - k, found.shape[1]), fill_value, dtype=_C.int64, device=self.device)
    return _C.cat([found, pad], 0)


def _volatile(self):
    import warnings

    warnings.warn("volatile was removed (Variable.volatile is always False)", stacklevel=2)
    return False


def _removed(name, replacement):
    def method(self, *args, **kwargs):
        raise RuntimeError(
            f"{name} was removed from PyTorch (deprecated since 1.9); use {replacement} instead."
        )

    method.__name__ = name
    return method


# ---------------------------------------------------------------- installation

_OUT_OF_PLACE = dict(
    addbmm=addbmm, baddbmm=baddbmm, addmv=addmv, addr=addr, vdot=vdot, kron=kron, cross=cross,
    det=det, slogdet=slogdet, logdet=logdet, inverse=inverse, pinverse=pinverse,
    matrix_power=matrix_power,
    matrix_exp=matrix_exp, cholesky_solve=cholesky_solve, cholesky_inverse=cholesky_inverse,
    triangular_solve=triangular_solve, lu_solve=lu_solve, lu=lu, cholesky=cholesky, qr=qr,
    svd=svd,
    aminmax=aminmax, nanmean=nanmean, cummax=cummax, cummin=cummin, logcumsumexp=logcumsumexp,
    kthvalue=kthvalue, median=median, nanmedian=nanmedian, mode=mode, msort=msort,
    quantile=quantile, nanquantile=nanquantile, histc=histc, histogram=histogram,
    bincount=bincount, diff=diff, dist=dist, cov=cov, corrcoef=corrcoef, renorm=renorm,
    unique_consecutive=unique_consecutive,
    deg2rad=deg2rad, rad2deg=rad2deg, sinc=sinc, logit=logit, xlogy=xlogy, hypot=hypot,
    logaddexp=logaddexp, logaddexp2=logaddexp2, heaviside=heaviside, copysign=copysign,
    ldexp=ldexp, frexp=frexp, nextafter=nextafter, gcd=gcd, lcm=lcm, isposinf=isposinf,
    isneginf=isneginf, isreal=isreal, positive=positive, angle=angle, lgamma=lgamma,
    digamma=digamma, polygamma=polygamma, mvlgamma=mvlgamma, i0=i0, igamma=igamma,
    igammac=igammac,
    tile=tile, rot90=rot90, take_along_dim=take_along_dim, tensor_split=tensor_split,
    hsplit=hsplit, vsplit=vsplit, dsplit=dsplit, split_with_sizes=split_with_sizes,
    unsafe_split=unsafe_split, unsafe_chunk=unsafe_chunk,
    unsafe_split_with_sizes=split_with_sizes, narrow_copy=narrow_copy,
    slice_scatter=slice_scatter, select_scatter=select_scatter,
    diagonal_scatter=diagonal_scatter, as_strided_scatter=as_strided_scatter,
    index_put=index_put, masked_scatter=masked_scatter, put=put, scatter_reduce=scatter_reduce,
    index_reduce=index_reduce, diag_embed=diag_embed, diagflat=diagflat, diag=diag, trace=trace,
    is_same_size=is_same_size, is_nonzero=is_nonzero, is_set_to=is_set_to,
    dim_order=dim_order, const_data_ptr=const_data_ptr, new_empty_strided=new_empty_strided,
    new=new, as_subclass=as_subclass, apply_=apply_, map_=map_, map2_=map2_,
    bernoulli=bernoulli, multinomial=multinomial, cauchy_=cauchy_, log_normal_=log_normal_,
    geometric_=geometric_, hardshrink=hardshrink, prelu=prelu,
    conj=_identity, resolve_conj=_identity, resolve_neg=_identity, conj_physical=_identity,
    is_conj=_false, is_neg=_false, is_inference=_false, is_distributed=_false,
    adjoint=adjoint, to_dense=to_dense, dense_dim=dense_dim, sparse_dim=sparse_dim,
    nonzero_static=nonzero_static,
    # Removed from PyTorch itself: calling them raises there too.
    solve=_removed("solve", "torch.linalg.solve"),
    lstsq=_removed("lstsq", "torch.linalg.lstsq"),
    symeig=_removed("symeig", "torch.linalg.eigh"),
    eig=_removed("eig", "torch.linalg.eig"),
)

_IN_PLACE = dict(
    # Replaces the earlier addmm, which let NaN in self through when beta == 0.
    addmm=addmm,
    masked_scatter_=masked_scatter_, put_=put_, scatter_reduce_=scatter_reduce_,
    index_reduce_=index_reduce_, fill_diagonal_=fill_diagonal_, cumsum_=cumsum_,
    cumprod_=cumprod_, polygamma_=polygamma_,
)

# In-place forms with no native kernel: compute out of place, write back with copy_.
_WRITE_BACK = """
addbmm addmm addmv addr baddbmm clamp_max clamp_min deg2rad rad2deg digamma lgamma i0 sinc
logit xlogy hypot heaviside copysign ldexp nextafter gcd lcm igamma igammac mvlgamma
nan_to_num renorm divide subtract conj_physical
""".split()

# Backend-only attributes that are always False for rtorch's dense CPU/CUDA tensors.
_ALWAYS_FALSE = """
is_mps is_xpu is_ipu is_mtia is_maia is_vulkan is_xla is_mkldnn is_sparse_csr is_nested
""".split()


def _out(result, out):
    if out is None:
        return result
    return _write_out("polygamma", result, out)


def _install():
    for name, fn in _OUT_OF_PLACE.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)
    for name, fn in _IN_PLACE.items():
        setattr(Tensor, name, fn)
    for name in _WRITE_BACK:
        if not hasattr(Tensor, name + "_"):
            setattr(Tensor, name + "_", _inplace(name))
    for name in _ALWAYS_FALSE:
        if not hasattr(Tensor, name):
            setattr(Tensor, name, property(_false))
    if not hasattr(Tensor, "volatile"):
        Tensor.volatile = property(_volatile)
    # torch.polygamma takes (n, input), the reverse of the method.
    import sys

    sys.modules["rtorch"].polygamma = lambda n, input, *, out=None: _out(polygamma(input, n), out)
    if not hasattr(Tensor, "real"):
        Tensor.real = property(_identity)
    if not hasattr(Tensor, "imag"):
        Tensor.imag = property(_imag)


_install()
