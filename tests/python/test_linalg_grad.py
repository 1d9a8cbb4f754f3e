"""Gradients of rtorch.linalg in float64 against finite differences (gradcheck), on
well-conditioned random inputs; eigh/svd/qr through gauge-invariant losses."""

import numpy as np
import pytest

import rtorch as torch
from rtorch.autograd import gradcheck, gradgradcheck

LA = torch.linalg
RNG = np.random.default_rng(1)


def leaf(a):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=True)


def wc(*shape):
    n = shape[-1]
    return leaf(RNG.standard_normal(shape) + n * np.eye(n))


def rand(*shape):
    return leaf(RNG.standard_normal(shape))


def sym(x):
    return x + x.mT


def test_solve_inv_det_slogdet_grad():
    a, b = wc(2, 3, 3), rand(2, 3, 2)
    assert gradcheck(LA.solve, (a, b))
    assert gradcheck(lambda a, b: LA.solve(a, b, left=False), (a, rand(2, 2, 3)))
    assert gradcheck(LA.solve, (a, rand(3)))  # broadcast vector right-hand side
    assert gradcheck(LA.inv, (a,))
    assert gradcheck(LA.det, (a,))
    assert gradcheck(lambda a: LA.slogdet(a).logabsdet, (a,))
    assert gradgradcheck(LA.inv, (wc(3, 3),))
    assert gradgradcheck(LA.det, (wc(3, 3),))


def test_det_grad_singular():
    # d det / dA = adj(A)ᵀ, defined for singular A too.
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    A = leaf(a)
    LA.det(A).backward()
    adj_t = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(A.grad.numpy(), adj_t, atol=1e-10)


def test_cholesky_grad():
    x = rand(2, 4, 4)

    def f(x, upper):
        a = x @ x.mT + 4 * torch.eye(x.shape[-1], dtype=torch.float64)
        return LA.cholesky(a, upper=upper)

    assert gradcheck(lambda x: f(x, False), (x,))
    assert gradcheck(lambda x: f(x, True), (x,))
    assert gradgradcheck(lambda x: f(x, False), (rand(3, 3),))


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular_grad(upper, left, unit):
    a = wc(3, 3)
    b = rand(2, 3, 2) if left else rand(2, 2, 3)
    assert gradcheck(lambda a, b: LA.solve_triangular(a, b, upper=upper, left=left, unitriangular=unit), (a, b))


def test_lu_grads():
    a = wc(2, 4, 4)
    assert gradcheck(lambda a: LA.lu_factor(a).LU, (a,))
    for shape in ((5, 3), (3, 5), (2, 4, 2)):  # tall and wide
        assert gradcheck(lambda a: LA.lu_factor(a).LU, (rand(*shape),)), shape
        assert gradcheck(lambda a: LA.lu(a).U, (rand(*shape),)), shape
    assert gradcheck(lambda a: LA.lu(a).L.sum(-1) + LA.lu(a).U.sum(-1), (a,))
    b = rand(2, 4, 3)

    def via_lu(a, b, adjoint):
        lu, piv = LA.lu_factor(a)
        return LA.lu_solve(lu, piv, b, adjoint=adjoint)

    assert gradcheck(lambda a, b: via_lu(a, b, False), (a, b))
    assert gradcheck(lambda a, b: via_lu(a, b, True), (a, b))


@pytest.mark.parametrize("shape,mode", [((5, 3), "reduced"), ((4, 4), "complete"), ((3, 5), "reduced"), ((2, 4, 3), "reduced")])
def test_qr_grad(shape, mode):
    a = rand(*shape)
    assert gradcheck(lambda a: LA.qr(a, mode=mode).Q, (a,))
    assert gradcheck(lambda a: LA.qr(a, mode=mode).R, (a,))


def test_qr_grad_refusals():
    a = rand(4, 2)
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        LA.qr(a, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="which is not computed when mode='r'"):
        LA.qr(a, mode="r").R.sum().backward()


def test_eigh_grad_gauge_invariant():
    x = rand(2, 4, 4)
    assert gradcheck(lambda x: LA.eigvalsh(sym(x)), (x,))
    assert gradcheck(lambda x: LA.eigh(sym(x)).eigenvalues, (x,))

    # v v ᵀ of each eigenvector does not depend on its sign.
    def proj(x):
        w, v = LA.eigh(sym(x))
        return v[..., :, :2] @ v[..., :, :2].mT + w.sum()

    assert gradcheck(proj, (x,))
    assert gradcheck(lambda x: LA.eigh(sym(x), UPLO="U").eigenvectors.abs().sum(-2), (x,))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 3, 4)])
def test_svd_grad_gauge_invariant(shape):
    a = rand(*shape)
    assert gradcheck(LA.svdvals, (a,))

    def recon(a, full):
        u, s, vh = LA.svd(a, full_matrices=full)
        k = s.shape[-1]
        return (u[..., :, :k] * s.unsqueeze(-2)) @ vh[..., :k, :]

    assert gradcheck(lambda a: recon(a, False), (a,))
    assert gradcheck(lambda a: recon(a, True), (a,))

    def gauge(a):
        u, s, vh = LA.svd(a, full_matrices=False)
        return u[..., :, :1] @ vh[..., :1, :] + (u @ u.mT).sum() + (vh.mT @ vh).sum()

    assert gradcheck(gauge, (a,))


def test_composites_grad():
    a = rand(4, 3)
    assert gradcheck(LA.pinv, (a,))
    assert gradcheck(lambda a, b: LA.lstsq(a, b).solution, (a, rand(4, 2)))
    assert gradcheck(lambda a, b: LA.lstsq(a, b, driver="gels").solution, (a, rand(4, 2)))
    for ord in ("fro", "nuc", 2, -2, 1, -1, float("inf"), -float("inf")):
        assert gradcheck(lambda a, o=ord: LA.matrix_norm(a, o), (a,)), ord
    for ord in (2, 1, 3, float("inf")):
        assert gradcheck(lambda a, o=ord: LA.vector_norm(a, o, dim=-1), (a,)), ord
    sq = wc(3, 3)
    assert gradcheck(lambda a: LA.matrix_power(a, -2), (sq,))
    assert gradcheck(LA.matrix_exp, (rand(3, 3),))
    assert gradcheck(lambda a, t: LA.householder_product(a, t), (rand(4, 3), rand(3)))
    assert gradcheck(lambda x, y: LA.cross(x, y), (rand(2, 3), rand(2, 3)))
    assert gradcheck(lambda a, b, c: LA.multi_dot([a, b, c]), (rand(3), rand(3, 4), rand(4, 2)))
    assert gradcheck(lambda a: LA.cond(a), (sq,))
