"""Soundness of reductions, scans, sorting and index ops: index validation as PyTorch does it,
0-d tensors with dim 0/-1, empty views with an offset, exact int64 ordering, NaN ordering,
any/all dtypes, std's gradient at zero, repeat_interleave and huge repeat sizes."""

import math

import numpy as np
import pytest

import rtorch as torch
from rtorch.autograd import gradcheck


def npa(t):
    return np.asarray(t.tolist())


# ---- index validation ------------------------------------------------------------------


def test_gather_negative_index_raises():
    x = torch.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 3"):
        x.gather(0, torch.tensor([-1]))


def test_gather_index_dtype():
    with pytest.raises(RuntimeError, match=r"gather\(\): Expected dtype int64 for index"):
        torch.zeros(3).gather(0, torch.tensor([0], dtype=torch.int32))


@pytest.mark.parametrize("op", ["scatter", "scatter_add"])
def test_scatter_negative_index_raises(op):
    x = torch.zeros(3)
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 3"):
        getattr(x, op)(0, torch.tensor([-1]), torch.ones(1))


def test_scatter_index_dtype_names_op():
    with pytest.raises(RuntimeError, match=r"scatter_add\(\): Expected dtype int64 for index"):
        torch.zeros(3).scatter_add(0, torch.tensor([0], dtype=torch.int32), torch.ones(1))


@pytest.mark.parametrize("op", ["scatter", "scatter_add"])
def test_scatter_shape_check(op):
    x = torch.zeros(2, 2)
    idx = torch.zeros(3, 2, dtype=torch.int64)
    msg = (
        r"Expected index \[3, 2\] to be smaller than self \[2, 2\] apart from dimension 1 "
        r"and to be smaller size than src \[3, 2\]"
    )
    with pytest.raises(RuntimeError, match=msg):
        getattr(x, op)(1, idx, torch.ones(3, 2))
    # An index larger than src (even along dim) is refused too.
    msg = r"Expected index \[1, 3\] to be smaller than self \[2, 4\] apart from dimension 1 and to be smaller size than src \[1, 2\]"
    with pytest.raises(RuntimeError, match=msg):
        getattr(torch.zeros(2, 4), op)(1, torch.zeros(1, 3, dtype=torch.int64), torch.ones(1, 2))


def test_scatter_src_larger_than_index_reads_prefix():
    x = torch.zeros(2, 3)
    src = torch.arange(12.0).reshape(3, 4)
    idx = torch.tensor([[2, 0], [1, 2]])
    out = x.scatter(1, idx, src)
    exp = np.zeros((2, 3))
    s = np.arange(12.0).reshape(3, 4)
    for i in range(2):
        for j in range(2):
            exp[i, idx[i, j].item()] = s[i, j]
    np.testing.assert_array_equal(npa(out), exp)


@pytest.mark.parametrize(
    "fn,exc,msg",
    [
        (lambda x: x.index_select(0, torch.tensor([-1])), IndexError, "index out of range in self"),
        (lambda x: x.index_select(0, torch.tensor([3])), IndexError, "index out of range in self"),
        (
            lambda x: x.index_add(0, torch.tensor([-1]), torch.ones(1, 2)),
            IndexError,
            "index out of range in self",
        ),
        (
            lambda x: x.index_copy(0, torch.tensor([-1]), torch.ones(1, 2)),
            IndexError,
            r"index_copy_\(\): index -1 is out of bounds for dimension 0 with size 3",
        ),
        (
            lambda x: x.index_fill(1, torch.tensor([2]), 0.0),
            IndexError,
            "index 2 is out of bounds for dimension 1 with size 2",
        ),
        (
            lambda x: torch.take(x, torch.tensor([6])),
            IndexError,
            r"out of range: tried to access index 6 on a tensor of 6 elements\.",
        ),
        (
            lambda x: torch.take(x, torch.tensor([-7])),
            IndexError,
            r"out of range: tried to access index -7 on a tensor of 6 elements\.",
        ),
        (lambda x: x[torch.tensor([3])], IndexError, "index 3 is out of bounds for dimension 0 with size 3"),
        (lambda x: x[torch.tensor([-4])], IndexError, "index -4 is out of bounds for dimension 0 with size 3"),
    ],
)
def test_index_bounds_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn(torch.zeros(3, 2))


