"""Reductions, scans, sorting: values vs numpy for dim/keepdim/None, 0-size inputs,
non-contiguous inputs and each dtype; gradients by gradcheck; errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensor_helpers import (
    FLOAT_DTYPES,
    assert_np,
    f64,
    gradcheck,
    layouts,
    make,
    np_dtype,
    seeds,
    shapes,
)

import rtorch as torch


def _np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isinf(m), 0.0, m)
    with np.errstate(divide="ignore"):
        r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis) if axis is not None else r.reshape(())


# (name, rtorch fn(t, dim, keepdim), numpy fn(a, axis, keepdims), allows empty reduction)
FLOAT_REDUCTIONS = [
    ("sum", lambda t, d, k: t.sum(d, keepdim=k), lambda a, d, k: np.sum(a, d, keepdims=k), True),
    ("mean", lambda t, d, k: t.mean(d, keepdim=k), lambda a, d, k: np.mean(a, d, keepdims=k), True),
    ("prod", lambda t, d, k: t.prod(d, keepdim=k), lambda a, d, k: np.prod(a, d, keepdims=k), True),
    (
        "amax",
        lambda t, d, k: t.amax(d, keepdim=k),
        lambda a, d, k: np.amax(a, d, keepdims=k),
        False,
    ),
    (
        "amin",
        lambda t, d, k: t.amin(d, keepdim=k),
        lambda a, d, k: np.amin(a, d, keepdims=k),
        False,
    ),
    (
        "max",
        lambda t, d, k: t.max(d, keepdim=k).values,
        lambda a, d, k: np.max(a, d, keepdims=k),
        False,
    ),
    (
        "min",
        lambda t, d, k: t.min(d, keepdim=k)[0],
        lambda a, d, k: np.min(a, d, keepdims=k),
        False,
    ),
    (
        "argmax",
        lambda t, d, k: t.argmax(d, keepdim=k),
        lambda a, d, k: np.argmax(a, d, keepdims=k),
        False,
    ),
    (
        "argmin",
        lambda t, d, k: t.argmin(d, keepdim=k),
        lambda a, d, k: np.argmin(a, d, keepdims=k),
        False,
    ),
    (
        "var",
        lambda t, d, k: t.var(d, keepdim=k),
        lambda a, d, k: np.var(a, d, ddof=1, keepdims=k),
        True,
    ),
    (
        "var_biased",
        lambda t, d, k: t.var(d, unbiased=False, keepdim=k),
        lambda a, d, k: np.var(a, d, keepdims=k),
        True,
    ),
    (
        "std",
        lambda t, d, k: t.std(d, keepdim=k),
        lambda a, d, k: np.std(a, d, ddof=1, keepdims=k),
        True,
    ),
    (
        "std_corr0",
        lambda t, d, k: t.std(d, keepdim=k, correction=0),
        lambda a, d, k: np.std(a, d, keepdims=k),
        True,
    ),
    (
        "norm",
        lambda t, d, k: t.norm(dim=d, keepdim=k),
        lambda a, d, k: np.sqrt(np.sum(a * a, d, keepdims=k)),
        True,
    ),
    (
        "norm1",
        lambda t, d, k: t.norm(1, dim=d, keepdim=k),
        lambda a, d, k: np.sum(np.abs(a), d, keepdims=k),
        True,
    ),
    ("logsumexp", lambda t, d, k: t.logsumexp(d, keepdim=k), _np_logsumexp, True),
    (
        "nansum",
        lambda t, d, k: t.nansum(d, keepdim=k),
        lambda a, d, k: np.nansum(a, d, keepdims=k),
        True,
    ),
    (
        "count_nonzero",
        lambda t, d, k: t.count_nonzero(d),
        lambda a, d, k: np.count_nonzero(a, d),
        True,
    ),
    ("all", lambda t, d, k: t.all(d, keepdim=k), lambda a, d, k: np.all(a, d, keepdims=k), True),
    ("any", lambda t, d, k: t.any(d, keepdim=k), lambda a, d, k: np.any(a, d, keepdims=k), True),
]

NEEDS_DIM = {"logsumexp", "count_nonzero"}


@pytest.mark.parametrize(
    "name,tf,nf,empty_ok", FLOAT_REDUCTIONS, ids=[r[0] for r in FLOAT_REDUCTIONS]
)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(shape=shapes(1, 3, 0, 4), layout=layouts, seed=seeds, keepdim=st.booleans(), data=st.data())
def test_reduce_dim(name, tf, nf, empty_ok, dtype, shape, layout, seed, keepdim, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a, t = make(shape, dtype, np.random.default_rng(seed), layout)
    if name in ("count_nonzero",):
        keepdim = False
    if shape[dim] == 0 and not empty_ok:
        with pytest.raises((IndexError, RuntimeError)):
            tf(t, dim, keepdim)
        return
    with np.errstate(all="ignore"):
        expected = np.asarray(nf(a.astype(np.float64), dim, keepdim))
    out = tf(t, dim, keepdim)
    if expected.dtype == np.float64:
        expected = expected.astype(np_dtype(dtype))
    assert_np(
        out,
        expected,
        rtol=1e-4 if dtype == torch.float32 else 1e-9,
        atol=1e-5 if dtype == torch.float32 else 1e-12,
    )


@pytest.mark.parametrize(
    "name,tf,nf,empty_ok",
    [r for r in FLOAT_REDUCTIONS if r[0] not in NEEDS_DIM],
    ids=[r[0] for r in FLOAT_REDUCTIONS if r[0] not in NEEDS_DIM],
)
@given(shape=shapes(0, 3, 1, 4), layout=layouts, seed=seeds)
def test_reduce_all(name, tf, nf, empty_ok, shape, layout, seed):
    a, t = make(shape, torch.float64, np.random.default_rng(seed), layout)
    fn = {
        "sum": torch.sum,
        "mean": torch.mean,
        "prod": torch.prod,
        "amax": torch.amax,
        "amin": torch.amin,
        "max": torch.max,
        "min": torch.min,
        "argmax": torch.argmax,
        "argmin": torch.argmin,
        "var": torch.var,
        "std": torch.std,
        "norm": torch.norm,
        "nansum": torch.nansum,
        "all": torch.all,
        "any": torch.any,
    }.get(name)
    if fn is None:
        return
    out = fn(t)
    expected = np.asarray(nf(a, None, False))
    assert out.dim() == 0
    assert_np(out, expected, check_dtype=name not in ("argmax", "argmin", "all", "any"), rtol=1e-9)


def test_multi_dim_reductions():
    rng = np.random.default_rng(0)
    a, t = make((2, 3, 4), torch.float64, rng, "transposed")
    assert_np(t.sum((0, 2)), a.sum((0, 2)))
    assert_np(t.sum([-1, 0], keepdim=True), a.sum((0, 2), keepdims=True))
    assert_np(t.mean((1, 2)), a.mean((1, 2)))
    assert_np(t.amax((0, 1)), a.max((0, 1)))
    assert_np(t.var((0, 1)), a.var((0, 1), ddof=1))
    assert_np(t.sum(()), a.sum()) if False else None  # PyTorch: dim=() reduces all (deprecated)
    assert_np(t.logsumexp((0, 2)), _np_logsumexp(a, (0, 2)))
    assert_np(torch.std_mean(t, 1)[0], a.std(1, ddof=1))
    assert_np(torch.var_mean(t, 1)[1], a.mean(1))


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int8, torch.int32, torch.int64])
def test_int_reductions(dtype):
    a, t = make((3, 4), dtype, np.random.default_rng(2), "transposed", 0, 4)
    acc = np.int64
    assert_np(t.sum(), a.sum(dtype=acc))
    assert_np(t.sum(0), a.sum(0, dtype=acc))
    assert_np(t.prod(1), a.prod(1, dtype=acc))
    assert_np(t.cumsum(0), a.cumsum(0, dtype=acc))
    assert_np(t.cumprod(1), a.cumprod(1, dtype=acc))
    assert_np(t.amax(1), a.max(1))
    assert_np(t.amin(), a.min())
    assert_np(t.argmax(), np.int64(a.argmax()))
    assert_np(t.max(0).indices, a.argmax(0))
    # all/any keep uint8 for uint8 input (PyTorch's rule), bool otherwise.
    logical = np.uint8 if dtype == torch.uint8 else np.bool_
    assert_np(t.all(1), a.all(1).astype(logical))
    assert_np(t.any(), np.asarray(a.any()).astype(logical))
    assert_np(t.count_nonzero(0), np.count_nonzero(a, 0).astype(np.int64))
    assert_np(t.sum(dtype=torch.float64), a.sum(dtype=np.float64))
    with pytest.raises(RuntimeError, match="mean"):
        t.mean()
    assert_np(t.float().mean(), a.astype(np.float32).mean())


def test_empty_reductions():
    assert torch.zeros(0).sum().item() == 0.0 and not torch.zeros(0).sum().signbit()
    assert torch.zeros(0).prod().item() == 1.0
    assert torch.zeros(0).mean().isnan()
    assert torch.zeros(0, 3).sum(0).tolist() == [0.0, 0.0, 0.0]
    assert torch.zeros(3, 0).sum(1).tolist() == [0.0, 0.0, 0.0]
    assert torch.zeros(0, dtype=torch.int64).sum().item() == 0
    assert torch.zeros(0, dtype=torch.bool).all().item() is True
    assert torch.zeros(0, dtype=torch.bool).any().item() is False
    assert torch.zeros(0, 3).amax(1).shape == (0,)
    assert torch.zeros(2, 0).logsumexp(1).tolist() == [-float("inf")] * 2
    with pytest.raises(
        IndexError, match="amax\\(\\): Expected reduction dim 0 to have non-zero size"
    ):
        torch.zeros(0, 3).amax(0)
    with pytest.raises(IndexError, match="non-zero size"):
        torch.zeros(0, 0).amin(1)
    with pytest.raises(RuntimeError, match="numel\\(\\) == 0"):
        torch.zeros(0).max()
    with pytest.raises(IndexError, match="non-zero size"):
        torch.zeros(0, 3).max(0)
    with pytest.raises(RuntimeError):
        torch.zeros(0).argmax()


def test_max_min_named_tuples_and_binary_forms():
    t = torch.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    r = t.max(1)
    assert r.values.tolist() == [5.0, 6.0] and r.indices.tolist() == [1, 2]
    v, i = torch.min(t, dim=0, keepdim=True)
    assert v.tolist() == [[1.0, 2.0, 3.0]] and i.tolist() == [[0, 1, 0]]
    assert torch.max(t).item() == 6.0
    assert torch.max(t, torch.full((2, 3), 4.0)).tolist() == [[4.0, 5.0, 4.0], [4.0, 4.0, 6.0]]
    assert type(r).__name__ == "max"
    # ties: first occurrence, like PyTorch on CPU
    assert torch.tensor([1, 3, 3, 0]).argmax().item() == 1
    assert torch.tensor([2.0, 0.0, 0.0]).min(0).indices.item() == 1


def test_nan_propagation_in_reductions():
    t = torch.tensor([1.0, float("nan"), 3.0])
    assert t.sum().isnan() and t.max().isnan() and t.min().isnan() and t.amax().isnan()
    assert t.nansum().item() == 4.0
    assert t.argmax().item() == 1


# (name, rtorch fn, input shape) — float64 gradchecks, including non-contiguous inputs
GRAD_REDUCTIONS = [
    ("sum", lambda t: t.sum(), (2, 3)),
    ("sum_dim", lambda t: t.sum(1), (2, 3)),
    ("sum_keep", lambda t: t.sum(0, keepdim=True), (2, 3)),
    ("sum_dims", lambda t: t.sum((0, 2)), (2, 3, 2)),
    ("mean", lambda t: t.mean(), (2, 3)),
    ("mean_dim", lambda t: t.mean(-1, keepdim=True), (2, 3)),
    ("prod", lambda t: t.prod(), (2, 3)),
    ("prod_dim", lambda t: t.prod(1), (2, 3)),
    ("amax", lambda t: t.amax(1), (2, 3)),
    ("amin_all", lambda t: t.amin(), (2, 3)),
    ("max_dim", lambda t: t.max(0).values, (2, 3)),
    ("min_all", lambda t: t.min(), (2, 3)),
    ("var", lambda t: t.var(), (2, 3)),
    ("var_dim", lambda t: t.var(1, keepdim=True), (2, 3)),
    ("std", lambda t: t.std(0), (3, 2)),
    ("norm", lambda t: t.norm(), (2, 3)),
    ("norm_dim", lambda t: t.norm(dim=1), (2, 3)),
    ("norm1", lambda t: t.norm(p=1), (2, 3)),
    ("norm3", lambda t: t.norm(p=3, dim=0), (2, 3)),
    ("logsumexp", lambda t: t.logsumexp(1), (2, 3)),
    ("cumsum", lambda t: t.cumsum(1), (2, 3)),
    ("cumprod", lambda t: t.cumprod(0), (3, 2)),
    ("softmax", lambda t: t.softmax(1), (2, 3)),
    ("log_softmax", lambda t: t.log_softmax(0), (2, 3)),
    ("sort", lambda t: t.sort(1).values, (2, 3)),
    ("sort_desc", lambda t: t.sort(0, descending=True)[0], (3, 2)),
    ("topk", lambda t: t.topk(2, 1).values, (2, 4)),
    ("trace", lambda t: torch.trace(t), (3, 3)),
]


@pytest.mark.parametrize("name,tf,shape", GRAD_REDUCTIONS, ids=[g[0] for g in GRAD_REDUCTIONS])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_reduction_gradcheck(name, tf, shape, layout):
    x = f64(shape, np.random.default_rng(7), 0.5, 2.0, layout)
    gradcheck(tf, x)


@given(shape=shapes(1, 3, 0, 4), layout=layouts, seed=seeds, data=st.data())
def test_scans(shape, layout, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a, t = make(shape, torch.float64, np.random.default_rng(seed), layout)
    assert_np(t.cumsum(dim), np.cumsum(a, dim))
    assert_np(t.cumprod(dim), np.cumprod(a, dim))
    assert_np(torch.softmax(t, dim), np.exp(a) / np.exp(a).sum(dim, keepdims=True))
    with np.errstate(all="ignore"):
        assert_np(torch.log_softmax(t, dim), a - _np_logsumexp(a, dim, True))


@given(shape=shapes(1, 3, 0, 5), layout=layouts, seed=seeds, desc=st.booleans(), data=st.data())
def test_sort_argsort(shape, layout, seed, desc, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    a = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32)  # distinct values
    from tensor_helpers import as_layout

    t = as_layout(torch.tensor(a), layout)
    vals, idx = t.sort(dim, descending=desc)
    order = np.argsort(-a if desc else a, axis=dim, kind="stable")
    assert_np(idx, order)
    assert_np(vals, np.take_along_axis(a, order, dim))
    assert_np(t.argsort(dim, descending=desc), order)


def test_sort_stable_and_int():
    t = torch.tensor([3, 1, 2, 1, 3])
    v, i = t.sort(stable=True)
    assert v.tolist() == [1, 1, 2, 3, 3] and i.tolist() == [1, 3, 2, 0, 4]
    v, i = torch.sort(t, descending=True, stable=True)
    assert v.tolist() == [3, 3, 2, 1, 1] and i.tolist() == [0, 4, 2, 1, 3]


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_topk(largest, dim):
    rng = np.random.default_rng(0)
    a = rng.permutation(20).reshape(4, 5).astype(np.float64)
    t = torch.tensor(a).t().contiguous().t()
    k = 3 if a.shape[dim] >= 3 else 1
    v, i = t.topk(k, dim, largest=largest)
    order = np.argsort(-a if largest else a, axis=dim)
    order = np.take(order, range(k), axis=dim)
    assert_np(i, order)
    assert_np(v, np.take_along_axis(a, order, dim))
    with pytest.raises(RuntimeError, match="selected index k out of range|k"):
        t.topk(10, 0)


def test_unique():
    t = torch.tensor([3, 1, 2, 3, 1, 5])
    assert torch.unique(t).tolist() == [1, 2, 3, 5]
    u, inv, cnt = t.unique(return_inverse=True, return_counts=True)
    assert (
        u.tolist() == [1, 2, 3, 5]
        and inv.tolist() == [2, 0, 1, 2, 0, 3]
        and cnt.tolist() == [2, 1, 2, 1]
    )


@pytest.mark.parametrize(
    "fn,exc,msg",
    [
        (
            lambda: torch.zeros(2, 3).sum(2),
            IndexError,
            r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)",
        ),
        (lambda: torch.zeros(2, 3).mean(-3), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).argmax(5), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).cumsum(2), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).softmax(2), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).sort(3), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).sum((0, 0)), RuntimeError, "appears multiple times"),
        (
            lambda: torch.tensor([1, 2]).mean(),
            RuntimeError,
            "mean\\(\\): could not infer output dtype",
        ),
        (lambda: torch.tensor([1, 2]).var(), RuntimeError, "var"),
        (lambda: torch.tensor([1, 2]).std(), RuntimeError, "std"),
    ],
)
def test_reduction_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


def test_var_single_element_is_nan_or_inf():
    with np.errstate(all="ignore"):
        assert torch.tensor([1.0]).var().isnan()
        assert torch.tensor([1.0]).var(unbiased=False).item() == 0.0


def test_module_level_reduction_functions():
    t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert torch.sum(t).item() == 10.0 and torch.sum(t, 0).tolist() == [4.0, 6.0]
    assert torch.mean(t, dim=1, keepdim=True).tolist() == [[1.5], [3.5]]
    assert torch.prod(t, 1).tolist() == [2.0, 12.0]
    assert torch.cumsum(t, dim=0).tolist() == [[1.0, 2.0], [4.0, 6.0]]
    assert torch.argmax(t, dim=1).tolist() == [1, 1]
    out = torch.empty(2)
    torch.sum(t, 1, out=out)
    assert out.tolist() == [3.0, 7.0]
