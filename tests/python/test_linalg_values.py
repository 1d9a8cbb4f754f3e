"""rtorch.linalg factorizations and solvers against numpy.linalg / scipy.linalg, batched and on
non-contiguous inputs, in float32 and float64."""

import warnings

import numpy as np
import pytest
import scipy.linalg as sla

import rtorch as torch

LA = torch.linalg
RNG = np.random.default_rng(0)
DTYPES = [(torch.float64, np.float64, 1e-10), (torch.float32, np.float32, 2e-4)]


def t(a, dtype=torch.float64):
    return torch.tensor(np.ascontiguousarray(a)).to(dtype)


def npy(x):
    return x.detach().numpy().astype(np.float64)


def well_conditioned(*shape):
    n = shape[-1]
    return RNG.standard_normal(shape) + n * np.eye(n)


def spd(*shape):
    a = RNG.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def close(x, ref, tol):
    np.testing.assert_allclose(npy(x), ref, rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("dt,nt,tol", DTYPES)
def test_solve_inv_det_slogdet(dt, nt, tol):
    a = well_conditioned(3, 4, 4)
    b = RNG.standard_normal((3, 4, 2))
    A, B = t(a, dt), t(b, dt)
    close(LA.solve(A, B), np.linalg.solve(a, b), tol)
    close(LA.solve(A, B[..., 0]), np.linalg.solve(a, b[..., :1])[..., 0], tol)
    close(LA.solve(A, t(b[0], dt)), np.linalg.solve(a, np.broadcast_to(b[0], (3, 4, 2))), tol)
    close(LA.solve(A, B.mT, left=False), np.swapaxes(np.linalg.solve(np.swapaxes(a, 1, 2), b), 1, 2), tol)
    close(LA.inv(A), np.linalg.inv(a), tol)
    close(LA.det(A), np.linalg.det(a), tol)
    sign, logabs = LA.slogdet(A)
    rs, rl = np.linalg.slogdet(a)
    close(sign, rs, tol)
    close(logabs, rl, tol)
    assert LA.inv(A).dtype == dt and LA.det(A).shape == (3,)


def test_non_contiguous_and_broadcast_inputs():
    a = well_conditioned(4, 4)
    A = t(a.T).mT  # a transposed view of a.T == a, but with swapped strides
    assert not A.is_contiguous()
    np.testing.assert_allclose(npy(LA.inv(A)), np.linalg.inv(a), atol=1e-12)
    batch = t(np.stack([a, 2 * a]))[:, ::1, :]
    b = RNG.standard_normal((4, 3))
    np.testing.assert_allclose(npy(LA.solve(batch, t(b))), np.linalg.solve(np.stack([a, 2 * a]), b), atol=1e-12)
    wide = t(RNG.standard_normal((5, 8)))[:, ::2]  # [5, 4] with column stride 2
    ref = np.linalg.svd(npy(wide), compute_uv=False)
    np.testing.assert_allclose(npy(LA.svdvals(wide)), ref, atol=1e-12)


@pytest.mark.parametrize("dt,nt,tol", DTYPES)
def test_cholesky(dt, nt, tol):
    a = spd(2, 5, 5)
    A = t(a, dt)
    L = LA.cholesky(A)
    close(L, np.linalg.cholesky(a), tol)
    U = LA.cholesky(A, upper=True)
    close(U, np.swapaxes(np.linalg.cholesky(a), -1, -2), tol)
    res = LA.cholesky_ex(A)
    assert res.info.dtype == torch.int32 and res.info.tolist() == [0, 0]
    close(torch.cholesky_solve(t(np.ones((2, 5, 1)), dt), L), np.linalg.solve(a, np.ones((2, 5, 1))), tol)
    close(torch.cholesky_inverse(L[0]), np.linalg.inv(a[0]), tol)


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6), (2, 5, 5)])
def test_lu_factor_matches_scipy(shape):
    a = RNG.standard_normal(shape)
    LU, piv = LA.lu_factor(t(a))
    flat_a = a.reshape((-1,) + shape[-2:])
    flat_lu = npy(LU).reshape(flat_a.shape)
    flat_piv = piv.reshape(len(flat_a), -1).numpy()
    for m, lu_, p in zip(flat_a, flat_lu, flat_piv):
        ref_lu, ref_piv = sla.lu_factor(m)
        np.testing.assert_allclose(lu_, ref_lu, atol=1e-12)
        np.testing.assert_array_equal(p, ref_piv + 1)
    P, L, U = LA.lu(t(a))
    np.testing.assert_allclose(npy(P @ L @ U), a, atol=1e-12)
    p_ref, l_ref, u_ref = sla.lu(flat_a[0])
    np.testing.assert_allclose(npy(P).reshape((-1,) + P.shape[-2:])[0], p_ref, atol=0)
    np.testing.assert_allclose(npy(L).reshape((-1,) + L.shape[-2:])[0], l_ref, atol=1e-12)
    assert piv.dtype == torch.int32


