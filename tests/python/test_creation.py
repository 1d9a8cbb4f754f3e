"""Tensor creation: dtype inference, factories, *_like, ranges, Size, item/tolist."""

import math

import numpy as np
import pytest
from hypothesis import given
from tensor_helpers import ALL_DTYPES, FLOAT_DTYPES, assert_np, np_dtype, shapes, to_np

import rtorch as torch

# --- the seed's facts -----------------------------------------------------------------------


def test_tensor_int_matrix_facts():
    x = torch.tensor([[1, 2], [3, 4]])
    assert x.dtype == torch.int64
    assert x.shape == torch.Size([2, 2])
    assert x.size() == torch.Size([2, 2])
    assert isinstance(x.size(), torch.Size) and isinstance(x.shape, tuple)
    assert x.size(0) == 2 and x.size(-1) == 2
    assert x.numel() == 4 and x.dim() == 2 and x.ndim == 2
    with pytest.raises(RuntimeError, match="4 elements"):
        x.item()


def test_tensor_scalar_float_is_0d_float32():
    x = torch.tensor(5.0)
    assert x.dtype == torch.float32 and x.dim() == 0 and x.shape == torch.Size([])
    assert x.item() == 5.0 and isinstance(x.item(), float)


# --- dtype inference ------------------------------------------------------------------------

INFER = [
    ([1, 2], torch.int64),
    ([1.0, 2], torch.float32),
    ([True, False], torch.bool),
    ([True, 1], torch.int64),
    ([1, 2.5], torch.float32),
    ([[1], [2.0]], torch.float32),
    ([], torch.float32),
    (3, torch.int64),
    (3.0, torch.float32),
    (True, torch.bool),
    (np.float64(2.0), torch.float64),
    (np.array([1, 2], dtype=np.int32), torch.int32),
    (np.array([1.0], dtype=np.float64), torch.float64),
    (np.array([1.0], dtype=np.float16), torch.float16),
    (np.array([True]), torch.bool),
    (np.array([1], dtype=np.uint8), torch.uint8),
]


@pytest.mark.parametrize("data,dtype", INFER)
def test_tensor_dtype_inference(data, dtype):
    assert torch.tensor(data).dtype == dtype


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_tensor_explicit_dtype(dtype):
    t = torch.tensor([[0, 1], [1, 0]], dtype=dtype)
    assert t.dtype == dtype
    assert_np(t, np.array([[0, 1], [1, 0]]).astype(np_dtype(dtype)))


def test_tensor_from_nested_tensors_and_numpy():
    a = torch.tensor([torch.tensor(1.0), torch.tensor(2.0)])
    assert a.tolist() == [1.0, 2.0] and a.dtype == torch.float32
    b = torch.tensor([torch.tensor([1, 2]), torch.tensor([3, 4])])
    assert b.shape == (2, 2) and b.dtype == torch.int64
    c = torch.tensor(np.arange(6).reshape(2, 3))
    assert c.shape == (2, 3) and c.dtype == torch.int64


def test_tensor_copies_data():
    a = np.zeros(3, dtype=np.float32)
    t = torch.tensor(a)
    a[0] = 5
    assert t[0].item() == 0.0
    src = torch.zeros(2)
    t2 = torch.tensor(src)
    src.add_(1)
    assert t2.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "data,exc",
    [
        ([[1, 2], [3]], ValueError),
        ("abc", TypeError),
        (["a"], TypeError),
        ([object()], TypeError),
        ({1: 2}, TypeError),
    ],
)
def test_tensor_bad_data(data, exc):
    with pytest.raises(exc):
        torch.tensor(data)


def test_requires_grad_needs_float():
    assert torch.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2], requires_grad=True)


# --- factories ------------------------------------------------------------------------------

FACTORIES = [
    ("zeros", lambda s, d: torch.zeros(*s, dtype=d), lambda s, d: np.zeros(s, d)),
    ("ones", lambda s, d: torch.ones(*s, dtype=d), lambda s, d: np.ones(s, d)),
    ("full", lambda s, d: torch.full(s, 1, dtype=d), lambda s, d: np.full(s, 1, d)),
    ("zeros_tuple", lambda s, d: torch.zeros(s, dtype=d), lambda s, d: np.zeros(s, d)),
    ("ones_list", lambda s, d: torch.ones(list(s), dtype=d), lambda s, d: np.ones(s, d)),
]


@pytest.mark.parametrize("name,tf,nf", FACTORIES, ids=[f[0] for f in FACTORIES])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@given(shape=shapes(0, 3))
def test_factories(name, tf, nf, dtype, shape):
    assert_np(tf(shape, dtype), nf(shape, np_dtype(dtype)))


