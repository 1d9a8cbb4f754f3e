"""Top-level functions composed from existing ops: windows, searchsorted/bucketize, isin,
histogramdd, block_diag, cartesian_prod, combinations, atleast_3d, vander, chain_matmul,
trapezoid family, gradient, asarray, frombuffer, empty_strided, tril/triu_indices."""

import array
import itertools
import math
import warnings

import numpy as np
import pytest

import rtorch as torch
from rtorch.autograd import gradcheck


def f64(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.standard_normal(shape), dtype=torch.float64, requires_grad=True)


def close(t, ref, atol=1e-6):
    np.testing.assert_allclose(t.detach().numpy(), np.asarray(ref), atol=atol, rtol=1e-6)


def ref_of(ref, t):
    return ref.tensor(t.detach().numpy())


# ---- windows --------------------------------------------------------------------------------
WINDOWS = ["hann", "hamming", "blackman", "bartlett", "kaiser"]


def numpy_window(name, n, periodic):
    if n <= 1:
        return np.ones(n)
    points = n + 1 if periodic else n
    fn = {
        "hann": np.hanning,
        "hamming": np.hamming,
        "blackman": np.blackman,
        "bartlett": np.bartlett,
        "kaiser": lambda m: np.kaiser(m, 12.0),
    }[name]
    return fn(points)[:n]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_numpy(name, n, periodic):
    w = getattr(torch, f"{name}_window")(n, periodic, dtype=torch.float64)
    assert w.dtype == torch.float64 and tuple(w.shape) == (n,)
    close(w, numpy_window(name, n, periodic), atol=1e-12)


def test_window_options():
    assert torch.hann_window(4).dtype == torch.float32
    assert torch.hann_window(3, requires_grad=True).requires_grad
    close(torch.hamming_window(5, True, 0.5, 0.5), numpy_window("hann", 5, True))
    close(torch.kaiser_window(6, False, beta=5.0), np.kaiser(6, 5.0))
    assert torch.hann_window(3, dtype=torch.float16).dtype == torch.float16


@pytest.mark.parametrize("name", WINDOWS)
def test_window_errors(name):
    fn = getattr(torch, f"{name}_window")
    with pytest.raises(RuntimeError, match=f"{name}_window requires non-negative window_length"):
        fn(-1)
    with pytest.raises(RuntimeError, match=f"{name}_window expects floating point dtypes"):
        fn(3, dtype=torch.int64)
    with pytest.raises(TypeError, match="window_length"):
        fn(3.0)


@pytest.mark.parametrize("name", WINDOWS)
def test_windows_vs_pytorch(real_torch, name):
    for n, periodic in itertools.product([0, 1, 4, 7], [True, False]):
        ours = getattr(torch, f"{name}_window")(n, periodic)
        ref = getattr(real_torch, f"{name}_window")(n, periodic)
        close(ours, ref.numpy(), atol=1e-6)


# ---- searching ------------------------------------------------------------------------------
def test_bucketize_and_searchsorted_match_numpy():
    rng = np.random.default_rng(1)
    bounds = np.sort(rng.integers(0, 20, 12)).astype(np.float64)
    values = rng.integers(-2, 22, (3, 7)).astype(np.float64)
    b, v = torch.tensor(bounds), torch.tensor(values)
    for right in (False, True):
        side = "right" if right else "left"
        want = np.searchsorted(bounds, values, side=side)
        assert torch.searchsorted(b, v, right=right).tolist() == want.tolist()
        assert torch.searchsorted(b, v, side=side).tolist() == want.tolist()
        assert torch.bucketize(v, b, right=right).tolist() == want.tolist()
    assert torch.bucketize(v, b).dtype == torch.int64
    assert torch.bucketize(v, b, out_int32=True).dtype == torch.int32