def test_lu_solve_variants_and_legacy_names():
    a = well_conditioned(2, 4, 4)
    b = RNG.standard_normal((2, 4, 3))
    LU, piv = LA.lu_factor(t(a))
    np.testing.assert_allclose(npy(LA.lu_solve(LU, piv, t(b))), np.linalg.solve(a, b), atol=1e-12)
    at = np.swapaxes(a, 1, 2)
    np.testing.assert_allclose(npy(LA.lu_solve(LU, piv, t(b), adjoint=True)), np.linalg.solve(at, b), atol=1e-12)
    bt = np.swapaxes(b, 1, 2)
    x = LA.lu_solve(LU, piv, t(bt), left=False)
    np.testing.assert_allclose(npy(x) @ a, bt, atol=1e-12)
    np.testing.assert_allclose(npy(torch.lu_solve(t(b), *torch.lu(t(a)))), np.linalg.solve(a, b), atol=1e-12)
    lu_, piv_, info = torch.lu(t(a), get_infos=True)
    assert info.tolist() == [0, 0]


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular(upper, left, unit):
    a = well_conditioned(3, 4, 4)
    tri = np.triu(a) if upper else np.tril(a)
    ref_a = tri.copy()
    if unit:  # the stored diagonal is ignored and taken as ones
        for m in ref_a:
            np.fill_diagonal(m, 1.0)
    b = RNG.standard_normal((3, 4, 2) if left else (3, 2, 4))
    x = LA.solve_triangular(t(a), t(b), upper=upper, left=left, unitriangular=unit)
    ref = np.linalg.solve(ref_a, b) if left else np.swapaxes(np.linalg.solve(np.swapaxes(ref_a, 1, 2), np.swapaxes(b, 1, 2)), 1, 2)
    np.testing.assert_allclose(npy(x), ref, atol=1e-10)
    if left and not unit:
        sol, coeff = torch.triangular_solve(t(b), t(a), upper=upper)
        np.testing.assert_allclose(npy(sol), ref, atol=1e-10)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 3)])
def test_qr_modes(shape):
    a = RNG.standard_normal(shape)
    A = t(a)
    q, r = LA.qr(A)
    np.testing.assert_allclose(npy(q @ r), a, atol=1e-12)
    qn, rn = np.linalg.qr(a)
    # Householder QR is unique up to the signs of R's diagonal (LAPACK's convention may differ).
    sign = np.sign(np.diagonal(npy(r), axis1=-2, axis2=-1) * np.diagonal(rn, axis1=-2, axis2=-1))
    np.testing.assert_allclose(npy(r) * sign[..., :, None], rn, atol=1e-12)
    k = min(shape[-2:])
    np.testing.assert_allclose(npy(q.mT @ q), np.broadcast_to(np.eye(k), q.mT.shape[:-2] + (k, k)), atol=1e-12)
    qc, rc = LA.qr(A, mode="complete")
    assert qc.shape[-1] == shape[-2] and rc.shape == shape[:-2] + (shape[-2], shape[-1])
    np.testing.assert_allclose(npy(qc @ rc), a, atol=1e-12)
    q0, r0 = LA.qr(A, mode="r")
    assert q0.numel() == 0
    np.testing.assert_allclose(npy(r0), npy(r), atol=1e-12)
    assert torch.qr(A).Q.shape == q.shape


def test_eigh_eigvalsh():
    a = spd(3, 5, 5) - 5 * np.eye(5)
    w, v = LA.eigh(t(a))
    np.testing.assert_allclose(npy(w), np.linalg.eigvalsh(a), atol=1e-10)
    np.testing.assert_allclose(npy(v @ torch.diag_embed(w) @ v.mT), a, atol=1e-10)
    np.testing.assert_allclose(npy(LA.eigvalsh(t(a))), np.linalg.eigvalsh(a), atol=1e-10)
    # Only the chosen triangle is read.
    junk = a + np.triu(RNG.standard_normal((5, 5)), 1)
    np.testing.assert_allclose(npy(LA.eigvalsh(t(junk))), np.linalg.eigvalsh(a), atol=1e-10)
    junk_l = a + np.tril(RNG.standard_normal((5, 5)), -1)
    np.testing.assert_allclose(npy(LA.eigvalsh(t(junk_l), UPLO="U")), np.linalg.eigvalsh(a), atol=1e-10)
    w32 = LA.eigvalsh(t(a, torch.float32))
    assert w32.dtype == torch.float32
    np.testing.assert_allclose(npy(w32), np.linalg.eigvalsh(a), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 3, 6, 4)])