def test_negative_indices_where_pytorch_wraps():
    x = torch.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(npa(x[torch.tensor([-1, 0])]), [[4, 5], [0, 1]])
    np.testing.assert_array_equal(npa(torch.take(x, torch.tensor([-1, -6]))), [5, 0])
    np.testing.assert_array_equal(npa(x.index_fill(0, torch.tensor([-1]), -1.0)), [[0, 1], [2, 3], [-1, -1]])
    y = x.clone()
    y[torch.tensor([-1])] = 9.0
    np.testing.assert_array_equal(npa(y), [[0, 1], [2, 3], [9, 9]])
    z = torch.zeros(3)
    z.index_put_((torch.tensor([-1, -1]),), torch.tensor([1.0, 2.0]), accumulate=True)
    np.testing.assert_array_equal(npa(z), [0, 0, 3])


def test_index_add_and_copy_shape_checks():
    x = torch.zeros(3, 2)
    with pytest.raises(RuntimeError, match=r"Number of indices \(2\) should be equal to source.size\(dim\) \(1\)"):
        x.index_add(0, torch.tensor([0, 1]), torch.ones(1, 2))
    with pytest.raises(RuntimeError, match="source tensor shape must match self tensor shape"):
        x.index_add(0, torch.tensor([0]), torch.ones(1, 3))


def test_index_copy_values_and_grad():
    x = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    src = torch.arange(4.0, dtype=torch.float64).reshape(2, 2).requires_grad_()
    out = x.index_copy(0, torch.tensor([2, 0]), src)
    np.testing.assert_array_equal(npa(out.detach()), [[2, 3], [0, 0], [0, 1]])
    assert gradcheck(lambda a, b: a.index_copy(0, torch.tensor([2, 0]), b), (x, src))
    y = torch.zeros(3, 2)
    y.index_copy_(1, torch.tensor([1]), torch.ones(3, 1))
    np.testing.assert_array_equal(npa(y), [[0, 1], [0, 1], [0, 1]])


def test_gather_scatter_noncontiguous_and_broadcast_inputs():
    base = torch.arange(24.0).reshape(4, 6)
    x = base.t()[1:, ::2]  # (5, 2) non-contiguous with an offset
    idx = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]]).t().contiguous().t()
    out = x.gather(1, idx)
    xn, iv = npa(x), npa(idx)
    np.testing.assert_array_equal(npa(out), np.take_along_axis(xn, iv, 1))
    # An expanded (stride-0) index.
    e = torch.tensor([[1], [0], [1], [1], [0]]).expand(5, 2)
    np.testing.assert_array_equal(npa(x.gather(1, e)), np.take_along_axis(xn, npa(e), 1))
    # scatter_add with duplicates accumulates.
    z = torch.zeros(5, 2).scatter_add(1, e, torch.ones(5, 2))
    np.testing.assert_array_equal(npa(z).sum(1), [2] * 5)


def test_gather_scatter_gradcheck():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[0, 3], [1, 1], [2, 0]])
    assert gradcheck(lambda a: a.gather(1, idx), (x,))
    src = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a, s: a.scatter_add(1, idx, s), (x, src))


# ---- 0-d tensors with dim 0 / -1 -------------------------------------------------------


@pytest.mark.parametrize("dim", [0, -1])
def test_zero_dim_ops(dim):
    x = torch.tensor(5.0)
    assert x.roll(1, dim).item() == 5.0
    assert x.movedim(dim, dim).shape == ()
    assert x.unfold(dim, 1, 1).tolist() == [5.0]
    assert x.cumsum(dim).item() == 5.0
    v, i = x.sort(dim)
    assert v.item() == 5.0 and i.item() == 0 and v.shape == ()
    assert x.argsort(dim).item() == 0
    v, i = x.topk(1, dim)
    assert v.item() == 5.0 and i.item() == 0
    assert x.index_select(dim, torch.tensor([0])).item() == 5.0
    assert x.gather(dim, torch.tensor(0)).item() == 5.0
    assert x.index_add(dim, torch.tensor([0]), torch.tensor(2.0)).item() == 7.0
    assert x.index_fill(dim, torch.tensor([0]), 1.0).item() == 1.0
    assert x.scatter(dim, torch.tensor(0), torch.tensor(3.0)).item() == 3.0
    with pytest.raises(RuntimeError, match="Dimension specified as"):
        x.unbind(dim)
    with pytest.raises(RuntimeError, match="chunk expects at least a 1-dimensional tensor"):
        x.chunk(1, dim)
    with pytest.raises(RuntimeError, match="narrow\\(\\) cannot be applied to a 0-dim tensor"):
        x.narrow(dim, 0, 1)
    with pytest.raises(IndexError):
        x.select(dim, 0)
    with pytest.raises(RuntimeError, match="split expects at least a 1-dimensional tensor"):
        x.split(1, dim)
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_select(dim, torch.tensor([1]))


