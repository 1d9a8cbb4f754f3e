"""In-place ops: values vs the out-of-place op, writes through views (incl. non-contiguous and
overlapping sources), version counter, dtype rules, and autograd through in-place ops."""

import numpy as np
import pytest
from tensor_helpers import assert_np, f64, gradcheck, make

import rtorch as torch

# (name, in-place call, out-of-place equivalent) on a float tensor with values in (0.2, 0.9)
INPLACE = [
    ("add_", lambda t: t.add_(2), lambda t: t.add(2)),
    ("add_alpha", lambda t: t.add_(t.flip(0), alpha=2), lambda t: t.add(t.flip(0), alpha=2)),
    ("sub_", lambda t: t.sub_(0.5), lambda t: t - 0.5),
    ("mul_", lambda t: t.mul_(t), lambda t: t * t),
    ("div_", lambda t: t.div_(3), lambda t: t / 3),
    ("pow_", lambda t: t.pow_(2), lambda t: t**2),
    ("clamp_", lambda t: t.clamp_(0.3, 0.6), lambda t: t.clamp(0.3, 0.6)),
    ("neg_", lambda t: t.neg_(), lambda t: -t),
    ("exp_", lambda t: t.exp_(), lambda t: t.exp()),
    ("log_", lambda t: t.log_(), lambda t: t.log()),
    ("sqrt_", lambda t: t.sqrt_(), lambda t: t.sqrt()),
    ("sigmoid_", lambda t: t.sigmoid_(), lambda t: t.sigmoid()),
    ("tanh_", lambda t: t.tanh_(), lambda t: t.tanh()),
    ("relu_", lambda t: t.sub_(0.5).relu_(), lambda t: (t - 0.5).relu()),
    ("abs_", lambda t: t.sub_(0.5).abs_(), lambda t: (t - 0.5).abs()),
    ("floor_", lambda t: t.mul_(4).floor_(), lambda t: (t * 4).floor()),
    ("round_", lambda t: t.mul_(4).round_(), lambda t: (t * 4).round()),
    ("reciprocal_", lambda t: t.reciprocal_(), lambda t: t.reciprocal()),
    ("fill_", lambda t: t.fill_(3), lambda t: torch.full_like(t, 3)),
    ("zero_", lambda t: t.zero_(), lambda t: torch.zeros_like(t)),
    ("copy_", lambda t: t.copy_(t.flip(1)), lambda t: t.flip(1)),
    (
        "copy_bcast",
        lambda t: t.copy_(torch.arange(t.shape[1], dtype=torch.float64)),
        lambda t: torch.arange(t.shape[1], dtype=torch.float64).expand_as(t),
    ),
    ("masked_fill_", lambda t: t.masked_fill_(t > 0.5, 0), lambda t: t.masked_fill(t > 0.5, 0)),
    (
        "lerp_",
        lambda t: t.lerp_(torch.ones_like(t), 0.25),
        lambda t: t.lerp(torch.ones_like(t), 0.25),
    ),
    ("addcmul_", lambda t: t.addcmul_(t, t, value=2), lambda t: t + 2 * t * t),
    ("maximum_", lambda t: t.maximum_(t.flip(0)), lambda t: t.maximum(t.flip(0))),
    ("tril_", lambda t: t.tril_(), lambda t: t.tril()),
    ("triu_", lambda t: t.triu_(1), lambda t: t.triu(1)),
    ("clamp_min_", lambda t: t.clamp_(min=0.5), lambda t: t.clamp_min(0.5)),
    ("iadd", lambda t: t.__iadd__(1.5), lambda t: t + 1.5),
    ("isub", lambda t: t.__isub__(t), lambda t: t - t),
    (
        "imul",
        lambda t: t.__imul__(torch.arange(t.shape[1], dtype=torch.float64)),
        lambda t: t * torch.arange(t.shape[1], dtype=torch.float64),
    ),
    ("itruediv", lambda t: t.__itruediv__(2), lambda t: t / 2),
    ("ipow", lambda t: t.__ipow__(3), lambda t: t**3),
    (
        "index_add_",
        lambda t: t.index_add_(
            0, torch.tensor([0, 0]), torch.ones(2, t.shape[1], dtype=torch.float64)
        ),
        lambda t: t + torch.tensor([[2.0], [0.0], [0.0]], dtype=torch.float64),
    ),
    (
        "scatter_",
        lambda t: t.scatter_(1, torch.tensor([[0], [1], [2]]), 9.0),
        lambda t: t.scatter(1, torch.tensor([[0], [1], [2]]), 9.0),
    ),
    (
        "index_fill_",
        lambda t: t.index_fill_(1, torch.tensor([1]), -1.0),
        lambda t: t.index_fill(1, torch.tensor([1]), -1.0),
    ),
]


