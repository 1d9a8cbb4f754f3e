"""rtorch.linalg errors (PyTorch's types and messages), `_ex` info codes, norms and small
helpers, and PyTorch side by side when it is installed."""

import math

import numpy as np
import pytest

import rtorch as torch

LA = torch.linalg
RNG = np.random.default_rng(2)


def t(a, dtype=torch.float64):
    return torch.tensor(np.ascontiguousarray(a), dtype=dtype)


NOT_PD = np.array([[1.0, 2.0], [2.0, 1.0]])
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def test_linalg_error_type():
    assert issubclass(LA.LinAlgError, RuntimeError)
    with pytest.raises(LA.LinAlgError, match=r"^linalg.cholesky: The factorization could not be completed because the input is not positive-definite \(the leading minor of order 2 is not positive-definite\).$"):
        LA.cholesky(t(NOT_PD))
    with pytest.raises(LA.LinAlgError, match=r"linalg.cholesky: \(Batch element 1\): The factorization"):
        LA.cholesky(t(np.stack([np.eye(2), NOT_PD])))
    with pytest.raises(LA.LinAlgError, match=r"^linalg.inv: The diagonal element 2 is zero, the inversion could not be completed because the input matrix is singular.$"):
        LA.inv(t(SINGULAR))
    with pytest.raises(LA.LinAlgError, match=r"^torch.linalg.solve: \(Batch element 1\): The solver failed because the input matrix is singular.$"):
        LA.solve(t(np.stack([np.eye(2), SINGULAR])), t(np.ones(2)))
    with pytest.raises(RuntimeError, match=r"torch.linalg.lu_factor: U\[2,2\] is zero"):
        LA.lu_factor(t(SINGULAR))
    with pytest.raises(LA.LinAlgError):
        torch.inverse(t(SINGULAR))


def test_ex_variants_report_info():
    res = LA.cholesky_ex(t(np.stack([np.eye(2), NOT_PD])))
    assert res.info.tolist() == [0, 2] and res.info.dtype == torch.int32
    assert LA.inv_ex(t(SINGULAR)).info.item() == 2
    assert LA.solve_ex(t(SINGULAR), t(np.ones(2))).info.item() == 2
    assert LA.lu_factor_ex(t(SINGULAR)).info.item() == 2
    with pytest.raises(LA.LinAlgError):
        LA.cholesky_ex(t(NOT_PD), check_errors=True)