def test_svd(shape):
    a = RNG.standard_normal(shape)
    u, s, vh = LA.svd(t(a), full_matrices=False)
    np.testing.assert_allclose(npy(s), np.linalg.svd(a, compute_uv=False), atol=1e-12)
    np.testing.assert_allclose(npy(u @ torch.diag_embed(s) @ vh), a, atol=1e-12)
    uf, sf, vhf = LA.svd(t(a))
    m, n = shape[-2:]
    assert uf.shape[-2:] == (m, m) and vhf.shape[-2:] == (n, n)
    np.testing.assert_allclose(npy(uf.mT @ uf), np.broadcast_to(np.eye(m), uf.shape), atol=1e-12)
    np.testing.assert_allclose(npy(LA.svdvals(t(a))), npy(s), atol=1e-12)
    U, S, V = torch.svd(t(a))
    np.testing.assert_allclose(npy(U @ torch.diag_embed(S) @ V.mT), a, atol=1e-12)


def test_lstsq_pinv_rank():
    a = RNG.standard_normal((2, 6, 3))
    b = RNG.standard_normal((2, 6, 2))
    for driver in (None, "gels", "gelsd", "gelss"):
        res = LA.lstsq(t(a), t(b), driver=driver)
        ref = np.stack([np.linalg.lstsq(a[i], b[i], rcond=None)[0] for i in range(2)])
        np.testing.assert_allclose(npy(res.solution), ref, atol=1e-10)
        if driver in ("gelsd", "gelss"):
            np.testing.assert_allclose(npy(res.singular_values), np.linalg.svd(a, compute_uv=False), atol=1e-10)
            assert res.rank.tolist() == [3, 3]
        if driver is not None:
            resid = np.stack([np.linalg.lstsq(a[i], b[i], rcond=None)[1] for i in range(2)])
            np.testing.assert_allclose(npy(res.residuals), resid, atol=1e-10)
    wide = RNG.standard_normal((3, 5))
    rhs = RNG.standard_normal(3)
    x = LA.lstsq(t(wide), t(rhs), driver="gels").solution
    np.testing.assert_allclose(npy(x), np.linalg.lstsq(wide, rhs, rcond=None)[0], atol=1e-10)
    low_rank = RNG.standard_normal((5, 2)) @ RNG.standard_normal((2, 4))
    np.testing.assert_allclose(npy(LA.pinv(t(low_rank))), np.linalg.pinv(low_rank), atol=1e-10)
    sym = low_rank @ low_rank.T
    np.testing.assert_allclose(npy(LA.pinv(t(sym), hermitian=True)), np.linalg.pinv(sym, hermitian=True), atol=1e-8)
    assert int(LA.matrix_rank(t(low_rank))) == 2
    assert int(LA.matrix_rank(t(sym), hermitian=True)) == 2
    assert LA.matrix_rank(t(np.stack([low_rank, np.eye(5, 4)]))).tolist() == [2, 4]


def test_every_device_matches_cpu(device):
    """On CUDA the factorizations make a host round trip; results and gradients stay on the
    device and match the CPU."""
    a = well_conditioned(2, 4, 4)
    b = RNG.standard_normal((2, 4, 3))
    A, B = t(a).to(device), t(b).to(device)
    outs = {
        "solve": LA.solve(A, B),
        "inv": LA.inv(A),
        "det": LA.det(A),
        "chol": LA.cholesky(A @ A.mT),
        "qr_r": LA.qr(A).R.abs(),
        "eigvalsh": LA.eigvalsh(A + A.mT),
        "svdvals": LA.svdvals(B),
        "lu": LA.lu_factor(A).LU,
        "tri": LA.solve_triangular(A, B, upper=True),
    }
    for name, x in outs.items():
        assert x.device.type == device, name
    ref = {
        "solve": np.linalg.solve(a, b),
        "inv": np.linalg.inv(a),
        "det": np.linalg.det(a),
        "chol": np.linalg.cholesky(a @ np.swapaxes(a, 1, 2)),
        "qr_r": np.abs(np.linalg.qr(a)[1]),
        "eigvalsh": np.linalg.eigvalsh(a + np.swapaxes(a, 1, 2)),
        "svdvals": np.linalg.svd(b, compute_uv=False),
        "lu": np.stack([sla.lu_factor(m)[0] for m in a]),
        "tri": np.linalg.solve(np.triu(a), b),
    }
    for name, x in outs.items():
        np.testing.assert_allclose(npy(x.cpu()), ref[name], atol=1e-10, err_msg=name)
    A.requires_grad_(True)
    LA.inv(A).sum().backward()
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(npy(A.grad.cpu()), -np.swapaxes(inv, 1, 2) @ np.ones((2, 4, 4)) @ np.swapaxes(inv, 1, 2), atol=1e-10)


def test_singular_lu_follows_lapack():
    # A zero pivot leaves its column unscaled (no 0/0), as LAPACK's getrf does.
    for a in (np.zeros((3, 3)), np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]]), np.ones((4, 2))):
        res = LA.lu_factor_ex(t(a))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns about the singular input
            ref_lu, ref_piv = sla.lu_factor(a)
        np.testing.assert_allclose(npy(res.LU), ref_lu, atol=1e-12)
        np.testing.assert_array_equal(res.pivots.numpy(), ref_piv + 1)
        assert res.info.item() > 0
    assert LA.det(t(np.zeros((2, 2)))).item() == 0.0
