"""repr/str/format of tensors in PyTorch's style, and numpy interop (numpy(), __array__,
from_numpy, memory sharing, dtypes, non-contiguous and 0-d arrays)."""

import numpy as np
import pytest
from hypothesis import given
from tensor_helpers import ALL_DTYPES, assert_np, layouts, make, np_dtype, seeds, shapes

import rtorch as torch

REPRS = [
    (lambda: torch.tensor([1.5, 2, 3]), "tensor([1.5000, 2.0000, 3.0000])"),
    (lambda: torch.tensor([[1, 2], [3, 4]]), "tensor([[1, 2],\n        [3, 4]])"),
    (lambda: torch.tensor(3.0), "tensor(3.)"),
    (lambda: torch.tensor(-2), "tensor(-2)"),
    (lambda: torch.tensor([1e-5, 1]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: torch.tensor([1e10, 1]), "tensor([1.0000e+10, 1.0000e+00])"),
    (lambda: torch.tensor([True, False]), "tensor([ True, False])"),
    (lambda: torch.zeros(0), "tensor([])"),
    (lambda: torch.zeros(2, 0), "tensor([], size=(2, 0))"),
    (
        lambda: torch.tensor([1.0, 2.0], dtype=torch.float64),
        "tensor([1., 2.], dtype=torch.float64)",
    ),
    (lambda: torch.tensor([1, 2], dtype=torch.int32), "tensor([1, 2], dtype=torch.int32)"),
    (lambda: torch.tensor(5, dtype=torch.uint8), "tensor(5, dtype=torch.uint8)"),
    (
        lambda: torch.tensor([1.0, 2.0], dtype=torch.float16),
        "tensor([1., 2.], dtype=torch.float16)",
    ),
    (lambda: torch.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (
        lambda: torch.tensor([1.0, 2.0], requires_grad=True) * 2,
        "tensor([2., 4.], grad_fn=<MulBackward0>)",
    ),
    (
        lambda: torch.tensor([float("nan"), float("inf"), -1.5]),
        "tensor([    nan,     inf, -1.5000])",
    ),
    (lambda: torch.tensor([-1, 2]), "tensor([-1,  2])"),
    (lambda: torch.tensor([100000, 1]), "tensor([100000,      1])"),
    (lambda: torch.tensor([-0.0, 1.0]), "tensor([-0.,  1.])"),
    (
        lambda: torch.zeros(2, 3, dtype=torch.float64),
        "tensor([[0., 0., 0.],\n        [0., 0., 0.]], dtype=torch.float64)",
    ),
    (lambda: torch.tensor([0.1, 123456.0]), "tensor([1.0000e-01, 1.2346e+05])"),
    (
        lambda: torch.arange(12.0).reshape(2, 2, 3),
        "tensor([[[ 0.,  1.,  2.],\n         [ 3.,  4.,  5.]],\n\n        [[ 6.,  7.,  8.],\n         [ 9., 10., 11.]]])",
    ),
    (
        lambda: torch.arange(2000.0),
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])",
    ),
    (lambda: torch.arange(2000), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
]


@pytest.mark.parametrize("i", range(len(REPRS)))
def test_repr(i):
    make_t, expected = REPRS[i]
    assert repr(make_t()) == expected


def test_str_format_and_print_options():
    t = torch.tensor([1.0, 2.0])
    assert str(t) == repr(t)
    assert f"{torch.tensor(2.5):.2f}" == "2.50"
    assert format(torch.tensor(3), "d") == "3"
    torch.set_printoptions(precision=2)
    try:
        assert repr(torch.tensor([1.2345])) == "tensor([1.23])"
    finally:
        torch.set_printoptions(precision=4)
    assert repr(torch.tensor([1.2345])) == "tensor([1.2345])"


def test_repr_of_non_contiguous_matches_contiguous():
    t = torch.arange(6.0).reshape(2, 3)
    assert repr(t.t()) == repr(t.t().contiguous())
    assert repr(t[:, ::2]) == repr(t[:, ::2].contiguous())


def test_grad_fn_repr():
    x = torch.ones(2, requires_grad=True)
    y = (x * 2).sum()
    assert repr(y) == "tensor(4., grad_fn=<SumBackward0>)"
    assert y.grad_fn.name() == "SumBackward0"
    assert "SumBackward0" in repr(y.grad_fn)


# --- numpy interop --------------------------------------------------------------------------

NP_DTYPES = [d for d in ALL_DTYPES] + [torch.float16]


@pytest.mark.parametrize("dtype", NP_DTYPES)
def test_numpy_roundtrip_dtypes(dtype):
    a, t = make((2, 3), dtype, np.random.default_rng(0))
    n = t.numpy()
    assert n.dtype == np_dtype(dtype) and n.shape == (2, 3)
    np.testing.assert_array_equal(n, a)
    back = torch.from_numpy(n)
    assert back.dtype == dtype and torch.equal(back, t)


@given(shape=shapes(0, 3), layout=layouts, seed=seeds)
def test_numpy_of_strided_tensor(shape, layout, seed):
    a, t = make(shape, torch.float32, np.random.default_rng(seed), layout)
    n = t.numpy()
    np.testing.assert_array_equal(n, a)
    assert n.strides == tuple(s * 4 for s in t.stride()) or 0 in shape


def test_numpy_shares_memory_both_ways():
    t = torch.zeros(3)
    n = t.numpy()
    n[0] = 5
    assert t[0].item() == 5
    t[1] = 7
    assert n[1] == 7
    v = t[1:].numpy()
    assert v.tolist() == [7.0, 0.0]
    a = np.ones((2, 2), dtype=np.float32)
    u = torch.from_numpy(a)
    u.add_(1)
    assert a[0, 0] == 2.0


def test_array_protocol():
    t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert_np(t, np.asarray(t))
    arr = np.array(t)
    arr[0, 0] = 100
    assert t[0, 0].item() == 1.0  # np.array copies
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.asarray(t.t()).tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert np.asarray(torch.tensor(2.5)).shape == ()


def test_numpy_errors():
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"Can't call numpy\(\) on Tensor that requires grad. Use tensor.detach\(\).numpy\(\) instead.",
    ):
        x.numpy()
    assert x.numpy(force=True).tolist() == [1.0, 1.0]
    assert x.detach().numpy().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="BFloat16"):
        torch.ones(2, dtype=torch.bfloat16).numpy()
    with pytest.raises(TypeError):
        torch.from_numpy([1, 2])
    with pytest.raises(TypeError):
        torch.from_numpy(np.array(["a"]))


def test_tensor_ops_with_numpy_operands():
    t = torch.tensor([1.0, 2.0])
    assert (t + np.float64(1.0)).dtype == torch.float32
    assert (t * np.int64(2)).tolist() == [2.0, 4.0]
    assert torch.tensor(np.array([1, 2], dtype=np.int16)).dtype == torch.int16
    assert torch.as_tensor(np.zeros(3, dtype=np.float64)).dtype == torch.float64
    assert torch.tensor(np.zeros((2, 0))).shape == (2, 0)
    z = torch.from_numpy(np.zeros(()))
    assert z.shape == () and z.dtype == torch.float64


def test_from_numpy_keeps_array_alive():
    t = torch.from_numpy(np.arange(1000, dtype=np.int64))
    import gc

    gc.collect()
    assert t.sum().item() == 999 * 1000 // 2


def test_repr_matches_real_pytorch(real_torch):
    for data in (
        [1.5, 2, 3],
        [[1, 2], [3, 4]],
        3.0,
        [1e-5, 1],
        [True, False],
        [float("nan"), 1.0],
        [[-0.5]],
    ):
        assert repr(torch.tensor(data)) == repr(real_torch.tensor(data))
