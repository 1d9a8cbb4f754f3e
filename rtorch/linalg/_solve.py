"""Linear systems, inverses, determinants, least squares and pseudo-inverses."""

import math

from rtorch import _C
from rtorch._autocast_ops import autocast_op
from rtorch.autograd.function import Function

from . import _core as c
from ._decomp import _out, solve_triangular
from ._spectral import _Eigh, _Svd, qr


def _singular_solve(_k):
    return "The solver failed because the input matrix is singular."


def _singular_inv(k):
    return (
        f"The diagonal element {k} is zero, the inversion could not be completed because the "
        "input matrix is singular."
    )


class _Solve(Function):
    """X = A⁻¹ B with A and B sharing their batch shape; also returns the LU info."""

    @staticmethod
    def forward(ctx, a, b):
        lu, piv, info = c.raw_lu(a, "linalg.solve")
        x = c.raw_lu_solve(lu, piv, b)
        ctx.save_for_backward(a, x)
        ctx.mark_non_differentiable(info)
        return x, info

    @staticmethod
    def backward(ctx, g, _gi):
        a, x = ctx.saved_tensors
        gb = _Solve.apply(a.mT, g)[0]
        ga = -gb.matmul(x.mT) if ctx.needs_input_grad[0] else None
        return ga, gb


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    op = "linalg.solve"
    c.square_float(A, op)
    c.check_tensor(B, op, "B")
    if A.dtype != B.dtype:
        raise RuntimeError(
            f"{op}: Expected A and B to have the same dtype, but found A of type "
            f"{c.dtype_name(A.dtype)} and B of type {c.dtype_name(B.dtype)} instead"
        )
    n = A.shape[-1]
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    b = B.unsqueeze(-1) if vector else B
    if not left:
        if vector:
            raise RuntimeError(f"{op}: Vector broadcasting of the left hand side is not supported for left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)")
        x, info = solve_ex(A.mT, b.mT, check_errors=check_errors)
        return _out(c.SolveEx(x.mT, info), out)
    if b.dim() < 2 or b.shape[-2] != n:
        rows = b.shape[-2] if b.dim() >= 2 else 1
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation AX = B "
            f"({n}x{n} and {rows}x{b.shape[-1]})"
        )
    a, b = c.broadcast_batch(A, b)
    x, info = _Solve.apply(a, b)
    if check_errors:
        c.raise_info(info, "torch." + op, _singular_solve)
    return _out(c.SolveEx(x.squeeze(-1) if vector else x, info), out)


@autocast_op("linalg_solve")
def solve(A, B, *, left=True, out=None):
    x, info = solve_ex(A, B, left=left)
    c.raise_info(info, "torch.linalg.solve", _singular_solve)
    return _out(x, out)


class _Inv(Function):
    @staticmethod
    def forward(ctx, a):
        lu, piv, info = c.raw_lu(a, "linalg.inv")
        x = c.raw_lu_solve(lu, piv, c.eye_like(a).expand(a.shape))
        ctx.save_for_backward(x)
        ctx.mark_non_differentiable(info)
        return x, info

    @staticmethod
    def backward(ctx, g, _gi):
        (x,) = ctx.saved_tensors
        return -x.mT.matmul(g).matmul(x.mT)


@autocast_op("linalg_inv_ex")
def inv_ex(A, *, check_errors=False, out=None):
    c.square_float(A, "linalg.inv")
    x, info = _Inv.apply(A)
    if check_errors:
        c.raise_info(info, "linalg.inv", _singular_inv)
    return _out(c.InvEx(x, info), out)


@autocast_op("linalg_inv")
def inv(A, *, out=None):
    x, info = inv_ex(A)
    c.raise_info(info, "linalg.inv", _singular_inv)
    return _out(x, out)


# ---------------------------------------------------------------- determinants


def _lu_det_parts(a, op):
    """(sign of the permutation × sign of diag(U), diag(U)) from one LU."""
    lu, piv, _ = c.raw_lu(a, op)
    d = lu.diagonal(0, -2, -1)
    steps = _C.arange(1, a.shape[-1] + 1, dtype=_C.int32, device=a.device)
    swaps = (piv != steps).sum(-1)
    sign = 1.0 - 2.0 * (swaps % 2).to(a.dtype)
    return sign, d