def test_zero_dim_bad_dim_raises():
    x = torch.tensor(5.0)
    for fn in (lambda: x.roll(1, 1), lambda: x.sort(1), lambda: x.movedim(1, 0), lambda: x.cumsum(1)):
        with pytest.raises(IndexError, match="Dimension out of range"):
            fn()


def test_zero_dim_index_put_and_grad():
    x = torch.tensor(1.0)
    x.index_put_((), torch.tensor(5.0))
    assert x.item() == 5.0
    x.index_put_((), torch.tensor(2.0), accumulate=True)
    assert x.item() == 7.0
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: t.index_add(0, torch.tensor([0]), t * 3), (a,))


# ---- empty views with an offset --------------------------------------------------------


def empty_view():
    v = torch.zeros(3, 0)[2:]
    assert v.shape == (1, 0)
    return v


def test_empty_view_reductions():
    v = empty_view()
    assert v.sum(1).tolist() == [0.0]
    assert v.sum(0).shape == (0,)
    assert v.sum().item() == 0.0
    assert v.prod(1).tolist() == [1.0]
    assert math.isnan(v.mean().item())
    assert v.amax(0).shape == (0,)
    assert v.any(1).tolist() == [False]
    assert v.all(1).tolist() == [True]
    assert v.count_nonzero(1).tolist() == [0]
    assert v.norm(dim=1).tolist() == [0.0]
    assert v.logsumexp(1).tolist() == [-math.inf]
    assert math.isnan(v.var(1).tolist()[0])
    assert v.nonzero().shape == (0, 2)
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 1 to have non-zero size"):
        v.amax(1)
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 1 to have non-zero size"):
        v.max(1)
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0"):
        v.max()
    with pytest.raises(RuntimeError, match="argmax"):
        v.argmax()


def test_empty_view_scans_sorts_and_indexing():
    v = empty_view()
    assert v.cumsum(1).shape == (1, 0)
    assert v.cumprod(0).shape == (1, 0)
    s, i = v.sort(1)
    assert s.shape == (1, 0) and i.shape == (1, 0)
    assert v.argsort(0).shape == (1, 0)
    assert v.topk(0, 1).values.shape == (1, 0)
    assert v.index_select(1, torch.tensor([], dtype=torch.int64)).shape == (1, 0)
    assert v.gather(1, torch.zeros(1, 0, dtype=torch.int64)).shape == (1, 0)
    assert v.scatter(1, torch.zeros(1, 0, dtype=torch.int64), torch.zeros(1, 0)).shape == (1, 0)
    assert v[torch.tensor([0])].shape == (1, 0)
    assert v.unique().shape == (0,)
    assert v.flip(0).shape == (1, 0) and v.roll(1, 0).shape == (1, 0)
    assert v.repeat(2, 3).shape == (2, 0)
    assert torch.cat([v, v], 0).shape == (2, 0)


# ---- orderings: int64 exactness and NaN -------------------------------------------------


def test_sort_int64_above_2_pow_53():
    big = 2**53
    vals = [big + 1, big, big + 2, -big - 1, -big]
    t = torch.tensor(vals, dtype=torch.int64)
    s, i = t.sort()
    assert s.tolist() == sorted(vals)
    assert [vals[k] for k in i.tolist()] == sorted(vals)
    assert t.argsort(descending=True).tolist() == sorted(range(5), key=lambda k: -vals[k])
    assert t.topk(2).values.tolist() == [big + 2, big + 1]
    u, inv, c = torch.unique(t, return_inverse=True, return_counts=True)
    assert u.tolist() == sorted(vals)
    assert c.tolist() == [1] * 5
    assert [u.tolist()[k] for k in inv.tolist()] == vals
    assert t.max().item() == big + 2 and t.argmax().item() == 2
    assert t.cumsum(0).tolist() == list(np.cumsum(np.array(vals, dtype=np.int64)))


