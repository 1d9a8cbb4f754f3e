"""Factorizations: Cholesky, LU, triangular solves. Each forward is one kernel call over
the whole batch; each gradient is a composite of tensor ops and other differentiable
linalg functions, so second derivatives follow from the same rules."""

from rtorch import _C
from rtorch._autocast_ops import autocast_op
from rtorch.autograd.function import Function

from . import _core as c


def _phi(x):
    """Lower triangle with a halved diagonal (the Cholesky adjoint's projection)."""
    return x.tril() - 0.5 * x.diagonal(0, -2, -1).diag_embed()


class _Cholesky(Function):
    @staticmethod
    def forward(ctx, a, upper):
        factor, info = _C._linalg_factor(a, "cholesky", upper, name="linalg.cholesky")
        ctx.upper = upper
        ctx.save_for_backward(factor)
        ctx.mark_non_differentiable(info)
        return factor, info

    @staticmethod
    def backward(ctx, g, _ginfo):
        (f,) = ctx.saved_tensors
        lower, gl = (f.mT, g.mT) if ctx.upper else (f, g)
        # A = L Lᵀ: gA = L⁻ᵀ Φ(Lᵀ gL) L⁻¹, symmetrized (only symmetric perturbations exist).
        p = _phi(lower.mT.matmul(gl))
        x = solve_triangular(lower.mT, p, upper=True)
        x = solve_triangular(lower, x, upper=False, left=False)
        return 0.5 * (x + x.mT), None


@autocast_op("linalg_cholesky_ex")
def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    c.square_float(A, "linalg.cholesky")
    factor, info = _Cholesky.apply(A, bool(upper))
    if check_errors:
        c.raise_info(info, "linalg.cholesky", _not_pd)
    return _out(c.CholeskyEx(factor, info), out)


def _not_pd(k):
    return (
        "The factorization could not be completed because the input is not positive-definite "
        f"(the leading minor of order {k} is not positive-definite)."
    )


@autocast_op("linalg_cholesky")
def cholesky(A, *, upper=False, out=None):
    factor, info = cholesky_ex(A, upper=upper)
    c.raise_info(info, "linalg.cholesky", _not_pd)
    return _out(factor, out)


def _out(result, out):
    """PyTorch's `out=`: results are copied into the given tensors (resized to fit)."""
    if out is None:
        return result
    pairs = zip(out, result) if isinstance(result, tuple) else [(out, result)]
    for o, r in pairs:
        if tuple(o.shape) != tuple(r.shape):
            o.resize_(r.shape)
        o.copy_(r)
    return type(result)(*out) if isinstance(result, tuple) else out


# ---------------------------------------------------------------- triangular solves


class _TriSolve(Function):
    """X = A⁻¹ B for triangular A, with A and B already sharing their batch shape."""

    @staticmethod
    def forward(ctx, a, b, upper, unit):
        x = c.raw_tri_solve(a, b, upper, unit)
        ctx.upper, ctx.unit = upper, unit
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        gb = _TriSolve.apply(a.mT, g, not ctx.upper, ctx.unit)
        ga = None
        if ctx.needs_input_grad[0]:
            ga = -gb.matmul(x.mT)
            off = 1 if ctx.unit else 0
            ga = ga.triu(off) if ctx.upper else ga.tril(-off)
        return ga, gb, None, None


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    op = "linalg.solve_triangular"
    c.check_float(A, op)
    c.check_tensor(B, op, "B")
    c.check_matrix(A, op)
    c.check_matrix(B, op, "B")
    c.check_square(A, op)
    if A.dtype != B.dtype:
        raise RuntimeError(
            f"{op}: Expected A and B to have the same dtype, but found A of type "
            f"{c.dtype_name(A.dtype)} and B of type {c.dtype_name(B.dtype)} instead"
        )
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{n} and {B.shape[-2]}x{B.shape[-1]})"
        )
    if not left:
        # X A = B  ⇔  Aᵀ Xᵀ = Bᵀ, and Aᵀ is triangular on the other side.
        return _out(solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT, out)
    a, b = c.broadcast_batch(A, B)
    return _out(_TriSolve.apply(a, b, bool(upper), bool(unitriangular)), out)


# ---------------------------------------------------------------- LU