def _adjugate_t(a):
    """adj(A)ᵀ = d det(A) / dA, also for singular A: from the SVD A = U S Vᵀ,
    adj(A) = det(U) det(V) V diag(∏_{j≠i} s_j) Uᵀ."""
    u, s, vh = svd_raw(a)
    n = s.shape[-1]
    if n == 0:
        return a.new_zeros(a.shape)
    mask = 1.0 - c.eye_like(a)
    others = (s.unsqueeze(-2) * mask + c.eye_like(a)).prod(-1)  # ∏_{j≠i} s_j
    du, dv = det(u), det(vh)
    adj = vh.mT.matmul(others.diag_embed()).matmul(u.mT) * (du * dv).unsqueeze(-1).unsqueeze(-1)
    return adj.mT


def svd_raw(a):
    u, s, vh, _ = _C._linalg_factor(a.detach(), "svd", False, True, name="linalg.det")
    return u, s, vh


class _Det(Function):
    @staticmethod
    def forward(ctx, a):
        if a.shape[-1] == 0:
            out = _C.ones(tuple(a.shape[:-2]), dtype=a.dtype, device=a.device)
        else:
            sign, d = _lu_det_parts(a, "linalg.det")
            out = sign * d.prod(-1)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        ok = d != 0
        if bool(ok.all()):
            # d det / dA = det · A⁻ᵀ (differentiable again through inv).
            return (g * d).unsqueeze(-1).unsqueeze(-1) * inv(a).mT
        return g.unsqueeze(-1).unsqueeze(-1) * _adjugate_t(a.detach())


def det(A, *, out=None):
    c.square_float(A, "linalg.det")
    return _out(_Det.apply(A), out)


class _Slogdet(Function):
    @staticmethod
    def forward(ctx, a):
        if a.shape[-1] == 0:
            shape = tuple(a.shape[:-2])
            sign = _C.ones(shape, dtype=a.dtype, device=a.device)
            logabs = _C.zeros(shape, dtype=a.dtype, device=a.device)
        else:
            s, d = _lu_det_parts(a, "linalg.slogdet")
            sign = s * d.sign().prod(-1)
            logabs = d.abs().log().sum(-1)
        ctx.save_for_backward(a)
        ctx.mark_non_differentiable(sign)
        return sign, logabs

    @staticmethod
    def backward(ctx, _gs, g):
        (a,) = ctx.saved_tensors
        return g.unsqueeze(-1).unsqueeze(-1) * inv(a).mT


def slogdet(A, *, out=None):
    c.square_float(A, "linalg.slogdet")
    return _out(c.Slogdet(*_Slogdet.apply(A)), out)


# ---------------------------------------------------------------- least squares, pinv, rank


def _tolerances(s_max, atol, rtol, m, n, dtype):
    eps = 1.1920928955078125e-07 if dtype == _C.float32 else 2.220446049250313e-16
    if rtol is None:
        rtol = eps * max(m, n) if atol is None or (not isinstance(atol, _C.Tensor) and atol <= 0) else 0.0
    atol = 0.0 if atol is None else atol
    tol = rtol * s_max
    if isinstance(atol, _C.Tensor) or atol:
        tol = _C.maximum(tol, atol if isinstance(atol, _C.Tensor) else _C.full_like(tol, float(atol)))
    return tol


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    op = "linalg.pinv"
    c.check_float(A, op)
    c.check_matrix(A, op)
    if rcond is not None:
        rtol = rcond
    m, n = A.shape[-2], A.shape[-1]
    if hermitian:
        w, v = _Eigh.apply(A, False, True, "linalg.eigh")
        mag = w.abs()
        tol = _tolerances(mag.amax(-1, keepdim=True) if n else mag, atol, rtol, m, n, A.dtype)
        winv = _C.where(mag > tol, 1.0 / _C.where(mag > tol, w, _C.ones_like(w)), _C.zeros_like(w))
        return _out((v * winv.unsqueeze(-2)).matmul(v.mT), out)
    if m == 0 or n == 0:
        return _out(A.new_zeros(tuple(A.shape[:-2]) + (n, m)), out)
    u, s, vh = _Svd.apply(A, False, True, "linalg.svd")
    tol = _tolerances(s[..., :1], atol, rtol, m, n, A.dtype)
    keep = s > tol
    sinv = _C.where(keep, 1.0 / _C.where(keep, s, _C.ones_like(s)), _C.zeros_like(s))
    return _out((vh.mT * sinv.unsqueeze(-2)).matmul(u.mT), out)


