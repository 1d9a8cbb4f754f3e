"""Products and small helpers of ``torch.linalg`` built from tensor ops."""

from rtorch import _C
from rtorch._autocast_ops import autocast_op

from . import _core as c
from ._decomp import _out
from ._solve import inv


def matrix_power(A, n, *, out=None):
    op = "linalg.matrix_power"
    c.check_tensor(A, op)
    if A.dim() < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are "
            f"{A.shape[-2] if A.dim() > 1 else 1} by {A.shape[-1]} matrices"
        )
    if not isinstance(n, int):
        raise TypeError(f"{op}(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        return _out(c.eye_like(A).expand(A.shape).clone(), out)
    base = inv(A) if n < 0 else A
    n = abs(n)
    result = None
    while n:  # binary powering
        if n & 1:
            result = base if result is None else result.matmul(base)
        n >>= 1
        if n:
            base = base.matmul(base)
    return _out(result, out)


def matrix_exp(A, *, out=None):
    from rtorch._tensor_extra import matrix_exp as _exp

    c.square_float(A, "linalg.matrix_exp")
    return _out(_exp(A), out)


def cross(input, other, *, dim=-1, out=None):
    op = "linalg.cross"
    if input.dim() != other.dim():
        raise RuntimeError(
            f"{op}: inputs must have the same number of dimensions."
        )
    a, b = c.broadcast_batch(input, other, 0, 0)
    if a.shape[dim] != 3:
        raise RuntimeError(
            f"{op}: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and "
            f"{other.shape[dim]}"
        )
    a0, a1, a2 = a.unbind(dim)
    b0, b1, b2 = b.unbind(dim)
    parts = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    return _out(_C.stack(parts, dim), out)


def _chain_order(dims):
    """Optimal parenthesization (classic O(k³) dynamic program) of matrices with
    shapes dims[i] x dims[i+1]."""
    k = len(dims) - 1
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = None
            for s in range(i, j):
                q = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if cost[i][j] is None or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, s
    return split


def multi_dot(tensors, *, out=None):
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0].dim() == 1, tensors[-1].dim() == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i, t in enumerate(mats):
        if t.dim() != 2:
            which = "first" if i == 0 else "last" if i == len(mats) - 1 else None
            if which:
                raise RuntimeError(
                    f"multi_dot(): the {which} tensor must be 1D or 2D but got {tensors[i].dim()}D"
                )
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {tuple(tensors[i].shape)} and "
                f"{tuple(tensors[i + 1].shape)} cannot be multiplied"
            )
    dims = [mats[0].shape[0]] + [m.shape[1] for m in mats]
    split = _chain_order(dims)

    def product(i, j):
        if i == j:
            return mats[i]
        s = split[i][j]
        return product(i, s).matmul(product(s + 1, j))

    r = product(0, len(mats) - 1)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return _out(r, out)


@autocast_op("linalg_vecdot")
def vecdot(x, y, *, dim=-1, out=None):
    return _out((x * y).sum(dim), out)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


def matmul(input, other, *, out=None):
    return _out(input.matmul(other), out)


def vander(x, *, N=None):
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension")
    n = x.shape[-1] if N is None else N
    if n < 1:
        raise RuntimeError("N must be greater than 1.")
    powers = _C.arange(n, device=x.device)
    return x.unsqueeze(-1).pow(powers.to(x.dtype) if x.is_floating_point() else powers)


@autocast_op("linalg_householder_product")
def householder_product(A, tau, *, out=None):
    """Q = H_1 … H_k (first n columns) with H_i = I - tau_i v_i v_iᵀ and v_i the i-th
    column of A below the diagonal, with an implicit 1 on it."""
    op = "householder_product"
    c.check_float(A, op)
    c.check_matrix(A, op, "input")
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1]
    if m < n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if k > n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    v = A.tril(-1) + _C.eye(m, n, dtype=A.dtype, device=A.device)
    q = _C.eye(m, n, dtype=A.dtype, device=A.device).expand(tuple(A.shape[:-2]) + (m, n))
    for i in reversed(range(k)):
        vi = v[..., :, i : i + 1]
        q = q - tau[..., i : i + 1].unsqueeze(-1) * vi.matmul(vi.mT.matmul(q))
    return _out(q, out)