@pytest.mark.parametrize("name,ip,oop", INPLACE, ids=[i[0] for i in INPLACE])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_inplace_matches_out_of_place(name, ip, oop, layout):
    _, t = make((3, 4), torch.float64, np.random.default_rng(0), layout, 0.2, 0.9)
    expected = oop(t.clone())
    ptr, shape, strides = t.data_ptr(), t.shape, t.stride()
    v0 = t._version
    r = ip(t)
    assert r is t or name.startswith("i")  # methods return self
    assert t.data_ptr() == ptr and t.shape == shape and t.stride() == strides
    assert t._version > v0
    assert_np(t, expected.numpy(), rtol=1e-12, atol=1e-12)


def test_inplace_through_views_updates_base():
    base = torch.zeros(3, 4)
    base[1].add_(1)
    base[:, 2].mul_(0).add_(5)
    base.t()[3].fill_(7)
    base.diagonal().sub_(1)
    expected = np.zeros((3, 4), np.float32)
    expected[1] += 1
    expected[:, 2] = 5
    expected[:, 3] = 7
    expected[np.arange(3), np.arange(3)] -= 1
    assert_np(base, expected)


def test_inplace_with_overlapping_source():
    x = torch.arange(5.0)
    x[1:].add_(x[:-1])  # reads the original values (computed out of place, then written)
    assert x.tolist() == [0.0, 1.0, 3.0, 5.0, 7.0]
    y = torch.arange(4.0)
    y.copy_(y.flip(0))
    assert y.tolist() == [3.0, 2.0, 1.0, 0.0]
    z = torch.arange(6.0).reshape(2, 3)
    z.t().copy_(z.t().clone().flip(0))
    assert z.tolist() == [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]


