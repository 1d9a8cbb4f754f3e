"""PyTorch's ``out=`` contract: the result is stored into ``out`` (resized to fit, with a
deprecation warning unless it was empty), cast where PyTorch allows, refused for
differentiable inputs in grad mode; factories take ``out``'s dtype; ``cat``/``stack`` and
the factories no longer ignore it. The file passes against PyTorch as well."""

import warnings

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F

RESIZE_WARNING = "An output with one or more elements was resized since it had shape [5]"


def test_elementwise_out_is_written_and_returned():
    a, b = torch.arange(6.0).view(2, 3), torch.ones(3)
    out = torch.empty(2, 3)
    r = torch.add(a, b, out=out)
    assert r is out
    np.testing.assert_array_equal(out.numpy(), np.arange(6.0).reshape(2, 3) + 1)


def test_out_of_another_shape_is_resized():
    a = torch.ones(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = torch.empty(0)
        torch.mul(a, 2, out=empty)  # no elements: resized silently
    assert empty.shape == (2, 3) and bool((empty == 2).all())
    wrong = torch.empty(5)
    with pytest.warns(UserWarning, match=r"resized since it had shape \[5\]"):
        torch.mul(a, 3, out=wrong)
    assert wrong.shape == (2, 3) and bool((wrong == 3).all())


def test_non_contiguous_out_keeps_its_layout():
    out = torch.zeros(3, 2).t()
    torch.add(torch.ones(2, 3), 1, out=out)
    assert out.stride() == (1, 2) and bool((out == 2).all())


def test_out_dtype_casts_like_pytorch():
    a = torch.ones(3)
    wide = torch.empty(3, dtype=torch.float64)
    torch.add(a, 1, out=wide)
    assert wide.dtype == torch.float64 and wide.tolist() == [2.0, 2.0, 2.0]
    i = torch.arange(3)
    f = torch.empty(3)
    torch.add(i, 1, out=f)  # integer result into a float out: allowed
    assert f.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        torch.add(a, 1, out=torch.empty(3, dtype=torch.int64))


def test_out_refuses_differentiable_inputs_in_grad_mode():
    x = torch.ones(3, requires_grad=True)
    msg = r"mul\(\): functions with out=\.\.\. arguments don't support automatic differentiation"
    with pytest.raises(RuntimeError, match=msg):
        torch.mul(x, 2, out=torch.empty(3))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        torch.mul(torch.ones(3), 2, out=torch.empty(3, requires_grad=True))
    with torch.no_grad():
        out = torch.mul(x, 2, out=torch.empty(3))
    assert out.tolist() == [2.0, 2.0, 2.0] and not out.requires_grad


def test_out_must_be_a_tensor():
    with pytest.raises(TypeError, match=r"add\(\): argument 'out' must be Tensor, not list"):
        torch.add(torch.ones(2), 1, out=[1])


def test_ops_with_several_results_fill_a_tuple():
    x = torch.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    values, indices = torch.empty(0), torch.empty(0, dtype=torch.int64)
    r = torch.max(x, 1, out=(values, indices))
    assert r.values is values and r.indices is indices
    assert values.tolist() == [5.0, 6.0] and indices.tolist() == [1, 2]
    s = torch.sort(torch.tensor([3.0, 1.0, 2.0]), out=(torch.empty(3), torch.empty(3, dtype=torch.int64)))
    assert s.values.tolist() == [1.0, 2.0, 3.0] and s.indices.tolist() == [1, 2, 0]
    with pytest.raises(TypeError, match="tuple of"):
        torch.max(x, 1, out=torch.empty(0))


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_fill_out_in_its_dtype(name):
    make = getattr(torch, name)
    out = torch.full((2, 2), 7.0)
    r = make(2, 2, out=out)
    assert r is out and out.shape == (2, 2)
    if name == "zeros":
        assert bool((out == 0).all())
    if name == "ones":
        assert bool((out == 1).all())
    if name in ("rand", "randn"):
        assert len(set(out.flatten().tolist())) == 4  # drawn, not left as it was
    wide = torch.empty(0, dtype=torch.float64)
    make(3, out=wide)
    assert wide.dtype == torch.float64 and wide.shape == (3,)
    with pytest.raises(RuntimeError, match=r"dtype Float does not match dtype of out parameter "
                                           r"\(Double\)"):
        make(3, dtype=torch.float32, out=torch.empty(0, dtype=torch.float64))


def test_ranges_and_filled_factories_take_out():
    def fresh(dtype=torch.float32):
        return torch.empty(0, dtype=dtype)

    out = fresh()
    assert torch.arange(4, out=out) is out and out.dtype == torch.float32
    assert out.tolist() == [0.0, 1.0, 2.0, 3.0]
    ints = torch.arange(1, 7, 2, out=fresh(torch.int64))
    assert ints.tolist() == [1, 3, 5]
    lin = torch.linspace(0, 1, 5, out=fresh())
    np.testing.assert_allclose(lin.tolist(), np.linspace(0, 1, 5), rtol=1e-6)
    log = torch.logspace(0, 2, 3, out=fresh(torch.float64))
    assert log.dtype == torch.float64
    np.testing.assert_allclose(log.tolist(), [1.0, 10.0, 100.0], rtol=1e-12)
    full = torch.full((2, 3), 4, out=fresh())
    assert full.shape == (2, 3) and full.dtype == torch.float32 and bool((full == 4).all())
    eye = torch.eye(3, out=fresh(torch.int64))
    assert eye.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    drawn = torch.randint(0, 5, (100,), out=fresh())
    assert drawn.dtype == torch.float32 and drawn.shape == (100,)
    assert set(drawn.tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    with pytest.raises(RuntimeError, match="does not match dtype of out parameter"):
        torch.arange(3, dtype=torch.int64, out=fresh())


def test_integer_factories_into_an_integer_out():
    out = torch.empty(0, dtype=torch.int32)
    torch.ones(2, 2, out=out)
    assert out.dtype == torch.int32 and out.tolist() == [[1, 1], [1, 1]]


@pytest.mark.parametrize("join", ["cat", "stack"])
def test_cat_and_stack_write_out(join):
    parts = [torch.arange(3.0), torch.arange(3.0) + 10]
    want = getattr(np, "concatenate" if join == "cat" else "stack")([p.numpy() for p in parts])
    out = torch.empty(0)
    r = getattr(torch, join)(parts, out=out)
    assert r is out
    np.testing.assert_array_equal(out.numpy(), want)
    wide = torch.empty(want.shape, dtype=torch.float64)
    getattr(torch, join)(parts, out=wide)
    np.testing.assert_array_equal(wide.numpy(), want)
    with pytest.raises(TypeError, match="torch.cat\\(\\): input types can't be cast to the "
                                        "desired output type Long"):
        getattr(torch, join)(parts, out=torch.empty(0, dtype=torch.int64))
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{join}\\(\\): functions with out="):
        getattr(torch, join)([x, x], out=torch.empty(0))


def test_python_level_functions_share_the_contract():
    x, y = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0])
    out = torch.empty(0)
    torch.special.xlogy(x, y, out=out)
    np.testing.assert_allclose(out.numpy(), [0.0, np.log(4.0), 2 * np.log(5.0)], rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"xlogy\(\): functions with out="):
        torch.special.xlogy(x.requires_grad_(), y, out=torch.empty(3))
    v = torch.tensor([[3.0, 4.0]])
    n = F.normalize(v, out=torch.empty(0))
    np.testing.assert_allclose(n.numpy(), [[0.6, 0.8]], rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"\(\): functions with out="):
        F.normalize(v.requires_grad_(), out=torch.empty(2))
    b = torch.bucketize(torch.tensor([0.5, 2.5]), torch.tensor([1.0, 2.0, 3.0]),
                        out=torch.empty(0, dtype=torch.int64))
    assert b.tolist() == [0, 2]
    p = torch.polygamma(1, torch.tensor([1.0]), out=torch.empty(0))
    np.testing.assert_allclose(p.numpy(), [np.pi ** 2 / 6], rtol=1e-5)


def test_where_and_tensordot_take_out():
    cond = torch.tensor([True, False, True])
    out = torch.empty(0)
    r = torch.where(cond, torch.ones(3), torch.zeros(3), out=out)
    assert r is out and out.tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match=r"where\(\): functions with out="):
        torch.where(cond, torch.ones(3, requires_grad=True), torch.zeros(3), out=torch.empty(3))
    a, b = torch.arange(6.0).view(2, 3), torch.arange(12.0).view(3, 4)
    t = torch.tensordot(a, b, dims=1, out=torch.empty(0))
    np.testing.assert_allclose(t.numpy(), a.numpy() @ b.numpy())