def test_factory_default_dtypes():
    assert torch.zeros(2).dtype == torch.float32
    assert torch.ones(2, 3).shape == (2, 3)
    assert torch.empty(2, 3).shape == (2, 3)
    assert torch.full((2,), 3).dtype == torch.int64
    assert torch.full((2,), 3.0).dtype == torch.float32
    assert torch.full((2,), True).dtype == torch.bool
    assert torch.zeros(()).shape == () and torch.zeros(()).numel() == 1
    assert torch.zeros(0, 3).numel() == 0
    assert torch.zeros(torch.Size([2, 1])).shape == (2, 1)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_empty_recycles_memory_without_clearing_it(dtype):
    # torch.empty leaves its values unspecified: a freed block of the same size comes back
    # as it was (no clearing pass). Whatever it holds must still be valid values of the
    # dtype (bool only ever True/False), and writes through it must stick.
    n = 1 << 15  # large enough for the allocator's cache
    for fill in (0, 1):
        del_me = torch.full((n,), fill, dtype=dtype)
        del del_me
        e = torch.empty(n, dtype=dtype)
        assert e.shape == (n,) and e.dtype == dtype and not e.requires_grad
        if dtype == torch.bool:
            assert set(to_np(e).view(np.uint8).tolist()) <= {0, 1}
        e.fill_(1)
        assert (e == 1).all()
    like = torch.empty_like(torch.ones(3, 4, dtype=dtype).t())
    assert like.shape == (4, 3) and like.dtype == dtype
    assert torch.empty(2, 0, dtype=dtype).numel() == 0
    g = torch.empty(8, 8, requires_grad=True)
    assert g.requires_grad and g.is_leaf


def test_empty_reports_impossible_sizes():
    with pytest.raises(RuntimeError):
        torch.empty(1 << 62)
    with pytest.raises(RuntimeError):
        torch.empty_like(torch.ones(1)).new_empty(1 << 40, 1 << 30)


@pytest.mark.parametrize(
    "like", ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"]
)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_like_factories(like, dtype):
    src = torch.ones(2, 3, dtype=dtype).t()
    out = getattr(torch, like)(src)
    assert out.shape == (3, 2) and out.dtype == dtype and not out.requires_grad
    out2 = getattr(torch, like)(src, dtype=torch.float64)
    assert out2.dtype == torch.float64
    if like == "zeros_like":
        assert (out == 0).all()
    if like == "ones_like":
        assert (out == 1).all()


def test_full_like_and_new_factories():
    x = torch.tensor([1, 2, 3], dtype=torch.int32)
    assert_np(torch.full_like(x, 7), np.full(3, 7, np.int32))
    assert x.new_zeros(2, 2).dtype == torch.int32 and x.new_zeros((2, 2)).shape == (2, 2)
    assert_np(x.new_ones(2), np.ones(2, np.int32))
    assert_np(x.new_full((2,), 5), np.full(2, 5, np.int32))
    assert_np(x.new_tensor([1.0, 2.0]), np.array([1, 2], np.int32))
    assert x.new_empty(3).shape == (3,)


ARANGE = [
    ((5,), np.arange(5)),
    ((2, 7), np.arange(2, 7)),
    ((0, 10, 3), np.arange(0, 10, 3)),
    ((10, 0, -3), np.arange(10, 0, -3)),
    ((5.0,), np.arange(5.0, dtype=np.float32)),
    ((0, 1, 0.25), np.arange(0, 1, 0.25, dtype=np.float32)),
    ((-1.5, 1.5, 0.5), np.arange(-1.5, 1.5, 0.5, dtype=np.float32)),
    ((3, 3), np.arange(3, 3)),
]


@pytest.mark.parametrize("args,expected", ARANGE)
def test_arange(args, expected):
    assert_np(torch.arange(*args), expected)


def test_arange_dtype_and_errors():
    assert torch.arange(3, dtype=torch.float64).dtype == torch.float64
    assert torch.arange(3, dtype=torch.int32).tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError):
        torch.arange(0, 10, 0)
    with pytest.raises(RuntimeError):
        torch.arange(0, 10, -1)


@pytest.mark.parametrize(
    "start,end,steps", [(0, 1, 5), (-2, 3, 1), (1, 1, 3), (0, 10, 0), (5, -5, 11)]
)
def test_linspace_logspace(start, end, steps):
    assert_np(torch.linspace(start, end, steps), np.linspace(start, end, steps, dtype=np.float32))
    assert_np(
        torch.logspace(start, end, steps),
        np.logspace(start, end, steps, dtype=np.float32),
        rtol=1e-5,
    )
    assert_np(
        torch.linspace(start, end, steps, dtype=torch.float64), np.linspace(start, end, steps)
    )