def test_searchsorted_batched_sorter_scalar_nan():
    seq = torch.tensor([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
    vals = torch.tensor([[3.0, 6.0], [1.0, 4.0]])
    assert torch.searchsorted(seq, vals).tolist() == [[1, 3], [0, 1]]
    assert torch.searchsorted(seq, vals, right=True).tolist() == [[2, 3], [0, 2]]
    unsorted = torch.tensor([3.0, 1.0, 2.0])
    order = torch.tensor([1, 2, 0])
    assert torch.searchsorted(unsorted, torch.tensor([2.5]), sorter=order).tolist() == [2]
    assert torch.searchsorted(torch.tensor([1.0, 3.0]), 2).dim() == 0
    assert torch.bucketize(3, torch.tensor([1.0, 3.0, 5.0])).item() == 1
    b = torch.tensor([1.0, 3.0, 5.0, 7.0])
    assert torch.bucketize(torch.tensor([float("nan"), 1.0]), b).tolist() == [4, 0]
    # Mixed dtypes compare in the promoted dtype.
    assert torch.searchsorted(torch.tensor([1, 3]), torch.tensor([2.5])).tolist() == [1]
    assert torch.searchsorted(torch.tensor([]), torch.tensor([1.0])).tolist() == [0]
    out = torch.empty(0, dtype=torch.int64)
    torch.searchsorted(b, torch.tensor([4.0, 8.0]), out=out)
    assert out.tolist() == [2, 4]


def test_search_errors():
    b = torch.tensor([1.0, 3.0])
    with pytest.raises(RuntimeError, match="side can only be 'left' or 'right'"):
        torch.searchsorted(b, torch.tensor([1.0]), side="middle")
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        torch.searchsorted(b, torch.tensor([1.0]), side="left", right=True)
    with pytest.raises(RuntimeError, match="boundaries tensor should have positive dimension"):
        torch.searchsorted(torch.tensor(1.0), torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match="first N-1 dimensions of boundaries tensor"):
        torch.searchsorted(torch.ones(2, 2), torch.ones(3, 1))
    with pytest.raises(RuntimeError, match=r"boundaries tensor must be 1 dimension, but got dim\(2\)"):
        torch.bucketize(torch.ones(2), torch.ones(2, 2))


def test_search_vs_pytorch(real_torch):
    rng = np.random.default_rng(3)
    seq = torch.tensor(np.sort(rng.integers(0, 9, (2, 3, 10)), axis=-1).astype(np.float32))
    vals = torch.tensor(rng.integers(-1, 10, (2, 3, 6)).astype(np.float32))
    for right in (False, True):
        ours = torch.searchsorted(seq, vals, right=right)
        ref = real_torch.searchsorted(ref_of(real_torch, seq), ref_of(real_torch, vals), right=right)
        assert ours.tolist() == ref.tolist()
        flat = seq[0, 0]
        ours = torch.bucketize(vals, flat, right=right)
        ref = real_torch.bucketize(ref_of(real_torch, vals), ref_of(real_torch, flat), right=right)
        assert ours.tolist() == ref.tolist()


def test_isin():
    e = torch.tensor([[1, 2], [3, 4]])
    assert torch.isin(e, torch.tensor([2, 4, 9])).tolist() == [[False, True], [False, True]]
    assert torch.isin(e, torch.tensor([2, 4]), invert=True).tolist() == [[True, False], [True, False]]
    assert torch.isin(e, 3).tolist() == [[False, False], [True, False]]
    assert torch.isin(2, torch.tensor([2, 3])).item() is True
    assert torch.isin(torch.tensor([1.0, 2.0]), torch.tensor([2])).tolist() == [False, True]
    assert torch.isin(torch.tensor([float("nan")]), torch.tensor([float("nan")])).tolist() == [False]
    assert torch.isin(e, torch.tensor([], dtype=torch.int64)).sum().item() == 0
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 30, 40), rng.integers(0, 30, 25)
    assert torch.isin(torch.tensor(a), torch.tensor(b)).tolist() == np.isin(a, b).tolist()


# ---- histogramdd ----------------------------------------------------------------------------
def test_histogramdd_matches_numpy():
    rng = np.random.default_rng(5)
    pts = rng.standard_normal((200, 3))
    w = rng.random(200)
    for bins, density in [(4, False), ([2, 3, 5], True)]:
        hist, edges = torch.histogramdd(
            torch.tensor(pts), bins=bins, weight=torch.tensor(w), density=density
        )
        ref_hist, ref_edges = np.histogramdd(pts, bins=bins, weights=w, density=density)
        close(hist, ref_hist, atol=1e-10)
        for e, r in zip(edges, ref_edges):
            close(e, r, atol=1e-12)
    rng_bins = [-1.0, 1.0, 0.0, 2.0, -3.0, 0.0]
    hist, _ = torch.histogramdd(torch.tensor(pts), bins=3, range=rng_bins)
    ref = np.histogramdd(pts, bins=3, range=list(zip(rng_bins[::2], rng_bins[1::2])))[0]
    close(hist, ref)


def test_histogramdd_edges_and_errors():
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [2.0, 2.0]])
    r = torch.histogramdd(x, bins=[torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.0, 2.0])])
    assert r.hist.tolist() == [[1.0], [3.0]]
    assert type(r).__name__ == "histogramdd" and repr(r).startswith("torch.return_types.histogramdd(")
    same = torch.histogramdd(torch.ones(3, 2), bins=2)
    assert same.bin_edges[0].tolist() == [0.5, 1.0, 1.5] and same.hist.tolist() == [[0, 0], [0, 3]]
    assert torch.histogramdd(torch.ones(0, 2), bins=2).hist.sum().item() == 0
    with pytest.raises(NotImplementedError, match="histogramdd"):
        torch.histogramdd(torch.ones(3, 2, dtype=torch.int64), bins=2)
    with pytest.raises(RuntimeError, match="input tensor should have at least 2 dimensions"):
        torch.histogramdd(torch.ones(3), bins=2)
    with pytest.raises(RuntimeError, match="The size of bins must be equal"):
        torch.histogramdd(x, bins=[2])
    with pytest.raises(RuntimeError, match="range should have 4 elements, but got 2"):
        torch.histogramdd(x, bins=2, range=[0.0, 1.0])
    with pytest.raises(RuntimeError, match="min should not exceed max"):
        torch.histogramdd(x, bins=2, range=[1.0, 0.0, 0.0, 1.0])


