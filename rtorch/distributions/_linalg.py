"""The few factorizations the distributions need, composed from tensor ops so that gradients
flow through them. ``rtorch.linalg`` is used instead when it offers the function."""

import math

import rtorch
from rtorch import _C


def _native(name):
    linalg = getattr(rtorch, "linalg", None)
    return getattr(linalg, name, None) if linalg is not None else None


def _cholesky_columns(a):
    """Cholesky-Banachiewicz by columns; returns (L, pivots) where pivots are the values whose
    square roots form the diagonal (a non-positive pivot means a is not positive definite)."""
    n = a.shape[-1]
    batch = tuple(a.shape[:-2])
    cols, pivots = [], []
    for j in range(n):
        rest = a[..., j:, j]
        if cols:
            done = _C.stack(cols, -1)[..., j:, :]
            rest = rest - (done * done[..., :1, :]).sum(-1)
        pivot = rest[..., :1]
        pivots.append(pivot)
        safe = _C.where(pivot > 0, pivot, _C.ones_like(pivot)).sqrt()
        head = _C.zeros(batch + (j,), dtype=a.dtype, device=a.device)
        cols.append(_C.cat([head, safe, rest[..., 1:] / safe], -1))
    if not cols:
        return a.clone(), _C.zeros(batch + (0,), dtype=a.dtype, device=a.device)
    return _C.stack(cols, -1), _C.cat(pivots, -1)


def cholesky(a):
    """Lower Cholesky factor of symmetric positive-definite matrices (..., n, n)."""
    native = _native("cholesky")
    if native is not None:
        return native(a)
    lower, pivots = _cholesky_columns(a)
    with rtorch.no_grad():
        bad = ~(pivots > 0)
        if bool(bad.any()):
            order = int(bad.to(_C.int64).argmax(-1).reshape(-1)[0]) + 1
            raise RuntimeError(
                f"linalg.cholesky: The factorization could not be completed because the input "
                f"is not positive-definite (the leading minor of order {order} is not "
                "positive-definite)."
            )
    return lower


def cholesky_info(a):
    """0 where a is positive definite, else the order of the first failing minor (int32)."""
    with rtorch.no_grad():
        _, pivots = _cholesky_columns(a.detach())
        bad = ~(pivots > 0)
        first = bad.to(_C.int64).argmax(-1) + 1
        return _C.where(bad.any(-1), first, _C.zeros_like(first)).to(_C.int32)


def solve_triangular(a, b, *, upper):
    """x with a @ x = b for triangular a, broadcasting batch dims."""
    native = _native("solve_triangular")
    if native is not None:
        return native(a, b, upper=upper)
    return rtorch.triangular_solve(b, a, upper=upper).solution


def eigvalsh(a):
    native = _native("eigvalsh")
    if native is None:
        raise NotImplementedError(
            "rtorch: checking positive semi-definiteness needs rtorch.linalg.eigvalsh, "
            "which this build does not have"
        )
    return native(a)


def inverse_spd(a):
    """Inverse of symmetric positive-definite matrices through their Cholesky factor."""
    lower = cholesky(a)
    return rtorch.cholesky_inverse(lower)


def half_log_det(lower):
    """log det(L L^T) / 2 for a Cholesky factor L: the sum of log(diag L)."""
    return lower.diagonal(0, -2, -1).log().sum(-1)


def mahalanobis_sq(lower, diff):
    """|| L^{-1} diff ||^2 over the last dim, broadcasting L's and diff's batch dims."""
    n = lower.shape[-1]
    batch = rtorch.broadcast_shapes(tuple(lower.shape[:-2]), tuple(diff.shape[:-1]))
    lo = lower.expand(tuple(batch) + (n, n))
    rhs = diff.expand(tuple(batch) + (n,)).unsqueeze(-1)
    sol = solve_triangular(lo, rhs, upper=False).squeeze(-1)
    return (sol * sol).sum(-1)


LOG_2PI = math.log(2 * math.pi)