@pytest.mark.parametrize("n,m", [(3, None), (2, 4), (4, 2), (0, None), (1, 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool])
def test_eye(n, m, dtype):
    t = torch.eye(n, dtype=dtype) if m is None else torch.eye(n, m, dtype=dtype)
    assert_np(t, np.eye(n, m, dtype=np_dtype(dtype)))


def test_random_factories_seeded():
    torch.manual_seed(0)
    a = torch.rand(3, 4)
    b = torch.randn(3, 4)
    torch.manual_seed(0)
    assert torch.equal(a, torch.rand(3, 4)) and torch.equal(b, torch.randn(3, 4))
    assert a.dtype == torch.float32 and ((a >= 0) & (a < 1)).all()
    r = torch.randint(2, 5, (100,))
    assert r.dtype == torch.int64 and r.min() >= 2 and r.max() < 5
    p = torch.randperm(10)
    assert sorted(p.tolist()) == list(range(10))
    g = torch.Generator().manual_seed(1)
    x1 = torch.rand(5, generator=g)
    g.manual_seed(1)
    assert torch.equal(x1, torch.rand(5, generator=g))


def test_from_numpy_shares_memory_and_as_tensor():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = torch.from_numpy(a)
    assert t.dtype == torch.float64 and t.shape == (2, 3)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    t[1, 2] = -1
    assert a[1, 2] == -1
    u = torch.as_tensor(a)
    assert u.dtype == torch.float64
    v = torch.as_tensor([1, 2], dtype=torch.float32)
    assert v.dtype == torch.float32 and v.tolist() == [1.0, 2.0]
    w = torch.tensor([1.0])
    assert torch.as_tensor(w) is w or torch.as_tensor(w).data_ptr() == w.data_ptr()


def test_from_numpy_non_contiguous_and_readonly():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    t = torch.from_numpy(a)
    assert_np(t, a)
    with pytest.raises(ValueError):
        torch.from_numpy(np.arange(4)[::-1])


def test_item_and_tolist():
    assert torch.tensor(3).item() == 3 and isinstance(torch.tensor(3).item(), int)
    assert torch.tensor(True).item() is True
    assert torch.tensor([[1.5]]).item() == 1.5
    assert torch.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert torch.tensor(2.5).tolist() == 2.5
    assert torch.zeros(0, 2).tolist() == []
    assert torch.tensor([True, False]).tolist() == [True, False]
    with pytest.raises(RuntimeError):
        torch.zeros(0).item()


def test_python_number_conversions():
    assert float(torch.tensor([2.5])) == 2.5
    assert int(torch.tensor(7)) == 7
    assert bool(torch.tensor([1])) is True
    assert [10, 20, 30][torch.tensor(1)] == 20  # __index__
    assert math.isclose(float(torch.tensor(1, dtype=torch.float64) / 3), 1 / 3)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(torch.tensor([1, 2]))
    with pytest.raises((TypeError, RuntimeError)):
        [1, 2][torch.tensor(1.0)]


def test_size_behaves_like_tuple():
    s = torch.zeros(2, 3, 4).size()
    assert s == (2, 3, 4) and s[1] == 3 and s[-1] == 4 and len(s) == 3
    assert s.numel() == 24
    assert isinstance(s[1:], torch.Size) and s[1:] == (3, 4)
    assert repr(s) == "torch.Size([2, 3, 4])"
    assert torch.Size([2, 3]) + (4,) == (2, 3, 4)
    with pytest.raises(IndexError):
        torch.zeros(2).size(1)


def test_tensor_properties():
    x = torch.zeros(2, 3, dtype=torch.float64)
    assert x.element_size() == 8 and x.itemsize == 8 and x.nbytes == 48
    assert x.is_floating_point() and not torch.zeros(1, dtype=torch.int32).is_floating_point()
    assert x.device == torch.device("cpu") and x.is_cpu and not x.is_cuda
    assert x.stride() == (3, 1) and x.t().stride() == (1, 3) and x.stride(0) == 3
    assert x.is_contiguous() and not x.t().is_contiguous()
    assert torch.is_tensor(x) and not torch.is_tensor([1])
    assert torch.numel(x) == 6


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_to_dtype_roundtrip(dtype):
    x = torch.tensor([0.0, 1.0, 2.0, 3.0])
    y = x.to(dtype)
    assert y.dtype == dtype
    assert_np(y, to_np(x).astype(np_dtype(dtype)))
    assert x.to(torch.float32) is x  # no-op conversion returns self
    assert x.to(dtype, copy=True) is not x


def test_dtype_method_shortcuts():
    x = torch.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2] and x.int().dtype == torch.int32
    assert x.double().dtype == torch.float64 and x.half().dtype == torch.float16
    assert x.bool().tolist() == [True, True] and x.short().dtype == torch.int16
    assert x.byte().dtype == torch.uint8 and x.char().dtype == torch.int8
    assert x.bfloat16().dtype == torch.bfloat16 and x.float().dtype == torch.float32
    assert (
        x.type(torch.float64).dtype == torch.float64
        and x.type_as(torch.zeros(1, dtype=torch.int64)).dtype == torch.int64
    )


def test_dtype_objects():
    assert (
        torch.float32 is torch.float and torch.float64 is torch.double and torch.int64 is torch.long
    )
    assert repr(torch.float32) == "torch.float32"
    assert torch.float32.is_floating_point and not torch.int32.is_floating_point
    assert torch.int8.is_signed and not torch.uint8.is_signed
    assert torch.get_default_dtype() == torch.float32
    assert (
        torch.finfo(torch.float32).eps == np.finfo(np.float32).eps
        if hasattr(torch, "finfo")
        else True
    )