def test_histogramdd_vs_pytorch(real_torch):
    rng = np.random.default_rng(6)
    pts = torch.tensor(rng.standard_normal((50, 2)).astype(np.float32))
    ours = torch.histogramdd(pts, bins=[3, 4], density=True)
    ref = real_torch.histogramdd(ref_of(real_torch, pts), bins=[3, 4], density=True)
    close(ours.hist, ref.hist.numpy(), atol=1e-5)
    for e, r in zip(ours.bin_edges, ref.bin_edges):
        close(e, r.numpy())


# ---- building blocks ------------------------------------------------------------------------
def test_block_diag():
    out = torch.block_diag(torch.tensor(2), torch.tensor([1, 2]), torch.ones(2, 2, dtype=torch.float64))
    want = np.zeros((4, 5))
    want[0, 0], want[1, 1:3], want[2:, 3:] = 2, [1, 2], 1
    assert out.dtype == torch.float64
    close(out, want)
    assert tuple(torch.block_diag().shape) == (1, 0)
    assert tuple(torch.block_diag(torch.ones(0, 2), torch.ones(2, 0)).shape) == (2, 2)
    with pytest.raises(RuntimeError, match="Input 0 has 3 dimensions"):
        torch.block_diag(torch.ones(2, 2, 2))
    a, b = f64(2, 3), f64(3, seed=1)
    assert gradcheck(lambda a, b: torch.block_diag(a, b), (a, b))