def test_inplace_dtype_rules():
    i = torch.tensor([1, 2, 3])
    i.mul_(2)
    assert i.tolist() == [2, 4, 6] and i.dtype == torch.int64
    with pytest.raises(
        RuntimeError, match=r"result type Float can't be cast to the desired output type Long"
    ):
        i.add_(0.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.div_(2)
    i.div_(2, rounding_mode="floor")
    assert i.tolist() == [1, 2, 3]
    f = torch.ones(2, dtype=torch.float16)
    f.mul_(torch.tensor([2.0, 3.0], dtype=torch.float64))
    assert f.dtype == torch.float16 and f.tolist() == [2.0, 3.0]
    b = torch.tensor([True, False])
    b.logical_and_(torch.tensor([True, True]))
    assert b.tolist() == [True, False]
    c = torch.zeros(2, dtype=torch.int32)
    c.copy_(torch.tensor([1.9, -1.9]))  # copy_ casts anything
    assert c.tolist() == [1, -1]


def test_inplace_shape_rules():
    x = torch.zeros(2, 3)
    with pytest.raises(
        RuntimeError,
        match=r"output with shape \[2, 3\] doesn't match the broadcast shape \[2, 2, 3\]",
    ):
        x.add_(torch.zeros(2, 2, 3))
    with pytest.raises(RuntimeError):
        x.copy_(torch.zeros(4))
    with pytest.raises(RuntimeError):
        torch.zeros(3, 1).add_(torch.zeros(3, 4))
    x.add_(torch.ones(3))  # broadcast from the other side is fine
    assert x.sum().item() == 6.0


def test_version_counter_shared_by_views():
    x = torch.zeros(3)
    v = x[1:]
    v0 = x._version
    v.add_(1)
    assert x._version == v._version == v0 + 1
    x[0] = 2
    assert v._version == v0 + 2
    y = x.clone()
    assert y._version == 0
    x.detach().add_(1)  # detach shares storage and the version counter
    assert x._version == v0 + 3


# --- autograd through in-place ops ----------------------------------------------------------


def test_inplace_on_leaf_requiring_grad_raises():
    x = torch.randn(3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match="a leaf Variable that requires grad is being used in an in-place operation",
    ):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[1:].mul_(2)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x += 1
    with torch.no_grad():
        x.add_(1)  # allowed under no_grad
    assert x.requires_grad and x.is_leaf


def test_modified_saved_tensor_raises():
    x = torch.randn(3, requires_grad=True)
    a = x.exp()
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        a.sum().backward()
    y = torch.randn(3, requires_grad=True)
    s = y.sigmoid()
    s.mul_(2)  # sigmoid saved its output
    with pytest.raises(RuntimeError, match=r"is at version 1; expected version 0 instead"):
        s.sum().backward()
    z = torch.randn(3, requires_grad=True)
    w = z * 1
    p = w * w  # saves w
    w.zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        p.sum().backward()
    q = torch.randn(3, requires_grad=True) * 1
    q.mul_(q)  # mul saved `other`, which is q itself
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        q.sum().backward()


@pytest.mark.parametrize(
    "name", ["exp_", "sigmoid_", "tanh_", "relu_", "sqrt_", "reciprocal_", "neg_", "floor_"]
)
def test_inplace_unary_on_non_leaf_is_differentiable(name):
    # these save their output (or nothing), as in PyTorch, so overwriting the input is fine
    def f(x):
        y = x * 1
        getattr(y, name)()
        return y

    gradcheck(f, f64((2, 3), low=0.3, high=1.5))


@pytest.mark.parametrize(
    "fn",
    [
        lambda y: y.add_(1),
        lambda y: y.mul_(3),
        lambda y: y.div_(2),
        lambda y: y.sub_(torch.ones_like(y)),
        lambda y: y.clamp_(-0.5, 0.5),
        lambda y: y.masked_fill_(y > 0, 0.0),
        lambda y: y.__setitem__(0, 5.0),
        lambda y: y[1].mul_(2),
        lambda y: y.t()[0].add_(1),
        lambda y: y.zero_(),
        lambda y: y.fill_(2),
        lambda y: y.copy_(y * 2),
        lambda y: y.pow_(2),
        lambda y: y.abs_(),
    ],
)
def test_inplace_on_non_leaf_gradcheck(fn):
    def f(x):
        y = x * 2
        fn(y)
        return y * 1.5

    gradcheck(f, f64((3, 3)))


def test_inplace_mul_by_tensor_requiring_grad():
    def f(x, w):
        y = x.clone()
        y.mul_(w)
        return y

    gradcheck(f, f64((2, 3)), f64((3,)))


def test_copy_into_view_of_non_leaf_flows_gradient():
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    v = torch.randn(3, dtype=torch.float64, requires_grad=True)
    y = x * 1
    y[0].copy_(v)
    y.sum().backward()
    assert x.grad.tolist() == [[0.0] * 3, [1.0] * 3]
    assert v.grad.tolist() == [1.0] * 3


def test_inplace_grad_fn_names():
    x = torch.randn(3, requires_grad=True)
    y = x * 2
    y.add_(1)
    assert y.grad_fn.name() == "AddBackward0"
    z = x * 2
    z[0] = 1.0
    assert "CopySlices" in z.grad_fn.name() or z.grad_fn is not None
