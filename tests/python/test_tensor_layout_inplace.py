"""In-place layout changes (t_, transpose_, squeeze_, unsqueeze_, as_strided_, resize_),
``Tensor.layout``, and ``.data =`` with another shape or dtype."""

import numpy as np
import pytest

import rtorch as torch


def test_layout_objects():
    t = torch.ones(2)
    assert t.layout == torch.strided and t.layout != torch.sparse_coo
    assert repr(torch.strided) == "torch.strided" and isinstance(torch.strided, torch.layout)


@pytest.mark.parametrize(
    "op, args, reference",
    [
        ("t_", (), lambda a: a.T),
        ("transpose_", (0, 2), lambda a: a.transpose(2, 1, 0)),
        ("swapaxes_", (1, 2), lambda a: a.swapaxes(1, 2)),
        ("swapdims_", (0, 1), lambda a: a.swapaxes(0, 1)),
        ("squeeze_", (), lambda a: a.squeeze()),
        ("squeeze_", (1,), lambda a: a.squeeze(1)),
        ("unsqueeze_", (-1,), lambda a: a[..., None]),
    ],
)
def test_layout_changes_keep_the_object_and_storage(op, args, reference):
    shape = (3, 4) if op == "t_" else (2, 1, 3) if op.startswith("squeeze") else (2, 3, 4)
    base = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    t = torch.tensor(base)
    storage = t.untyped_storage_ptr()
    alias = t
    assert getattr(t, op)(*args) is t
    expected = reference(base)
    assert alias.shape == expected.shape and alias.tolist() == expected.tolist()
    assert t.untyped_storage_ptr() == storage


def test_layout_change_records_history_for_non_leaves():
    x = torch.arange(6.0, dtype=torch.float64, requires_grad=True)
    y = (x * 2).reshape(2, 3)
    y.t_()
    assert y.shape == (3, 2) and y.grad_fn is not None
    (y * torch.arange(6.0, dtype=torch.float64).reshape(3, 2)).sum().backward()
    # y[j, i] = 2 x[3 i + j] is weighted by 2 j + i
    expected = [2.0 * (2 * j + i) for i in range(2) for j in range(3)]
    assert x.grad.tolist() == expected


def test_layout_change_on_leaf_requiring_grad_raises():
    x = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.t_()
    with torch.no_grad():
        x.t_()
    assert x.shape == (3, 2) and x.requires_grad


def test_as_strided_in_place():
    t = torch.arange(10.0)
    t.as_strided_((2, 2), (3, 1), 1)
    assert t.tolist() == [[1.0, 2.0], [4.0, 5.0]]


def test_resize_shrinks_and_grows():
    t = torch.arange(6.0)
    t.resize_(2, 2)
    assert t.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    t.resize_((3, 2))  # back within the storage: the old elements are still there
    assert t.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    t.resize_(2, 4)
    assert t.shape == (2, 4) and t.flatten()[:6].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    other = torch.empty(5)
    other.resize_as_(torch.zeros(1, 3))
    assert other.shape == (1, 3)
    with pytest.raises(RuntimeError, match="require grad"):
        torch.ones(2, requires_grad=True).resize_(3)
    with pytest.raises(RuntimeError, match="negative"):
        torch.ones(2).resize_(-1)


def test_data_assignment_with_another_shape_and_dtype():
    p = torch.nn.Parameter(torch.ones(2, 2))
    p.data = torch.arange(3, dtype=torch.float64)
    assert isinstance(p, torch.nn.Parameter) and p.requires_grad
    assert p.shape == (3,) and p.dtype == torch.float64
    src = torch.zeros(4)
    p.data = src
    src.add_(1.0)  # shares memory with its new data, as in PyTorch
    assert p.tolist() == [1.0, 1.0, 1.0, 1.0]
