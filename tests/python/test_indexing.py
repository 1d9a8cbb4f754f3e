"""Indexing: basic (ints, slices, None, Ellipsis), advanced (int/bool tensors and lists),
setitem, gather/scatter/index_* ops; values vs numpy, gradients, and IndexError messages."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensor_helpers import ALL_DTYPES, assert_np, f64, gradcheck, layouts, make, seeds

import rtorch as torch

A = np.arange(60).reshape(3, 4, 5)

# (id, index expression) — applied to the same data in numpy and rtorch
BASIC = [
    ("int", lambda x: x[1]),
    ("neg_int", lambda x: x[-1]),
    ("int_int", lambda x: x[1, 2]),
    ("int_int_int", lambda x: x[2, 3, 4]),
    ("slice", lambda x: x[1:]),
    ("slice_step", lambda x: x[::2]),
    ("slice_neg", lambda x: x[-2:]),
    ("slice_out_of_range", lambda x: x[1:100]),
    ("empty_slice", lambda x: x[2:1]),
    ("slice_2d", lambda x: x[:, 1:3]),
    ("slice_steps", lambda x: x[:, ::3, 1::2]),
    ("ellipsis", lambda x: x[..., 1]),
    ("ellipsis_mid", lambda x: x[0, ..., 2]),
    ("none", lambda x: x[None]),
    ("none_mid", lambda x: x[:, None, 1]),
    ("none_end", lambda x: x[..., None]),
    ("mixed", lambda x: x[1, None, ::2, -1]),
    ("all", lambda x: x[:]),
    ("ellipsis_only", lambda x: x[...]),
]

ADVANCED = [
    ("list", lambda x: x[[0, 2]]),
    ("list_repeat", lambda x: x[[2, 2, 0]]),
    ("list_neg", lambda x: x[[-1, 0]]),
    ("two_lists", lambda x: x[[0, 2], [1, 3]]),
    ("three_lists", lambda x: x[[0, 2], [1, 3], [4, 0]]),
    ("list_slice", lambda x: x[[0, 2], 1:3]),
    ("slice_list", lambda x: x[:, [0, 3]]),
    ("slice_two_lists", lambda x: x[:, [0, 3], [1, 2]]),
    ("separated_lists", lambda x: x[[0, 1], :, [1, 3]]),
    ("nested_list", lambda x: x[[[0, 1], [2, 0]]]),
    ("bcast_lists", lambda x: x[[[0], [2]], [1, 3]]),
    ("bool_mask_dim0", lambda x: x[[True, False, True]]),
    ("ellipsis_list", lambda x: x[..., [0, 4]]),
    ("none_list", lambda x: x[None, [0, 1]]),
]


@pytest.mark.parametrize("name,expr", BASIC + ADVANCED, ids=[b[0] for b in BASIC + ADVANCED])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_getitem_matches_numpy(name, expr, layout):
    from tensor_helpers import as_layout

    t = as_layout(torch.tensor(A), layout)
    assert_np(expr(t), expr(A))


@pytest.mark.parametrize("name,expr", BASIC, ids=[b[0] for b in BASIC])
def test_basic_indexing_returns_views(name, expr):
    t = torch.tensor(A)
    v = expr(t)
    assert v.untyped_storage_ptr() == t.untyped_storage_ptr()


@pytest.mark.parametrize("name,expr", ADVANCED, ids=[b[0] for b in ADVANCED])
def test_advanced_indexing_copies(name, expr):
    t = torch.tensor(A)
    r = expr(t)
    r.fill_(-1)
    assert torch.equal(t, torch.tensor(A))


def test_index_with_tensors():
    t = torch.tensor(A)
    i = torch.tensor([2, 0])
    assert_np(t[i], A[[2, 0]])
    assert_np(t[i, torch.tensor([1, 3])], A[[2, 0], [1, 3]])
    assert_np(t[torch.tensor(1)], A[1])  # 0-d int tensor acts like an int
    mask = A > 30
    assert_np(t[torch.tensor(mask)], A[mask])
    assert_np(t[torch.tensor(mask[:, :, 0])], A[mask[:, :, 0]])
    assert_np(t[1, torch.tensor([True, False, True, False])], A[1, [True, False, True, False]])
    assert_np(t[torch.tensor([1, 2], dtype=torch.int32)], A[[1, 2]])
    assert_np(t[np.array([0, 2])], A[[0, 2]])
    assert_np(t[torch.tensor([[0, 1]])], A[[[0, 1]]])
    assert_np(t[True], A[None])
    assert t[False].shape == (0, 3, 4, 5)
    assert_np(t[torch.tensor([], dtype=torch.int64)], A[np.array([], dtype=np.int64)])


@given(seed=seeds, layout=layouts, data=st.data())
def test_random_mask_and_int_indices(seed, layout, data):
    rng = np.random.default_rng(seed)
    shape = tuple(data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    a, t = make(shape, torch.float32, rng, layout)
    mask = rng.random(shape) < 0.5
    assert_np(t[torch.tensor(mask)], a[mask])
    if shape[0]:
        idx = rng.integers(-shape[0], shape[0], size=data.draw(st.integers(0, 5)))
        assert_np(t[torch.tensor(idx, dtype=torch.int64)], a[idx])
        assert_np(t.index_select(0, torch.tensor(idx % shape[0])), a[idx % shape[0]])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_getitem_dtypes(dtype):
    a, t = make((3, 4), dtype, np.random.default_rng(0))
    assert_np(t[1:, [0, 2]], a[1:, [0, 2]])
    assert_np(t[t != t[0, 0]], a[a != a[0, 0]])
    assert t[0, 0].dim() == 0 and t[0, 0].dtype == dtype


# (id, index key as a function of the indexed array, value)
SETITEM = [
    ("int", lambda x: 1, 5),
    ("slice", lambda x: slice(1, None), -1),
    ("int_int", lambda x: (0, 2), 7),
    ("ellipsis", lambda x: (Ellipsis, 0), 3),
    ("step", lambda x: (slice(None), slice(None, None, 2)), 9),
    ("list", lambda x: [0, 2], 4),
    ("two_lists", lambda x: ([0, 2], [1, 3]), 8),
    ("mask", lambda x: x > 30, 0),
    ("slice_list", lambda x: (slice(None), [0, 3]), 6),
    ("none", lambda x: (None, 1), 2),
]


@pytest.mark.parametrize("name,key,val", SETITEM, ids=[s[0] for s in SETITEM])
@pytest.mark.parametrize("kind", ["scalar", "tensor0d", "broadcast_tensor"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_setitem_matches_numpy(name, key, val, kind, layout):
    from tensor_helpers import as_layout

    a = A.copy()
    t = as_layout(torch.tensor(A), layout)
    if kind == "scalar":
        v, tv = val, val
    elif kind == "tensor0d":
        v, tv = np.int64(val), torch.tensor(val)
    else:
        shape = a[key(a)].shape
        v = np.arange(shape[-1]) + val if shape else np.int64(val)
        tv = torch.tensor(v)
    a[key(a)] = v
    t[key(t)] = tv
    assert_np(t, a)


def test_setitem_casts_and_views():
    t = torch.zeros(2, 3, dtype=torch.int32)
    t[0] = 2.7  # truncated into int32
    assert t.tolist() == [[2, 2, 2], [0, 0, 0]]
    f = torch.zeros(3)
    f[1] = torch.tensor(5, dtype=torch.int64)
    assert f.tolist() == [0.0, 5.0, 0.0] and f.dtype == torch.float32
    base = torch.zeros(3, 4)
    view = base[:, 1:3]
    view[0] = 1.0
    assert base[0].tolist() == [0.0, 1.0, 1.0, 0.0]
    tt = torch.zeros(4, 3).t()
    tt[1] = torch.arange(4.0)
    assert tt.tolist()[1] == [0.0, 1.0, 2.0, 3.0]
    v0 = base._version
    base[1, 1] = 3
    assert base._version > v0


@pytest.mark.parametrize(
    "fn,msg",
    [
        (lambda t: t[3], "index 3 is out of bounds for dimension 0 with size 3"),
        (lambda t: t[-4], "index -4 is out of bounds for dimension 0 with size 3"),
        (lambda t: t[0, 4], r"index 4 is out of bounds for dimension \d with size 4"),
        (lambda t: t[0, 0, 0, 0], "too many indices for tensor of dimension 3"),
        (lambda t: t[[0, 5]], "index 5 is out of bounds for dimension 0 with size 3"),
        (lambda t: t[torch.tensor([True, False])], "mask"),
        (
            lambda t: t[torch.tensor([0.5])],
            "tensors used as indices must be long, int, byte or bool tensors",
        ),
        (lambda t: t[1.5], "only integers, slices"),
        (lambda t: t["a"], "only integers, slices"),
        (lambda t: t[..., ...], "an index can only have a single ellipsis"),
        (lambda t: t[[0, 1], [0, 1, 2]], "shape mismatch"),
    ],
)
def test_getitem_errors(fn, msg):
    t = torch.tensor(A)
    with pytest.raises(IndexError, match=msg):
        fn(t)


def test_setitem_errors():
    t = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="out of bounds"):
        t[2] = 1
    with pytest.raises(RuntimeError, match="shape|size"):
        t[0] = torch.ones(4)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        t[::-1] = 1
    with pytest.raises(ValueError, match="step must be greater than zero"):
        t[::-1]
    i = torch.zeros(2, dtype=torch.int64)
    with pytest.raises((RuntimeError, TypeError)):
        i[0] = "x"


# --- gather / scatter / index ops -----------------------------------------------------------


def test_gather_scatter_values():
    rng = np.random.default_rng(0)
    a, t = make((3, 4), torch.float64, rng, "transposed")
    idx = rng.integers(0, 4, size=(3, 2))
    assert_np(t.gather(1, torch.tensor(idx)), np.take_along_axis(a, idx, 1))
    idx0 = rng.integers(0, 3, size=(2, 4))
    assert_np(torch.gather(t, 0, torch.tensor(idx0)), np.take_along_axis(a, idx0, 0))
    src = rng.random((3, 4))
    perm = np.argsort(rng.random((3, 4)), axis=1)  # distinct indices per row
    expected = a.copy()
    np.put_along_axis(expected, perm, src, 1)
    assert_np(t.scatter(1, torch.tensor(perm), torch.tensor(src)), expected)
    acc = np.zeros((2, 4))
    ids = np.array([[0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0]])
    for r in range(3):
        for c in range(4):
            acc[ids[r, c], c] += src[r, c]
    assert_np(
        torch.zeros(2, 4, dtype=torch.float64).scatter_add(0, torch.tensor(ids), torch.tensor(src)),
        acc,
    )
    s = torch.zeros(2, 4, dtype=torch.float64)
    s.scatter_(0, torch.tensor(ids[:1]), 7.0)
    assert s[0].tolist() == [7.0, 0.0, 7.0, 0.0] and s[1].tolist() == [0.0, 7.0, 0.0, 7.0]


def test_index_select_add_fill_put_take():
    rng = np.random.default_rng(1)
    a, t = make((4, 3), torch.float32, rng, "sliced")
    idx = np.array([3, 0, 3])
    assert_np(t.index_select(0, torch.tensor(idx)), a[idx])
    assert_np(torch.index_select(t, 1, torch.tensor([2, 0])), a[:, [2, 0]])
    src = rng.random((3, 3)).astype(np.float32)
    exp = a.copy()
    np.add.at(exp, idx, 2 * src)
    assert_np(t.index_add(0, torch.tensor(idx), torch.tensor(src), alpha=2), exp)
    exp2 = a.copy()
    exp2[:, [0, 2]] = -1
    assert_np(t.index_fill(1, torch.tensor([0, 2]), -1.0), exp2)
    assert_np(torch.take(t, torch.tensor([0, 5, 11])), a.reshape(-1)[[0, 5, 11]])
    u = t.clone()
    u.index_put_(
        (torch.tensor([0, 0]), torch.tensor([1, 1])), torch.tensor([1.0, 2.0]), accumulate=True
    )
    exp3 = a.copy()
    exp3[0, 1] += 3
    assert_np(u, exp3)
    assert_np(t.masked_fill(torch.tensor(a > 0.5), 0.0), np.where(a > 0.5, 0, a).astype(np.float32))
    assert_np(t.masked_select(torch.tensor(a > 0.5)), a[a > 0.5])
    assert_np(torch.nonzero(torch.tensor(a > 0.5)), np.argwhere(a > 0.5))
    assert [x.tolist() for x in torch.nonzero(torch.tensor(a > 0.5), as_tuple=True)] == [
        x.tolist() for x in np.nonzero(a > 0.5)
    ]
    assert_np(torch.argwhere(torch.tensor(a > 0.5)), np.argwhere(a > 0.5))


# (name, fn of a float64 leaf) — gradients through indexing
GRAD_INDEXING = [
    ("int", lambda x: x[1]),
    ("slice", lambda x: x[:, 1:3]),
    ("step", lambda x: x[::2, ::-1] if False else x[::2, 1::2]),
    ("none_ellipsis", lambda x: x[None, ..., 0]),
    ("list", lambda x: x[[0, 2, 0]]),
    ("two_lists", lambda x: x[[0, 2], [1, 1]]),
    ("mask", lambda x: x[x > 0.0]),
    ("gather", lambda x: x.gather(1, torch.tensor([[0, 0], [1, 3], [2, 2]]))),
    ("index_select", lambda x: x.index_select(1, torch.tensor([3, 0, 3]))),
    ("take", lambda x: torch.take(x, torch.tensor([0, 11, 5, 5]))),
    ("masked_fill", lambda x: x.masked_fill(torch.tensor([[True, False, True, False]] * 3), 2.0)),
    ("masked_select", lambda x: x.masked_select(torch.tensor([[True, False, True, False]]))),
    (
        "scatter_src",
        lambda x: torch.zeros(3, 5, dtype=torch.float64).scatter(
            1, torch.tensor([[0, 1, 2, 3]] * 3), x
        ),
    ),
    (
        "scatter_add_self",
        lambda x: x.scatter_add(
            0, torch.tensor([[0, 1, 2, 0]]), torch.ones(1, 4, dtype=torch.float64)
        ),
    ),
    ("index_add", lambda x: x.index_add(0, torch.tensor([0, 0]), x[:2] * 2)),
    ("unfold", lambda x: x.unfold(1, 2, 1)),
]


@pytest.mark.parametrize("name,fn", GRAD_INDEXING, ids=[g[0] for g in GRAD_INDEXING])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_indexing_gradcheck(name, fn, layout):
    gradcheck(fn, f64((3, 4), np.random.default_rng(2), layout=layout))


def test_scatter_gradcheck_src_and_self():
    idx = torch.tensor([[0, 2], [1, 0]])
    gradcheck(lambda s, src: s.scatter(1, idx, src), f64((2, 3)), f64((2, 2)))
    gradcheck(lambda s, src: s.scatter_add(1, idx, src), f64((2, 3)), f64((2, 2)))
    gradcheck(lambda s, src: s.index_add(0, torch.tensor([1, 1, 0]), src), f64((2, 3)), f64((3, 3)))


def test_setitem_is_differentiable():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(4, dtype=torch.float64, requires_grad=True)

    def f(x, v):
        y = x * 1
        y[1] = v * 2
        y[:, 0] = 0.0
        return y

    gradcheck(f, x, v)


@pytest.mark.parametrize(
    "fn,exc,msg",
    [
        (
            lambda t: t.gather(1, torch.tensor([[5]])),
            RuntimeError,
            "index 5 is out of bounds for dimension 1 with size 4",
        ),
        (lambda t: t.gather(1, torch.tensor([[0.0]])), RuntimeError, "gather.*int64"),
        (lambda t: t.gather(2, torch.tensor([[0]])), IndexError, "Dimension out of range"),
        (lambda t: t.index_select(0, torch.tensor([3])), IndexError, "out of range|out of bounds"),
        (
            lambda t: t.index_select(0, torch.tensor([[0]])),
            (IndexError, RuntimeError),
            "Index is supposed to be a vector|1-D|vector",
        ),
        (
            lambda t: t.masked_fill(torch.tensor([1, 0, 1, 0]), 0.0),
            RuntimeError,
            "masked_fill_ only supports boolean masks",
        ),
        (
            lambda t: t.masked_fill(torch.ones(5, dtype=torch.bool), 0.0),
            RuntimeError,
            "must match|size",
        ),
        (lambda t: t.scatter(1, torch.tensor([[9]]), 1.0), RuntimeError, "out of bounds"),
        (lambda t: torch.take(t, torch.tensor([12])), IndexError, "out of range|out of bounds"),
    ],
)
def test_index_op_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn(torch.zeros(3, 4))