def test_cartesian_prod_and_combinations():
    a, b = torch.tensor([1, 2]), torch.tensor([3, 4, 5])
    assert torch.cartesian_prod(a, b).tolist() == [list(p) for p in itertools.product([1, 2], [3, 4, 5])]
    assert torch.cartesian_prod(a) is a
    v = torch.tensor([1, 2, 3, 4])
    for r in (1, 2, 3):
        assert torch.combinations(v, r).tolist() == [list(c) for c in itertools.combinations([1, 2, 3, 4], r)]
        want = [list(c) for c in itertools.combinations_with_replacement([1, 2, 3, 4], r)]
        assert torch.combinations(v, r, with_replacement=True).tolist() == want
    assert tuple(torch.combinations(v, 0).shape) == (0,)
    assert tuple(torch.combinations(v, 5).shape) == (0, 5)
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        torch.combinations(torch.ones(2, 2))
    with pytest.raises(RuntimeError, match="Expect a non-negative number, but got -1"):
        torch.combinations(v, -1)
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        torch.cartesian_prod(torch.ones(2, 2), a)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.cartesian_prod(a, torch.tensor([1.0]))
    x, y = f64(3), f64(2, seed=1)
    assert gradcheck(lambda x, y: torch.cartesian_prod(x, y), (x, y))
    assert gradcheck(lambda x: torch.combinations(x, 2, True), (x,))


def test_atleast_3d():
    shapes = [(), (4,), (2, 4), (2, 4, 5, 6)]
    for s in shapes:
        got = torch.atleast_3d(torch.ones(s)).shape
        assert tuple(got) == np.atleast_3d(np.ones(s)).shape
    pair = torch.atleast_3d(torch.ones(2), torch.ones(3))
    assert [tuple(p.shape) for p in pair] == [(1, 2, 1), (1, 3, 1)]
    assert isinstance(torch.atleast_3d([torch.ones(2)]), tuple)
    assert torch.atleast_3d() == ()


def test_vander():
    x = torch.tensor([1, 2, 3])
    assert torch.vander(x).tolist() == np.vander([1, 2, 3]).tolist()
    assert torch.vander(x).dtype == torch.int64
    assert torch.vander(torch.tensor([1, 2], dtype=torch.int8)).dtype == torch.int64
    close(torch.vander(torch.tensor([1.5, -2.0]), N=4, increasing=True), np.vander([1.5, -2.0], 4, True))
    assert torch.vander(torch.tensor([True, False])).tolist() == [[1, 1], [0, 1]]
    assert tuple(torch.vander(torch.tensor([1.0, 2.0]), N=0).shape) == (2, 0)
    with pytest.raises(RuntimeError, match="x must be a one-dimensional tensor."):
        torch.vander(torch.ones(2, 2))
    with pytest.raises(RuntimeError, match="N must be non-negative."):
        torch.vander(x, N=-1)
    assert gradcheck(lambda t: torch.vander(t, 4), (f64(3),))