@autocast_op("linalg_matrix_rank")
def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    op = "linalg.matrix_rank"
    c.check_float(A, op)
    c.check_matrix(A, op)
    if tol is not None:
        atol, rtol = tol, 0.0
    m, n = A.shape[-2], A.shape[-1]
    with _no_grad():
        if hermitian:
            s = _Eigh.apply(A.detach(), False, False, "linalg.eigvalsh").abs()
        else:
            s = _Svd.apply(A.detach(), False, False, "linalg.svdvals")
        if s.shape[-1] == 0:
            return _out(_C.zeros(tuple(A.shape[:-2]), dtype=_C.int64, device=A.device), out)
        tol_ = _tolerances(s.amax(-1, keepdim=True), atol, rtol, m, n, A.dtype)
        return _out((s > tol_).sum(-1), out)


def _no_grad():
    from rtorch.autograd.grad_mode import no_grad

    return no_grad()


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


@autocast_op("linalg_lstsq")
def lstsq(A, B, rcond=None, *, driver=None):
    op = "torch.linalg.lstsq"
    c.check_float(A, "linalg.lstsq")
    c.check_tensor(B, "linalg.lstsq", "B")
    if A.dim() < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    if B.dim() < 1:
        raise RuntimeError(f"{op}: other must have at least 1 dimension.")
    if A.dtype != B.dtype:
        raise RuntimeError(
            f"{op}: Expected input and other to have the same dtype, but got input's dtype "
            f"{A.dtype} and other's dtype {B.dtype}"
        )
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    vector = B.dim() == A.dim() - 1
    b = B.unsqueeze(-1) if vector else B
    if b.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2], A.shape[-1]
    a, b = c.broadcast_batch(A, b)
    empty = a.new_zeros((0,))
    if driver == "gels":
        if m >= n:
            q, r = qr(a)
            x = solve_triangular(r, q.mT.matmul(b), upper=True)
        else:
            q, r = qr(a.mT)
            x = q.matmul(solve_triangular(r.mT, b, upper=False))
        rank, sv = _C.zeros((0,), dtype=_C.int64, device=A.device), empty
    else:
        x = pinv(a, rtol=rcond).matmul(b)
        with _no_grad():
            s = _Svd.apply(a.detach(), False, False, "linalg.svdvals")
            if s.shape[-1]:
                rcond_ = rcond if rcond is not None else _eps(A.dtype) * max(m, n)
                rank = (s > rcond_ * s[..., :1]).sum(-1)
            else:
                rank = _C.zeros(tuple(a.shape[:-2]), dtype=_C.int64, device=A.device)
        sv = s if driver in ("gelsd", "gelss") else empty
    residuals = empty
    full_rank = driver == "gels" or bool((rank == n).all())
    if m > n and driver != "gelsy" and full_rank:
        residuals = (a.matmul(x) - b).pow(2).sum(-2)
    if vector:
        x = x.squeeze(-1)
        residuals = residuals.squeeze(-1) if residuals.numel() else residuals
    return c.Lstsq(x, residuals, rank, sv)


def _eps(dtype):
    return 1.1920928955078125e-07 if dtype == _C.float32 else 2.220446049250313e-16


@autocast_op("linalg_cond")
def cond(A, p=None, *, out=None):
    op = "linalg.cond"
    c.check_float(A, op)
    c.check_matrix(A, op)
    from ._norms import matrix_norm

    if p in (None, 2, -2):
        s = _Svd.apply(A, False, A.requires_grad, op)
        s = s[1] if isinstance(s, tuple) else s
        r = s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
        return _out(r, out)
    c.check_square(A, op)
    return _out(matrix_norm(A, p) * matrix_norm(inv(A), p), out)


@autocast_op("linalg_tensorinv")
def tensorinv(A, ind=2, *, out=None):
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape = tuple(A.shape[ind:]) + tuple(A.shape[:ind])
    rows = math.prod(A.shape[:ind])
    cols = math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {cols} != {rows}"
        )
    return _out(inv(A.reshape(rows, cols)).reshape(out_shape), out)


@autocast_op("linalg_tensorsolve")
def tensorsolve(A, B, dims=None, *, out=None):
    if dims is not None:
        nd = A.dim()
        dims = [d % nd for d in dims]
        keep = [d for d in range(nd) if d not in dims]
        A = A.permute(keep + dims)
    rest = tuple(A.shape[B.dim():])
    n = math.prod(rest)
    rows = B.numel()
    if rows != n:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
            f"prod(self.shape[:other.ndim]), but got {n} != {rows}"
        )
    x = solve(A.reshape(rows, n), B.reshape(rows))
    return _out(x.reshape(rest), out)
