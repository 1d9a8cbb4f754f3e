"""linalg.ldl_factor / ldl_factor_ex / ldl_solve: LAPACK sytrf's compact layout rebuilt into A
independently of the solver, solutions against numpy, info codes, errors and the absence of
gradients, side by side with PyTorch where it is installed."""

import numpy as np
import pytest

import rtorch as torch

L = torch.linalg


def _pt():
    return pytest.importorskip("torch")


def _sym(rng, n, batch=(), dtype=np.float64):
    a = rng.standard_normal(batch + (n, n))
    return (a + np.swapaxes(a, -1, -2)).astype(dtype)


def _rebuild(ld, piv):
    """A = M D Mᵀ with M = P₁L₁P₂L₂…, read straight from the layout (no solver involved)."""
    n = ld.shape[0]
    m, d = np.eye(n), np.zeros((n, n))
    k = 0
    while k < n:
        size = 1 if piv[k] > 0 else 2
        r, p = k + size - 1, abs(int(piv[k])) - 1
        perm = np.eye(n)
        perm[[r, p]] = perm[[p, r]]
        step = np.eye(n)
        step[k + size:, k:k + size] = ld[k + size:, k:k + size]
        m = m @ perm @ step
        d[k:k + size, k:k + size] = np.tril(ld[k:k + size, k:k + size])
        if size == 2:
            d[k, k + 1] = d[k + 1, k]
        k += size
    return m @ d @ m.T


@pytest.mark.parametrize("n", [0, 1, 2, 3, 6, 9, 70])
def test_layout_rebuilds_a_and_solve_matches_numpy(n):
    rng = np.random.default_rng(n)
    a = _sym(rng, n, (2,))
    b = rng.standard_normal((2, n, 3))
    ld, piv = L.ldl_factor(torch.tensor(a))
    assert ld.dtype == torch.float64 and piv.dtype == torch.int32
    assert tuple(ld.shape) == (2, n, n) and tuple(piv.shape) == (2, n)
    ldn, pn = ld.numpy(), piv.numpy()
    for i in range(2):
        assert np.allclose(np.triu(ldn[i], 1), 0)
        assert np.allclose(_rebuild(ldn[i], pn[i]), a[i], atol=1e-9 * max(n, 1))
    x = L.ldl_solve(ld, piv, torch.tensor(b))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b), rtol=1e-7, atol=1e-7)


def test_float32_batched_and_only_the_lower_triangle_is_read():
    rng = np.random.default_rng(1)
    a = _sym(rng, 5, (3, 2), np.float32)
    junk = a + np.triu(rng.standard_normal((5, 5)), 1).astype(np.float32)
    ld, piv, info = L.ldl_factor_ex(torch.tensor(junk))
    assert ld.dtype == torch.float32 and (info.numpy() == 0).all()
    b = rng.standard_normal((3, 2, 5, 2)).astype(np.float32)
    x = L.ldl_solve(ld, piv, torch.tensor(b))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a.astype(np.float64), b), rtol=2e-3, atol=2e-3)


def test_batch_broadcasting_and_pivot_dtypes():
    rng = np.random.default_rng(2)
    a = _sym(rng, 4)
    ld, piv = L.ldl_factor(torch.tensor(a), hermitian=True)
    b = rng.standard_normal((3, 4, 2))
    want = np.linalg.solve(a, b)
    np.testing.assert_allclose(L.ldl_solve(ld, piv, torch.tensor(b)).numpy(), want, rtol=1e-9)
    np.testing.assert_allclose(L.ldl_solve(ld, piv.long(), torch.tensor(b)).numpy(), want, rtol=1e-9)
    x = L.ldl_solve(ld.expand(3, 4, 4), piv.expand(3, 4), torch.tensor(b[0]))
    np.testing.assert_allclose(x.numpy(), np.broadcast_to(want[0], (3, 4, 2)), rtol=1e-9)
    assert tuple(L.ldl_solve(ld, piv, torch.zeros(4, 0, dtype=torch.float64)).shape) == (4, 0)