def test_shape_and_dtype_errors():
    with pytest.raises(RuntimeError, match=r"^linalg.inv: A must be batches of square matrices, but they are 2 by 3 matrices$"):
        LA.inv(torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"^linalg.inv: The input tensor A must have at least 2 dimensions.$"):
        LA.inv(torch.ones(3))
    with pytest.raises(NotImplementedError, match=r"^linalg.cholesky: Expected a floating point or complex tensor as input. Got Long$"):
        LA.cholesky(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(NotImplementedError, match=r"^linalg.inv: Low precision dtypes not supported. Got Half$"):
        LA.inv(torch.ones(2, 2, dtype=torch.float16))
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the equation AX = B \(3x3 and 2x1\)"):
        LA.solve(torch.eye(3), torch.ones(2))
    with pytest.raises(RuntimeError, match="Expected A and B to have the same dtype"):
        LA.solve(torch.eye(3), torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        LA.eigh(torch.eye(3), UPLO="X")
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'x'"):
        LA.qr(torch.eye(3), mode="x")
    with pytest.raises(RuntimeError, match="LU without pivoting is not implemented on the CPU"):
        LA.lu_factor(torch.eye(3), pivot=False)
    with pytest.raises(NotImplementedError, match="linalg.eig: .*no complex dtypes"):
        LA.eig(torch.eye(3))
    with pytest.raises(NotImplementedError, match="linalg.eigvals"):
        LA.eigvals(torch.eye(3))
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): expected at least 2 tensors but got 1"):
        LA.multi_dot([torch.eye(2)])


def test_norms_against_numpy():
    a = RNG.standard_normal((2, 3, 4))
    A = t(a)
    for ord in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        ref = np.linalg.norm(a, ord=ord, axis=(-2, -1))
        np.testing.assert_allclose(LA.matrix_norm(A, ord).numpy(), ref, atol=1e-10)
        ref_k = np.linalg.norm(a, ord=ord, axis=(0, 2), keepdims=True)
        np.testing.assert_allclose(LA.matrix_norm(A, ord, dim=(0, 2), keepdim=True).numpy(), ref_k, atol=1e-10)
    for ord in (2, 1, 0, 3.5, math.inf, -math.inf):
        ref = np.linalg.norm(a.reshape(-1), ord=ord)
        np.testing.assert_allclose(LA.vector_norm(A, ord).item(), ref, atol=1e-10)
        np.testing.assert_allclose(LA.vector_norm(A, ord, dim=(0, 2)).numpy(), np.linalg.norm(a.transpose(1, 0, 2).reshape(3, -1), ord=ord, axis=1), atol=1e-10)
    np.testing.assert_allclose(LA.norm(A).item(), np.linalg.norm(a.reshape(-1)), atol=1e-10)
    np.testing.assert_allclose(LA.norm(A[0], "nuc").item(), np.linalg.norm(a[0], "nuc"), atol=1e-10)
    np.testing.assert_allclose(LA.norm(A, 1, dim=-1).numpy(), np.linalg.norm(a, 1, axis=-1), atol=1e-10)
    sq = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    for p in (None, 2, -2, 1, math.inf, "fro", "nuc"):
        np.testing.assert_allclose(LA.cond(t(sq), p).item(), np.linalg.cond(sq, p), rtol=1e-10)


def test_products_and_helpers():
    a = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    A = t(a)
    for n in (-3, -1, 0, 1, 2, 5):
        np.testing.assert_allclose(LA.matrix_power(A, n).numpy(), np.linalg.matrix_power(a, n), rtol=1e-10)
    mats = [RNG.standard_normal(s) for s in [(4,), (4, 10), (10, 2), (2, 7), (7,)]]
    np.testing.assert_allclose(LA.multi_dot([t(m) for m in mats]).numpy(), np.linalg.multi_dot(mats), rtol=1e-10)
    x, y = RNG.standard_normal((2, 4, 3)), RNG.standard_normal((1, 4, 3))
    np.testing.assert_allclose(LA.cross(t(x), t(y)).numpy(), np.cross(x, y), atol=1e-12)
    np.testing.assert_allclose(LA.vecdot(t(x), t(y)).numpy(), (x * y).sum(-1), atol=1e-12)
    np.testing.assert_allclose(LA.diagonal(t(x), offset=1).numpy(), np.diagonal(x, 1, -2, -1), atol=0)
    v = RNG.standard_normal(4)
    np.testing.assert_allclose(LA.vander(t(v)).numpy(), np.vander(v, increasing=True), rtol=1e-12)
    # householder_product rebuilds Q from QR's reflectors: check against an explicit product.
    refl, tau = RNG.standard_normal((5, 3)), RNG.standard_normal(3)
    q = np.eye(5)
    for i in range(3):
        vi = np.concatenate([np.zeros(i), [1.0], refl[i + 1 :, i]])
        q = q @ (np.eye(5) - tau[i] * np.outer(vi, vi))
    np.testing.assert_allclose(LA.householder_product(t(refl), t(tau)).numpy(), q[:, :3], atol=1e-12)
    big = RNG.standard_normal((2, 3, 6)) + np.eye(6).reshape(2, 3, 6)
    np.testing.assert_allclose(LA.tensorinv(t(big), ind=2).numpy(), np.linalg.tensorinv(big, ind=2), atol=1e-10)
    rhs = RNG.standard_normal((2, 3))
    np.testing.assert_allclose(LA.tensorsolve(t(big.reshape(2, 3, 2, 3)), t(rhs)).numpy(), np.linalg.tensorsolve(big.reshape(2, 3, 2, 3), rhs), atol=1e-10)
    np.testing.assert_allclose(LA.matrix_exp(t(a / 3)).numpy(), _expm(a / 3), rtol=1e-10)


def _expm(a):
    import scipy.linalg

    return scipy.linalg.expm(a)


def test_empty_and_batched_zero_size():
    assert LA.det(torch.ones(0, 0, dtype=torch.float64)).item() == 1.0
    assert LA.inv(torch.ones(3, 0, 0)).shape == (3, 0, 0)
    assert LA.cholesky(torch.ones(0, 2, 2)).shape == (0, 2, 2)
    assert LA.svdvals(torch.ones(2, 0, 3)).shape == (2, 0)
    q, r = LA.qr(torch.ones(4, 0))
    assert q.shape == (4, 0) and r.shape == (0, 0)


def test_side_by_side_with_pytorch():
    torch_ref = pytest.importorskip("torch")
    a = RNG.standard_normal((2, 4, 4)) + 4 * np.eye(4)
    b = RNG.standard_normal((2, 4, 3))
    A, B = torch_ref.tensor(a), torch_ref.tensor(b)
    pairs = [
        (LA.solve(t(a), t(b)), torch_ref.linalg.solve(A, B)),
        (LA.inv(t(a)), torch_ref.linalg.inv(A)),
        (LA.det(t(a)), torch_ref.linalg.det(A)),
        (LA.lu_factor(t(a)).LU, torch_ref.linalg.lu_factor(A).LU),
        (LA.lu_factor(t(a)).pivots, torch_ref.linalg.lu_factor(A).pivots),
        (LA.cholesky(t(a @ a.transpose(0, 2, 1))), torch_ref.linalg.cholesky(A @ A.mT)),
        (LA.eigvalsh(t(a + a.transpose(0, 2, 1))), torch_ref.linalg.eigvalsh(A + A.mT)),
        (LA.svdvals(t(b)), torch_ref.linalg.svdvals(B)),
        (LA.pinv(t(b)), torch_ref.linalg.pinv(B)),
        (LA.matrix_rank(t(b)), torch_ref.linalg.matrix_rank(B)),
        (LA.lstsq(t(b.transpose(0, 2, 1)), t(a[:, :3])).solution, torch_ref.linalg.lstsq(B.mT, A[:, :3]).solution),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-10)
    # Gradients of the same loss agree too.
    x = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    ours = torch.tensor(x, requires_grad=True)
    theirs = torch_ref.tensor(x, requires_grad=True)
    (LA.inv(ours).sum() + LA.slogdet(ours).logabsdet + LA.svdvals(ours).sum()).backward()
    (torch_ref.linalg.inv(theirs).sum() + torch_ref.linalg.slogdet(theirs).logabsdet + torch_ref.linalg.svdvals(theirs).sum()).backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-10)