def test_sort_nan_is_largest():
    nan = float("nan")
    t = torch.tensor([3.0, nan, 1.0, nan, 2.0])
    s, i = t.sort()
    assert s.tolist()[:3] == [1.0, 2.0, 3.0] and all(math.isnan(x) for x in s.tolist()[3:])
    assert i.tolist() == [2, 4, 0, 1, 3]
    s, i = t.sort(descending=True)
    assert all(math.isnan(x) for x in s.tolist()[:2]) and s.tolist()[2:] == [3.0, 2.0, 1.0]
    assert i.tolist() == [1, 3, 0, 4, 2]
    assert t.topk(2, largest=False).values.tolist() == [1.0, 2.0]
    assert all(math.isnan(x) for x in t.topk(1).values.tolist())


def test_unique_keeps_nans_apart():
    nan = float("nan")
    t = torch.tensor([nan, 1.0, nan, 1.0])
    u, inv, c = torch.unique(t, return_inverse=True, return_counts=True)
    assert u.tolist()[0] == 1.0 and all(math.isnan(x) for x in u.tolist()[1:]) and len(u) == 3
    assert c.tolist() == [2, 1, 1]
    assert inv.tolist()[1] == inv.tolist()[3] == 0
    assert sorted([inv.tolist()[0], inv.tolist()[2]]) == [1, 2]


def test_sort_is_stable_both_ways():
    t = torch.tensor([1, 0, 1, 0, 1])
    assert t.sort().indices.tolist() == [1, 3, 0, 2, 4]
    assert t.sort(descending=True).indices.tolist() == [0, 2, 4, 1, 3]


def test_sort_noncontiguous_matches_numpy():
    x = torch.randn(5, 7).t()[1:]
    s, i = x.sort(0)
    xn = npa(x)
    np.testing.assert_array_equal(npa(s), np.sort(xn, 0))
    np.testing.assert_array_equal(npa(i), np.argsort(xn, 0, kind="stable"))


# ---- any / all dtypes -------------------------------------------------------------------


@pytest.mark.parametrize("op", ["any", "all"])
def test_any_all_dtype(op):
    u = torch.tensor([[0, 2], [3, 4]], dtype=torch.uint8)
    r = getattr(u, op)()
    assert r.dtype == torch.uint8
    assert getattr(u, op)(1).dtype == torch.uint8
    assert getattr(u, op)(1).tolist() == ([1, 1] if op == "any" else [0, 1])
    for dt in (torch.bool, torch.int8, torch.int64, torch.float32):
        assert getattr(torch.ones(2, dtype=dt), op)().dtype == torch.bool


# ---- std / var gradients ---------------------------------------------------------------


def test_std_gradient_at_zero_variance_is_zero():
    # PyTorch's std backward masks the 0/0 where std == 0 to 0.
    x = torch.tensor([1.0, 1.0], requires_grad=True)
    x.std().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    y = torch.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]], requires_grad=True)
    y.std(1).sum().backward()
    assert y.grad[0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(npa(y.grad[1]), [-0.5, 0.0, 0.5])


def test_var_std_gradcheck():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: t.std(1), (x,))
    assert gradcheck(lambda t: t.var(0, correction=0), (x,))
    assert gradcheck(lambda t: t.std(), (x,))


def test_nansum_and_logsumexp_match_numpy():
    a = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 0.5]])
    t = torch.tensor(a)
    np.testing.assert_allclose(npa(t.nansum(1)), np.nansum(a, 1))
    b = np.array([[1.0, 2.0, 3.0], [-np.inf, -np.inf, -np.inf]])
    with np.errstate(divide="ignore"):
        ref = np.log(np.exp(b).sum(1))
    np.testing.assert_allclose(npa(torch.tensor(b).logsumexp(1)), ref)


