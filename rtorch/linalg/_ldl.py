"""Symmetric indefinite LDLᵀ (Bunch–Kaufman): ``ldl_factor``, ``ldl_factor_ex``, ``ldl_solve``.

The factor comes in LAPACK ``sytrf``'s compact layout, as PyTorch returns it: LD holds the
unit lower factor below the diagonal, D's diagonal on it and each 2×2 block's off-diagonal
at (k+1, k); pivots are 1-based, positive for a 1×1 block, and the same negative value on
both rows of a 2×2 block. The kernel (faer on the CPU) keeps a 1×1 pivot by a slightly
stricter test than LAPACK's (see src/cpu/ldl.rs), so for some matrices LD and pivots differ
from PyTorch's while describing a factorization of the same A; ``ldl_solve`` on either gives
the same solution up to rounding.

As in PyTorch, neither function has a derivative: outputs of an input that requires grad
require grad, and backward through them raises."""

from rtorch import _C
from rtorch.autograd.function import Function

from . import _core as c
from ._decomp import _out

LdlFactor = c._result("linalg_ldl_factor", ["LD", "pivots"])
LdlFactorEx = c._result("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


class _NoDerivative(Function):
    """Passes `outs` through, attached to `inputs` by a node whose backward raises."""

    @staticmethod
    def forward(ctx, name, outs, *inputs):
        ctx.name = name
        return outs[0]

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(f"derivative for aten::{ctx.name} is not implemented")


def _no_derivative(name, out, *inputs):
    if _C.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return _NoDerivative.apply(name, (out,), *inputs)
    return out


def _arg(x, fn, name, pos):
    if not isinstance(x, _C.Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}")


def _check_input(A, op):
    c.check_matrix(A, op)
    c.check_square(A, op)
    if not A.is_floating_point():
        raise NotImplementedError(
            f"{op}: Expected a floating point or complex tensor as input. Got {c.dtype_name(A.dtype)}"
        )
    if A.dtype not in (_C.float32, _C.float64):
        kernel = "ldl_factor_kernel_cpu" if "factor" in op else "ldl_solve_kernel_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{c.dtype_name(A.dtype)}\'')


def _broadcast(a, b):
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and 1 not in (x, y):
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton dimension {i}"
            )
    return tuple(y if x == 1 else x for x, y in zip(a, b))


def _singular(k):
    return (
        f"The factorization could not be completed because the input is singular: the 1x1 "
        f"block D[{k - 1}, {k - 1}] is exactly zero (info = {k})."
    )


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """LD, pivots and info (0, or the 1-based index of the first exactly-zero 1×1 block of D)."""
    op = "torch.linalg.ldl_factor_ex"
    _arg(A, "linalg_ldl_factor_ex", "input", 1)
    _check_input(A, op)
    # `hermitian` only matters for complex input, which rtorch does not have.
    ld, piv, info = _C._linalg_factor(A.detach(), "ldl", name=op)
    if check_errors:
        c.raise_info(info, op, _singular, RuntimeError)
    ld = _no_derivative("linalg_ldl_factor_ex", ld, A)
    return _out(LdlFactorEx(ld, piv, info), out)


def ldl_factor(A, *, hermitian=False, out=None):
    """LD and pivots of A = P L D Lᵀ Pᵀ (A symmetric, read from its lower triangle); raises
    ``RuntimeError`` when D has an exactly-zero 1×1 block."""
    _arg(A, "linalg_ldl_factor", "input", 1)
    ld, piv, info = ldl_factor_ex(A, hermitian=hermitian)
    c.raise_info(info, "torch.linalg.ldl_factor", _singular, RuntimeError)
    return _out(LdlFactor(ld, piv), out)


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """X with A X = B, from ``ldl_factor``'s LD and pivots; batch dims of LD and B broadcast."""
    op = "torch.linalg.ldl_solve"
    for i, (x, name) in enumerate(((LD, "LD"), (pivots, "pivots"), (B, "B"))):
        _arg(x, "linalg_ldl_solve", name, i + 1)
    _check_input(LD, op)
    if B.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{B.dim()}, {B.dim() - 1}], but got -2)")
    if B.dtype != LD.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type {c.dtype_name(B.dtype)} "
            f"and A of type {c.dtype_name(LD.dtype)} instead."
        )
    n = LD.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(
            f"Incompatible matrix sizes for {op}: each A matrix is {n} by {n} but each b matrix "
            f"is {B.shape[-2]} by {B.shape[-1]}"
        )
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(
            f"{op}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with "
            f"shape {list(pivots.shape)} instead"
        )
    if pivots.is_floating_point() or pivots.dtype == _C.bool:
        raise RuntimeError(f"{op}: Expected pivots to be integers. Got {c.dtype_name(pivots.dtype)}")
    batch = _broadcast(tuple(B.shape[:-2]), tuple(LD.shape[:-2]))
    ld = LD.detach().expand(batch + (n, n))
    piv = pivots.detach().expand(batch + (n,)).to(_C.int32)
    b = B.detach().expand(batch + tuple(B.shape[-2:]))
    x = _C._linalg_solve(ld, piv, b, "ldl", name=op)
    x = _no_derivative("linalg_ldl_solve", x, LD, B)
    return _out(x, out)