def test_matrix_sqrth_and_polar():
    import scipy.linalg as sla

    a = RNG.standard_normal((2, 4, 4))
    spd = a @ a.transpose(0, 2, 1) + np.eye(4)
    x = LA.matrix_sqrth(t(spd))
    np.testing.assert_allclose(x.numpy(), np.stack([sla.sqrtm(m).real for m in spd]), atol=1e-10)
    np.testing.assert_allclose(LA.matrix_sqrth(t(np.diag([1.0, -4.0]))).numpy(), np.diag([1.0, 0.0]), atol=1e-12)
    tall = RNG.standard_normal((5, 3))
    u, h = LA.polar(t(tall))
    ref_u, ref_h = sla.polar(tall)
    np.testing.assert_allclose(u.numpy(), ref_u, atol=1e-10)
    np.testing.assert_allclose(h.numpy(), ref_h, atol=1e-10)
    with pytest.raises(RuntimeError, match="input must have at least as many rows as columns, but got 2 by 3"):
        LA.polar(torch.ones(2, 3))
    from rtorch.autograd import gradcheck

    x = torch.tensor(a[0], requires_grad=True)
    assert gradcheck(lambda x: LA.matrix_sqrth(x @ x.mT + torch.eye(4, dtype=torch.float64)), (x,))
    assert gradcheck(lambda x: LA.polar(x[:, :3]).U, (x,))