def test_chain_matmul():
    rng = np.random.default_rng(7)
    mats = [rng.standard_normal(s) for s in [(2, 5), (5, 3), (3, 4), (4, 1)]]
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        out = torch.chain_matmul(*[torch.tensor(m) for m in mats])
    close(out, np.linalg.multi_dot(mats), atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = torch.ones(2, 3)
        assert torch.equal(torch.chain_matmul(single), single)
        with pytest.raises(RuntimeError, match="Expected one or more matrices"):
            torch.chain_matmul()
        with pytest.raises(RuntimeError, match="Tensor dimension is 1, expected 2 instead."):
            torch.chain_matmul(single, torch.ones(3))
        with pytest.raises(RuntimeError, match=r"tensors 0 and 1 with shapes \[2, 3\] and \[2, 3\]"):
            torch.chain_matmul(single, single)
        a, b, c = f64(2, 3), f64(3, 4, seed=1), f64(4, 2, seed=2)
        assert gradcheck(lambda a, b, c: torch.chain_matmul(a, b, c), (a, b, c))


def test_tril_triu_indices():
    for row, col, off in [(3, 3, 0), (4, 3, 1), (3, 5, -1), (3, 3, -5), (0, 3, 0), (2, 2, 9)]:
        assert torch.tril_indices(row, col, off).tolist() == [list(a) for a in np.tril_indices(row, off, col)]
        assert torch.triu_indices(row, col, off).tolist() == [list(a) for a in np.triu_indices(row, off, col)]
    assert tuple(torch.tril_indices(0, 3).shape) == (2, 0)
    assert torch.tril_indices(3, 3, dtype=torch.int32).dtype == torch.int32
    with pytest.raises(RuntimeError, match="row must be non-negative"):
        torch.tril_indices(-1, 3)
    with pytest.raises(NotImplementedError, match="not implemented for 'Float'"):
        torch.triu_indices(3, 3, dtype=torch.float32)


# ---- integration and finite differences -----------------------------------------------------
def test_trapezoid_family_matches_numpy():
    rng = np.random.default_rng(8)
    y = rng.standard_normal((3, 6))
    x = np.sort(rng.standard_normal(6))
    ty, tx = torch.tensor(y), torch.tensor(x)
    close(torch.trapezoid(ty), np.trapezoid(y) if hasattr(np, "trapezoid") else np.trapz(y))
    close(torch.trapezoid(ty, tx), (np.diff(x) * (y[:, 1:] + y[:, :-1]) / 2).sum(-1))
    close(torch.trapezoid(ty, dx=0.5, dim=0), 0.5 * (y[1:] + y[:-1]).sum(0) / 2)
    close(torch.trapz(ty, tx), torch.trapezoid(ty, tx).numpy())
    close(torch.trapz(ty, dx=2.0), torch.trapezoid(ty, dx=2.0).numpy())
    cum = np.cumsum(np.diff(x) * (y[:, 1:] + y[:, :-1]) / 2, -1)
    close(torch.cumulative_trapezoid(ty, tx), cum)
    xb = np.cumsum(rng.random((3, 6)), -1)
    close(torch.trapezoid(ty, torch.tensor(xb)), (np.diff(xb) * (y[:, 1:] + y[:, :-1]) / 2).sum(-1))


def test_trapezoid_edge_cases_and_errors():
    assert torch.trapezoid(torch.tensor([1, 2, 4])).dtype == torch.float32
    assert torch.trapezoid(torch.tensor([1, 2, 4])).item() == 4.5
    assert torch.trapezoid(torch.tensor([1, 2, 4]), torch.tensor([0, 1, 3])).item() == 7.5
    assert torch.trapezoid(torch.ones(2, 0)).tolist() == [0.0, 0.0]
    assert torch.trapezoid(torch.ones(2, 1)).tolist() == [0.0, 0.0]
    assert tuple(torch.cumulative_trapezoid(torch.ones(2, 1)).shape) == (2, 0)
    assert torch.cumulative_trapezoid(torch.tensor([1, 2, 4])).tolist() == [1.5, 4.5]
    with pytest.raises(RuntimeError, match="There must be one `x` value for each sample point"):
        torch.trapezoid(torch.ones(3), torch.tensor([0.0, 1.0]))
    with pytest.raises(IndexError, match="tensor has no dimensions"):
        torch.trapezoid(torch.tensor(1.0))
    y, x = f64(2, 4), torch.tensor([0.0, 0.5, 2.0, 2.5], dtype=torch.float64)
    assert gradcheck(lambda y: torch.trapezoid(y, x), (y,))
    assert gradcheck(lambda y: torch.cumulative_trapezoid(y, dx=0.3, dim=0), (y,))


def test_gradient_matches_numpy():
    rng = np.random.default_rng(9)
    f = rng.standard_normal((5, 6))
    coords = np.cumsum(rng.random(6) + 0.1)
    tf = torch.tensor(f)
    for order in (1, 2):
        for got, want in zip(torch.gradient(tf, edge_order=order), np.gradient(f, edge_order=order)):
            close(got, want, atol=1e-10)
        got = torch.gradient(tf, spacing=[2.0, torch.tensor(coords)], edge_order=order)
        want = np.gradient(f, 2.0, coords, edge_order=order)
        for g, w in zip(got, want):
            close(g, w, atol=1e-10)
        (g,) = torch.gradient(tf, spacing=0.5, dim=1, edge_order=order)
        close(g, np.gradient(f, 0.5, axis=1, edge_order=order), atol=1e-10)
    (g,) = torch.gradient(torch.tensor([1, 2, 4, 7, 11]))
    assert g.dtype == torch.float32 and g.tolist() == [1.0, 1.5, 2.5, 3.5, 4.0]
    assert torch.gradient(torch.tensor(1.0)) == ()
    t = f64(4, 3)
    assert gradcheck(lambda t: torch.gradient(t, edge_order=2), (t,))
    c = torch.tensor([0.0, 0.4, 1.5, 2.0], dtype=torch.float64)
    assert gradcheck(lambda t: torch.gradient(t, spacing=[c], dim=0), (t,))


def test_gradient_errors():
    with pytest.raises(RuntimeError, match="only supports edge_order=1 and edge_order=2"):
        torch.gradient(torch.ones(5), edge_order=3)
    with pytest.raises(RuntimeError, match="each dimension size to be at least edge_order\\+1"):
        torch.gradient(torch.ones(2), edge_order=2)
    with pytest.raises(RuntimeError, match="a list of length equal to 'self.dim\\(\\) = 2'"):
        torch.gradient(torch.ones(3, 4), spacing=[1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="with 0 dimensions"):
        torch.gradient(torch.ones(3, 4), spacing=[torch.tensor(2.0), torch.tensor(1.0)])


def test_integration_and_gradient_vs_pytorch(real_torch):
    rng = np.random.default_rng(10)
    y = torch.tensor(rng.standard_normal((3, 5)))
    x = torch.tensor(np.sort(rng.standard_normal(5)))
    ry, rx = ref_of(real_torch, y), ref_of(real_torch, x)
    close(torch.trapezoid(y, x), real_torch.trapezoid(ry, rx).numpy())
    close(torch.cumulative_trapezoid(y, dx=0.7, dim=0), real_torch.cumulative_trapezoid(ry, dx=0.7, dim=0).numpy())
    for order in (1, 2):
        rows = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
        ours = torch.gradient(y, spacing=[rows, x], edge_order=order)
        ref = real_torch.gradient(ry, spacing=[ref_of(real_torch, rows), rx], edge_order=order)
        for a, b in zip(ours, ref):
            close(a, b.numpy(), atol=1e-10)
        ours = torch.gradient(y, spacing=[1.5, 0.5], edge_order=order)
        ref = real_torch.gradient(ry, spacing=[1.5, 0.5], edge_order=order)
        for a, b in zip(ours, ref):
            close(a, b.numpy(), atol=1e-10)


# ---- constructors ---------------------------------------------------------------------------
def test_asarray():
    t = torch.ones(2)
    assert torch.asarray(t) is t
    assert torch.asarray(t, dtype=torch.float32) is t
    c = torch.asarray(t, copy=True)
    assert c is not t and torch.equal(c, t)
    with pytest.raises(ValueError, match="can't alias tensor with dtype 'Float' into dtype 'Double'."):
        torch.asarray(t, dtype=torch.float64, copy=False)
    assert torch.asarray([1, 2.0]).dtype == torch.float32
    assert torch.asarray([1, 2]).dtype == torch.int64
    assert torch.asarray(3.0).dim() == 0
    a = np.zeros(2)
    shared = torch.asarray(a)
    a[0] = 3
    assert shared.dtype == torch.float64 and shared.tolist() == [3.0, 0.0]
    b = np.zeros(2)
    copied = torch.asarray(b, copy=True)
    b[0] = 3
    assert copied.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="can't alias tensor with dtype 'Long' into dtype 'Float'"):
        torch.asarray(np.array([1, 2]), dtype=torch.float32, copy=False)
    assert torch.asarray(bytearray(b"ab")).tolist() == [97, 98]
    assert torch.asarray(array.array("f", [1.0, 2.0])).dtype == torch.float32
    x = torch.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="unspecified requires_grad"):
        assert torch.asarray(x) is x
    plain = torch.asarray(x, requires_grad=False)
    assert not plain.requires_grad
    plain[0] = 5.0  # shares memory with x
    assert x[0].item() == 5.0
    assert torch.asarray(t, requires_grad=True).requires_grad


