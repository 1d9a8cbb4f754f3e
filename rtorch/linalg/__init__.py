"""``torch.linalg``: factorizations (LU, LDLᵀ, Cholesky, QR, symmetric eigen, SVD) run by the
backend's dense kernels (faer on the CPU; CUDA tensors make a host round trip), batched
over leading dims, float32/float64, with PyTorch's gradient formulas."""

from ._core import LinAlgError
from ._decomp import (
    cholesky,
    cholesky_ex,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    solve_triangular,
)
from ._ldl import ldl_factor, ldl_factor_ex, ldl_solve
from ._misc import (
    cross,
    diagonal,
    householder_product,
    matmul,
    matrix_exp,
    matrix_power,
    multi_dot,
    vander,
    vecdot,
)
from ._norms import matrix_norm, norm, vector_norm
from ._solve import (
    cond,
    det,
    inv,
    inv_ex,
    lstsq,
    matrix_rank,
    pinv,
    slogdet,
    solve,
    solve_ex,
    tensorinv,
    tensorsolve,
)
from ._spectral import eig, eigh, eigvals, eigvalsh, matrix_sqrth, polar, qr, svd, svdvals

__all__ = [
    "LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
    "eigh", "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "lstsq", "lu",
    "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_sqrth", "multi_dot", "norm", "pinv", "polar", "qr", "slogdet", "solve",
    "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander",
    "vecdot", "vector_norm",
]