class _LuFactor(Function):
    @staticmethod
    def forward(ctx, a):
        lu, piv, info = c.raw_lu(a, "linalg.lu_factor")
        ctx.save_for_backward(lu, piv)
        ctx.mark_non_differentiable(piv, info)
        return lu, piv, info

    @staticmethod
    def backward(ctx, g, _gp, _gi):
        lu, piv = ctx.saved_tensors
        m, n = lu.shape[-2], lu.shape[-1]
        k = min(m, n)
        # Pᵀ A = L U, split at k: the leading k×k block is a square LU, and the rest is
        # either extra rows of L (tall: L2 = A2 U⁻¹) or extra columns of U (wide: U2 = L⁻¹ A2).
        lower = lu[..., :k, :k].tril(-1) + c.eye_like(lu, k)
        upper = lu[..., :k, :k].triu()
        gl, gu = g[..., :k, :k].tril(-1), g[..., :k, :k].triu()
        if m > n:
            l2, gl2 = lu[..., k:, :], g[..., k:, :]
            ga2 = solve_triangular(upper.mT, gl2, upper=False, left=False)  # gL2 U⁻ᵀ
            gu = gu - l2.mT.matmul(ga2).triu()
        elif n > m:
            u2, gu2 = lu[..., :, k:], g[..., :, k:]
            ga2 = solve_triangular(lower.mT, gu2, upper=True, unitriangular=True)  # L⁻ᵀ gU2
            gl = gl - ga2.matmul(u2.mT).tril(-1)
        x = _lu_square_grad(lower, upper, gl, gu)
        if m > n:
            x = _C.cat([x, ga2], -2)
        elif n > m:
            x = _C.cat([x, ga2], -1)
        return c.permutation(piv, m, lu.dtype, lu.device).matmul(x)


def _lu_square_grad(lower, upper, gl, gu):
    """Pᵀ gA for square A = P L U:  L⁻ᵀ [tril(Lᵀ gL, -1) + triu(gU Uᵀ)] U⁻ᵀ."""
    inner = lower.mT.matmul(gl).tril(-1) + gu.matmul(upper.mT).triu()
    x = solve_triangular(lower.mT, inner, upper=True, unitriangular=True)
    return solve_triangular(upper.mT, x, upper=False, left=False)


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    op = "linalg.lu_factor"
    c.check_float(A, op)
    c.check_matrix(A, op)
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")
    lu, piv, info = _LuFactor.apply(A)
    if check_errors:
        c.raise_info(info, "torch." + op, _zero_pivot)
    return _out(c.LuFactorEx(lu, piv, info), out)


def _zero_pivot(k):
    return (
        f"U[{k},{k}] is zero and using it on lu_solve would result in a division by zero. "
        "If you still want to perform the factorization, consider calling linalg.lu(A, pivot) "
        "or linalg.lu_factor_ex(A, pivot)"
    )


def lu_factor(A, *, pivot=True, out=None):
    lu, piv, info = lu_factor_ex(A, pivot=pivot)
    c.raise_info(info, "torch.linalg.lu_factor", _zero_pivot, RuntimeError)
    return _out(c.LuFactor(lu, piv), out)


def lu(A, *, pivot=True, out=None):
    """P, L, U with A = P L U; L and U are differentiable through the packed factor."""
    lu_, piv, _ = lu_factor_ex(A, pivot=pivot)
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n)
    lower = lu_[..., :, :k].tril(-1) + _C.eye(m, k, dtype=A.dtype, device=A.device)
    upper = lu_[..., :k, :].triu()
    p = c.permutation(piv, m, A.dtype, A.device)
    return _out(c.Lu(p, lower, upper), out)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    op = "linalg.lu_solve"
    c.check_float(LU, op)
    c.check_square(LU, op, "LU")
    c.check_matrix(B, op, "B")
    if not left:
        # X A = B  ⇔  Aᵀ Xᵀ = Bᵀ
        return _out(lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT, out)
    n = LU.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation AX = B "
            f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})"
        )
    if not (_C.is_grad_enabled() and (LU.requires_grad or B.requires_grad)):
        return _out(c.raw_lu_solve(LU, pivots, B, adjoint), out)
    # Differentiable path: the permutation and two triangular solves as tensor ops.
    p = c.permutation(pivots, n, LU.dtype, LU.device)
    lower, upper = LU.tril(-1) + c.eye_like(LU), LU.triu()
    if adjoint:
        y = solve_triangular(upper.mT, B, upper=False)
        y = solve_triangular(lower.mT, y, upper=True, unitriangular=True)
        return _out(p.matmul(y), out)
    y = solve_triangular(lower, p.mT.matmul(B), upper=False, unitriangular=True)
    return _out(solve_triangular(upper, y, upper=True), out)