def test_frombuffer():
    buf = bytearray(np.array([1, 2, 3], dtype=np.int32).tobytes())
    t = torch.frombuffer(buf, dtype=torch.int32)
    buf[0] = 9
    assert t.tolist() == [9, 2, 3]
    assert torch.frombuffer(buf, dtype=torch.int32, count=2, offset=4).tolist() == [2, 3]
    assert torch.frombuffer(array.array("d", [1.0, 2.0]), dtype=torch.float64).tolist() == [1.0, 2.0]
    halves = np.array([1.0, -2.5], dtype=np.float32).view(np.uint32) >> 16
    bf = torch.frombuffer(bytearray(halves.astype(np.uint16).tobytes()), dtype=torch.bfloat16)
    assert bf.dtype == torch.bfloat16 and bf.float().tolist() == [1.0, -2.5]
    assert torch.frombuffer(buf, dtype=torch.float32, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="must be a multiple of element size \\(8\\)"):
        torch.frombuffer(buf, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"both buffer length \(0\) and count \(-1\) must not be 0"):
        torch.frombuffer(bytearray(), dtype=torch.int32)
    with pytest.raises(ValueError, match=r"requested buffer length \(5 \* 4 bytes\)"):
        torch.frombuffer(buf, dtype=torch.int32, count=5)
    with pytest.raises(ValueError, match=r"offset \(13 bytes\) must be non-negative"):
        torch.frombuffer(buf, dtype=torch.int32, offset=13)
    with pytest.raises(ValueError, match="does not implement Python buffer protocol"):
        torch.frombuffer([1, 2], dtype=torch.int32)