def test_cumprod_gradient_with_zeros():
    x = torch.tensor([[2.0, 0.0, 3.0, 0.0, 4.0], [1.5, -2.0, 0.5, 3.0, 0.0]], dtype=torch.float64)
    x.requires_grad_()
    assert gradcheck(lambda t: t.cumprod(1), (x,))
    y = torch.tensor([2.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    y.cumprod(0).sum().backward()
    # d/dx0 = 1 + x1 + x1 x2 = 1; d/dx1 = x0 + x0 x2 = 8; d/dx2 = x0 x1 = 0
    assert y.grad.tolist() == [1.0, 8.0, 0.0]


# ---- repeat_interleave -------------------------------------------------------------------


def test_repeat_interleave_forms():
    x = torch.tensor([[1, 2], [3, 4], [5, 6]])
    assert x.repeat_interleave(torch.tensor([2]), 0).tolist() == [[1, 2], [1, 2], [3, 4], [3, 4], [5, 6], [5, 6]]
    assert x.repeat_interleave(2).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert x.repeat_interleave(torch.tensor([1, 0, 2]), dim=0).tolist() == [[1, 2], [5, 6], [5, 6]]
    assert x.repeat_interleave(torch.tensor([0, 3]), dim=-1).tolist() == [[2, 2, 2], [4, 4, 4], [6, 6, 6]]
    assert torch.repeat_interleave(torch.tensor([1, 2])).tolist() == [0, 1, 1]
    assert x.repeat_interleave(2, dim=0, output_size=6).shape == (6, 2)
    assert x.repeat_interleave(torch.tensor([0, 0, 0]), dim=0).shape == (0, 2)


def test_repeat_interleave_errors():
    x = torch.zeros(3, 2)
    with pytest.raises(RuntimeError, match="repeats can not be negative"):
        x.repeat_interleave(torch.tensor([1, -1, 1]), dim=0)
    with pytest.raises(RuntimeError, match="repeats can not be negative"):
        x.repeat_interleave(-1)
    msg = r"repeats must have the same size as input along dim, but got repeats.size\(0\) = 2 and input.size\(0\) = 3"
    with pytest.raises(RuntimeError, match=msg):
        x.repeat_interleave(torch.tensor([1, 2]), dim=0)
    with pytest.raises(RuntimeError, match="allocated size does not match required size"):
        x.repeat_interleave(2, dim=0, output_size=5)


def test_repeat_interleave_gradcheck():
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: t.repeat_interleave(torch.tensor([2, 0, 1]), dim=0), (x,))


# ---- huge sizes -------------------------------------------------------------------------


def test_repeat_huge_sizes_raise():
    with pytest.raises(RuntimeError, match="overflow"):
        torch.zeros(3).repeat(2**31, 2**31)
    with pytest.raises(RuntimeError, match="overflow"):
        torch.zeros(1).repeat(2**62, 2**62)
    with pytest.raises(RuntimeError):
        torch.zeros(1).expand(2**62).contiguous()
    with pytest.raises(RuntimeError):
        torch.zeros(1).expand(2**62).clone()


def test_repeat_matches_numpy_and_grad():
    x = torch.arange(6.0).reshape(2, 3)[:, 1:]
    np.testing.assert_array_equal(npa(x.repeat(2, 1, 3)), np.tile(npa(x), (2, 1, 3)))
    a = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: t.repeat(3, 1, 2), (a,))


def test_tril_triu_and_flip_match_numpy():
    a = np.arange(20.0).reshape(4, 5)
    t = torch.tensor(a)
    for k in (-2, 0, 1, 7):
        np.testing.assert_array_equal(npa(t.tril(k)), np.tril(a, k))
        np.testing.assert_array_equal(npa(t.triu(k)), np.triu(a, k))
    np.testing.assert_array_equal(npa(t.flip(0, 1)), a[::-1, ::-1])


def test_unfold_overlapping_windows_gradient():
    x = torch.randn(7, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: t.unfold(0, 3, 1), (x,))
    x.unfold(0, 3, 2).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0]


def test_topk_negative_k_is_a_runtime_error():
    x = torch.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="k out of range"):
        x.topk(-1)
    with pytest.raises(RuntimeError, match="k out of range"):
        torch.topk(x, -2)
