"""Shared pieces of ``rtorch.linalg``: input checks with PyTorch's messages, the error type,
result tuples, and thin calls into the factorization kernels (which carry no autograd
history; the differentiable functions wrap them in ``autograd.Function``)."""

from collections import namedtuple

from rtorch import _C


class LinAlgError(RuntimeError):
    """Raised when a matrix cannot be factored or inverted (``torch.linalg.LinAlgError``)."""


LinAlgError.__module__ = "torch.linalg"

_NAMES = {
    "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
    "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
    "float64": "Double",
}


def dtype_name(dt):
    return _NAMES.get(str(dt).split(".")[-1], str(dt))


def _result(name, fields):
    cls = namedtuple(name, fields)
    cls.__module__ = "torch.return_types"
    return cls


QR = _result("linalg_qr", ["Q", "R"])
Eigh = _result("linalg_eigh", ["eigenvalues", "eigenvectors"])
Svd = _result("linalg_svd", ["U", "S", "Vh"])
Slogdet = _result("linalg_slogdet", ["sign", "logabsdet"])
Lstsq = _result("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
LuFactor = _result("linalg_lu_factor", ["LU", "pivots"])
LuFactorEx = _result("linalg_lu_factor_ex", ["LU", "pivots", "info"])
Lu = _result("linalg_lu", ["P", "L", "U"])
CholeskyEx = _result("linalg_cholesky_ex", ["L", "info"])
InvEx = _result("linalg_inv_ex", ["inverse", "info"])
SolveEx = _result("linalg_solve_ex", ["result", "info"])


def check_tensor(x, op, arg="A"):
    if not isinstance(x, _C.Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position 1) must be Tensor, not {type(x).__name__}")


def check_float(x, op):
    """float32/float64 only, as PyTorch's CPU LAPACK path (half precision is refused there)."""
    check_tensor(x, op)
    if not x.is_floating_point():
        raise NotImplementedError(
            f"{op}: Expected a floating point or complex tensor as input. Got {dtype_name(x.dtype)}"
        )
    if x.dtype not in (_C.float32, _C.float64):
        raise NotImplementedError(f"{op}: Low precision dtypes not supported. Got {dtype_name(x.dtype)}")


def check_matrix(x, op, arg="A"):
    if x.dim() < 2:
        raise RuntimeError(f"{op}: The input tensor {arg} must have at least 2 dimensions.")


def check_square(x, op, arg="A"):
    check_matrix(x, op, arg)
    if x.shape[-1] != x.shape[-2]:
        raise RuntimeError(
            f"{op}: {arg} must be batches of square matrices, but they are "
            f"{x.shape[-2]} by {x.shape[-1]} matrices"
        )


def square_float(x, op):
    check_float(x, op)
    check_square(x, op)


def raise_info(info, op, message, error=LinAlgError):
    """Raises `message(code)` for the first nonzero info, prefixed with its batch position."""
    if info.numel() == 0:
        return
    flat = info.reshape(-1)
    bad = (flat != 0).nonzero()
    if bad.numel() == 0:
        return
    i = int(bad[0, 0])
    where = f"(Batch element {i}): " if info.dim() > 0 else ""
    raise error(f"{op}: {where}{message(int(flat[i]))}")


def broadcast_batch(a, b, a_tail=2, b_tail=2):
    """`a` and `b` expanded to a common batch shape (everything before their last dims)."""
    sa, sb = tuple(a.shape[: a.dim() - a_tail]), tuple(b.shape[: b.dim() - b_tail])
    batch = _bshape(sa, sb)
    return (
        a.expand(batch + tuple(a.shape[a.dim() - a_tail :])),
        b.expand(batch + tuple(b.shape[b.dim() - b_tail :])),
    )


def _bshape(a, b):
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y})")
        out.append(y if x == 1 else x)
    return tuple(out)


def sum_to(g, shape):
    """Sums a broadcast gradient back to `shape`."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.dim() - len(shape)
    if lead:
        g = g.sum(tuple(range(lead)))
    dims = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(dims, keepdim=True) if dims else g


def eye_like(a, n=None):
    n = a.shape[-1] if n is None else n
    return _C.eye(n, dtype=a.dtype, device=a.device)


# ---------------------------------------------------------------- raw kernels (no autograd)


def raw_lu(a, op):
    lu, piv, info = _C._linalg_factor(a.detach(), "lu", name=op)
    return lu, piv, info


def raw_lu_solve(lu, piv, b, transpose=False, op="linalg.lu_solve"):
    lu, b = broadcast_batch(lu.detach(), b.detach())
    piv = piv.detach().expand(tuple(lu.shape[:-1]))
    return _C._linalg_solve(lu, piv, b, "lu", transpose, name=op)


def raw_tri_solve(a, b, upper, unit=False, op="linalg.solve_triangular"):
    a, b = broadcast_batch(a.detach(), b.detach())
    return _C._linalg_solve(a, None, b, "triangular", upper, unit, name=op)


def permutation(piv, m, dtype, device):
    """The permutation matrix P (with A = P L U) of LAPACK pivots for m rows."""
    k = piv.shape[-1]
    if k < m:  # rows past min(m, n) are never swapped
        rest = _C.arange(k + 1, m + 1, dtype=_C.int32, device=device)
        piv = _C.cat([piv, rest.expand(tuple(piv.shape[:-1]) + (m - k,))], -1)
    eye = _C.eye(m, dtype=dtype, device=device).expand(tuple(piv.shape[:-1]) + (m, m))
    # Solving with L = U = I applies the row swaps only: Pᵀ I.
    return _C._linalg_solve(eye, piv.to(_C.int32), eye, "lu", False).mT