def test_empty_strided_scalar_tensor_randint_like():
    e = torch.empty_strided((2, 3), (1, 2))
    assert tuple(e.shape) == (2, 3) and e.stride() == (1, 2)
    assert torch.empty_strided((2, 3), (3, 1), dtype=torch.float64, requires_grad=True).requires_grad
    assert tuple(torch.empty_strided((0, 3), (3, 1)).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="dimensionality of sizes \\(1\\) must match"):
        torch.empty_strided((2,), (1, 2))
    with pytest.raises(RuntimeError, match="negative dimension -2"):
        torch.empty_strided((-2, 3), (3, 1))
    s = torch.scalar_tensor(3)
    assert s.dim() == 0 and s.dtype == torch.float32 and s.item() == 3.0
    assert torch.scalar_tensor(3, dtype=torch.int64).dtype == torch.int64
    torch.manual_seed(0)
    r = torch.randint_like(torch.ones(200), 10)
    assert r.dtype == torch.float32 and 0 <= r.min().item() and r.max().item() < 10
    r = torch.randint_like(torch.ones(200, dtype=torch.int32), 5, 8)
    assert r.dtype == torch.int32 and set(r.tolist()) <= {5, 6, 7}
    with pytest.raises(RuntimeError, match="'from' to be less than 'to'"):
        torch.randint_like(torch.ones(3), 5, 3)


def test_constructors_vs_pytorch(real_torch):
    for n, m, off in [(4, 3, 0), (3, 5, -1), (5, 5, 2)]:
        assert torch.tril_indices(n, m, off).tolist() == real_torch.tril_indices(n, m, off).tolist()
        assert torch.triu_indices(n, m, off).tolist() == real_torch.triu_indices(n, m, off).tolist()
    v = torch.tensor([1.0, 2.0, 3.0])
    assert torch.combinations(v, 2, True).tolist() == real_torch.combinations(ref_of(real_torch, v), 2, True).tolist()
    assert torch.vander(v, 4).tolist() == real_torch.vander(ref_of(real_torch, v), 4).tolist()
    e = torch.empty_strided((2, 3), (1, 2))
    assert e.stride() == real_torch.empty_strided((2, 3), (1, 2)).stride()
    buf = bytearray(range(16))
    assert torch.frombuffer(buf, dtype=torch.int16, offset=2, count=3).tolist() == (
        real_torch.frombuffer(buf, dtype=real_torch.int16, offset=2, count=3).tolist()
    )


def test_names_are_exported():
    for name in ["hann_window", "searchsorted", "gradient", "asarray", "histogramdd", "trapz"]:
        assert callable(getattr(torch, name))
    assert math.isclose(torch.trapz(torch.tensor([0.0, 1.0])).item(), 0.5)