def test_two_by_two_blocks_and_info_codes():
    ld, piv, info = L.ldl_factor_ex(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert piv.tolist() == [-2, -2] and ld.tolist() == [[0.0, 0.0], [1.0, 0.0]] and int(info) == 0
    ld, piv, info = L.ldl_factor_ex(torch.tensor([[1.0, 2.0], [2.0, 4.0]]))
    assert piv.tolist() == [2, 2] and ld.tolist() == [[4.0, 0.0], [0.5, 0.0]] and int(info) == 2
    info = L.ldl_factor_ex(torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 0, 2]])).info
    assert int(info) == 2
    assert L.ldl_factor_ex(torch.zeros(2, 3, 3)).info.tolist() == [1, 1]
    with pytest.raises(RuntimeError, match="ldl_factor"):
        L.ldl_factor(torch.tensor([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(RuntimeError, match=r"Batch element 1"):
        L.ldl_factor_ex(torch.stack([torch.eye(2), torch.zeros(2, 2)]), check_errors=True)


def test_out_and_result_types():
    a = torch.tensor([[2.0, 1.0], [1.0, -3.0]])
    o = (torch.empty(0), torch.empty(0, dtype=torch.int32))
    r = L.ldl_factor(a, out=o)
    assert r.LD is o[0] and tuple(o[0].shape) == (2, 2) and o[1].tolist() == r.pivots.tolist()
    assert type(r).__name__ == "linalg_ldl_factor"
    assert type(L.ldl_factor_ex(a)).__name__ == "linalg_ldl_factor_ex"


def test_no_derivative_as_in_pytorch():
    a = torch.tensor([[2.0, 1.0], [1.0, -3.0]], dtype=torch.float64, requires_grad=True)
    ld, piv = L.ldl_factor(a)
    assert ld.requires_grad and not piv.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
        ld.sum().backward()
    b = torch.ones(2, 1, dtype=torch.float64, requires_grad=True)
    x = L.ldl_solve(ld.detach(), piv, b)
    assert x.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not implemented"):
        x.sum().backward()
    with torch.no_grad():
        assert not L.ldl_factor(a).LD.requires_grad


def _errors(T):
    """Bad calls, as functions of a torch-like module."""
    L_ = T.linalg
    ld, p = L_.ldl_factor(T.eye(3))
    b = T.ones(3, 2)
    return {
        "nonsquare": lambda: L_.ldl_factor(T.ones(3, 4)),
        "1d": lambda: L_.ldl_factor(T.ones(3)),
        "int": lambda: L_.ldl_factor(T.ones(3, 3).int()),
        "half": lambda: L_.ldl_factor(T.ones(3, 3).half()),
        "ex_1d": lambda: L_.ldl_factor_ex(T.ones(3)),
        "not_tensor": lambda: L_.ldl_factor([[1.0]]),
        "solve_ld_1d": lambda: L_.ldl_solve(T.ones(3), p, b),
        "solve_nonsquare": lambda: L_.ldl_solve(T.ones(3, 4), p, b),
        "solve_int": lambda: L_.ldl_solve(ld.int(), p, b.int()),
        "solve_b_1d": lambda: L_.ldl_solve(ld, p, T.ones(3)),
        "solve_dtype": lambda: L_.ldl_solve(ld, p, b.double()),
        "solve_rows": lambda: L_.ldl_solve(ld, p, T.ones(2, 2)),
        "solve_piv_shape": lambda: L_.ldl_solve(ld, p[:2], b),
        "solve_piv_float": lambda: L_.ldl_solve(ld, p.float(), b),
        "solve_batch": lambda: L_.ldl_solve(ld.expand(2, 3, 3), p.expand(2, 3), T.ones(3, 3, 2)),
        "solve_piv_zero": lambda: L_.ldl_solve(ld, T.tensor([0, 2, 3], dtype=T.int32), b),
        "solve_piv_big": lambda: L_.ldl_solve(ld, T.tensor([1, 5, 3], dtype=T.int32), b),
    }


def _outcome(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 - the type and message are what is compared
        return type(e).__name__, str(e)
    return "ok", ""


def test_errors():
    got = {k: _outcome(f) for k, f in _errors(torch).items()}
    assert {k: v[0] for k, v in got.items()} == {
        "nonsquare": "RuntimeError", "1d": "RuntimeError", "int": "NotImplementedError",
        "half": "NotImplementedError", "ex_1d": "RuntimeError", "not_tensor": "TypeError",
        "solve_ld_1d": "RuntimeError", "solve_nonsquare": "RuntimeError",
        "solve_int": "NotImplementedError", "solve_b_1d": "IndexError", "solve_dtype": "RuntimeError",
        "solve_rows": "RuntimeError", "solve_piv_shape": "RuntimeError",
        "solve_piv_float": "RuntimeError", "solve_batch": "RuntimeError",
        "solve_piv_zero": "RuntimeError", "solve_piv_big": "RuntimeError",
    }
    assert "A must be batches of square matrices, but they are 3 by 4" in got["nonsquare"][1]
    with pytest.raises(RuntimeError, match="must mark|negative pivot"):
        L.ldl_solve(torch.eye(3), torch.tensor([1, -2, 3], dtype=torch.int32), torch.ones(3, 1))


def test_errors_match_pytorch():
    pt = _pt()
    ours = {k: _outcome(f) for k, f in _errors(torch).items()}
    theirs = {k: _outcome(f) for k, f in _errors(pt).items()}
    assert ours == theirs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layout_equals_pytorch_where_pivoting_agrees(dtype):
    pt = _pt()
    rng = np.random.default_rng(3)
    cases = [np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 2.0], [2.0, 4.0]]),
             np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 2]]), np.array([[1.0, 5.0, 0.0], [5.0, 2.0, 1.0], [0.0, 1.0, 3.0]])]
    for n in (3, 6, 12):  # diagonally dominant: no interchange in either
        s = _sym(rng, n)
        cases.append(s + np.diag(np.abs(s).sum(1) + 1) * np.sign(rng.standard_normal(n)))
    cases += [_sym(rng, n) for n in (4, 5) for _ in range(20)]  # 2x2 blocks and swaps
    agreed = 0
    for a in cases:
        a = a.astype(dtype)
        r, w = L.ldl_factor_ex(torch.tensor(a)), pt.linalg.ldl_factor_ex(pt.tensor(a))
        assert int(r.info) == int(w.info)
        if r.pivots.tolist() != w.pivots.tolist():
            # The documented difference (see src/cpu/ldl.rs): both describe A.
            assert np.allclose(_rebuild(r.LD.numpy().astype(np.float64), r.pivots.numpy()), a, atol=1e-4)
            continue
        agreed += 1
        np.testing.assert_allclose(r.LD.numpy(), w.LD.numpy(), rtol=1e-4, atol=1e-5)
    assert agreed >= len(cases) // 2
