"""Vector and matrix norms (composites of reductions and singular values)."""

import math

from rtorch import _C
from rtorch._autocast_ops import autocast_op

from . import _core as c
from ._decomp import _out
from ._spectral import svdvals


def _cast(x, dtype, op):
    if dtype is not None:
        if x.is_floating_point() and not _C.empty(0, dtype=dtype).is_floating_point():
            raise RuntimeError(f"{op}: dtype should be floating point, but got {dtype}")
        x = x.to(dtype)
    if not x.is_floating_point():
        raise RuntimeError(
            f"{op}: Expected a floating point or complex tensor as input. Got {c.dtype_name(x.dtype)}"
        )
    return x


@autocast_op("linalg_vector_norm")
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    op = "linalg.vector_norm"
    c.check_tensor(x, op, "input")
    x = _cast(x, dtype, op)
    if isinstance(ord, str):
        raise RuntimeError(f"{op}: ord must be a number, got {ord!r}")
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 0:
        dim = None
    if x.numel() == 0 and (ord < 0 or ord == math.inf):
        raise RuntimeError(
            f"{op} cannot compute the {ord} norm on an empty tensor because the operation "
            "does not have an identity"
        )
    if dim is None:
        r = x.reshape(-1).norm(p=float(ord), dim=0)
        if keepdim:
            r = r.reshape((1,) * x.dim())
        return _out(r, out)
    return _out(x.norm(p=float(ord), dim=tuple(dim), keepdim=keepdim), out)


def _move_last2(a, dim):
    nd = a.dim()
    d0, d1 = dim[0] % nd, dim[1] % nd
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    return a.movedim((d0, d1), (-2, -1)), (d0, d1)


def _restore(r, dims, nd, keepdim):
    if not keepdim:
        return r
    d0, d1 = sorted(dims)
    return r.unsqueeze(d0).unsqueeze(d1)


@autocast_op("linalg_matrix_norm")
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    op = "linalg.matrix_norm"
    c.check_tensor(A, op)
    if A.dim() < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    A = _cast(A, dtype, op)
    dim = tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    nd = A.dim()
    if ord == "fro":
        return _out(vector_norm(A, 2, dim, keepdim), out)
    a, dims = _move_last2(A, dim)
    if ord == "nuc":
        r = svdvals(a).sum(-1)
    elif ord in (2, -2):
        s = svdvals(a)
        r = s[..., 0] if ord == 2 else s[..., -1]
    elif ord in (1, -1, math.inf, -math.inf):
        # 1-norms: max column sum; inf-norms: max row sum (min for the negative orders).
        sums = a.abs().sum(-2 if abs(ord) == 1 else -1)
        r = sums.amax(-1) if ord > 0 else sums.amin(-1)
    else:
        raise RuntimeError(f"{op}: Order {ord} not supported.")
    return _out(_restore(r, dims, nd, keepdim), out)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    op = "linalg.norm"
    c.check_tensor(A, op)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        dim = tuple(dim)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
        raise RuntimeError(f"{op}: If dim is specified, it mut be of length 1 or 2. Got {list(dim)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
    if A.dim() == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    raise RuntimeError(
        f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.dim()}D."
    )
