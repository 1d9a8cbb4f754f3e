"""The engine checks every gradient it is handed, as PyTorch does: custom Function backwards
that return the wrong number of gradients, a shape that cannot be summed back to the input, a
non-tensor, or another dtype (cast); tensor hooks that change the gradient's size or dtype.
Nothing is silently broadcast or dropped. Also the LayerNorm parameter gradients for
unbatched input."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch import nn


def _fn(backward, forward=None):
    """A custom Function whose backward is `backward(ctx, g)`."""

    class Custom(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            if forward is not None:
                return forward(*args)
            return args[0] * 1.0

        @staticmethod
        def backward(ctx, g):
            return backward(ctx, g)

    return Custom


# --- number of gradients ------------------------------------------------------------------


def test_too_few_gradients():
    Two = _fn(lambda ctx, g: g, forward=lambda a, b: a + b)
    y = Two.apply(torch.ones(2, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True))
    with pytest.raises(RuntimeError) as e:
        y.sum().backward()
    assert str(e.value) == (
        "function CustomBackward returned an incorrect number of gradients (expected 2, got 1)"
    )


def test_too_many_gradients_unless_extra_are_none():
    Extra = _fn(lambda ctx, g: (g, g), forward=lambda a: a * 2)
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"function CustomBackward returned an incorrect number of gradients \(expected 1, got 2\)",
    ):
        Extra.apply(x).sum().backward()
    NoneExtra = _fn(lambda ctx, g: (g * 2, None, None), forward=lambda a: a * 2)
    NoneExtra.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_gradient_for_a_non_tensor_input_must_be_none():
    Scaled = _fn(lambda ctx, g: (g, g), forward=lambda a, s: a * s)
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match="returned a gradient different than None at position 2, but the corresponding "
        "forward input was not a Variable",
    ):
        Scaled.apply(x, 3.0).sum().backward()


def test_non_tensor_gradient_is_rejected():
    Bad = _fn(lambda ctx, g: 1)
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"expected Variable or None \(got int\)"):
        Bad.apply(x).sum().backward()


# --- shapes --------------------------------------------------------------------------------


def test_incompatible_gradient_shape_is_an_error():
    Bad = _fn(lambda ctx, g: g.sum(0))
    x = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError) as e:
        Bad.apply(x).sum().backward()
    assert str(e.value) == (
        "Function CustomBackward returned an invalid gradient at index 0 - got [3] but "
        "expected shape compatible with [2, 3]"
    )
    assert x.grad is None


def test_incompatible_shape_for_a_non_leaf_input():
    Bad = _fn(lambda ctx, g: torch.ones(4))
    x = torch.ones(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(
        RuntimeError, match=r"got \[4\] but expected shape compatible with \[2, 3\]"
    ):
        Bad.apply(y).sum().backward()
    assert x.grad is None


def test_incompatible_shape_at_second_index():
    Two = _fn(lambda ctx, g: (g, g[:, :1]), forward=lambda a, b: a * b)
    a = torch.ones(2, 3, requires_grad=True)
    b = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(
        RuntimeError,
        match=r"returned an invalid gradient at index 1 - got \[2, 1\] but expected shape "
        r"compatible with \[2, 3\]",
    ):
        Two.apply(a, b).sum().backward()


def test_same_number_of_elements_is_not_enough():
    Bad = _fn(lambda ctx, g: g.reshape(3, 2))
    x = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        Bad.apply(x).sum().backward()


def test_broadcast_gradient_is_summed_to_the_input_shape():
    Wide = _fn(lambda ctx, g: g.expand(4, 2, 3) * torch.arange(4.0).reshape(4, 1, 1))
    x = torch.ones(2, 3, requires_grad=True)
    Wide.apply(x).sum().backward()
    assert x.grad.shape == (2, 3)
    assert x.grad.tolist() == [[6.0] * 3] * 2
    Keep = _fn(lambda ctx, g: torch.ones(2, 3), forward=lambda a: a.expand(2, 3) * 1.0)
    y = torch.ones(2, 1, requires_grad=True)
    Keep.apply(y).sum().backward()
    assert y.grad.shape == (2, 1) and y.grad.tolist() == [[3.0], [3.0]]
    s = torch.tensor(2.0, requires_grad=True)
    Keep.apply(s).sum().backward()
    assert s.grad.shape == () and s.grad.item() == 6.0


def test_autograd_grad_reduces_too():
    Wide = _fn(lambda ctx, g: g.expand(5, 3))
    x = torch.ones(3, requires_grad=True)
    (gx,) = torch.autograd.grad(Wide.apply(x).sum(), x)
    assert gx.shape == (3,) and gx.tolist() == [5.0, 5.0, 5.0]


# --- dtypes and None ----------------------------------------------------------------------


def test_gradient_dtype_is_cast_to_the_input_dtype():
    Dbl = _fn(lambda ctx, g: g.double() * 3)
    x = torch.ones(3, requires_grad=True)
    Dbl.apply(x).sum().backward()
    assert x.grad.dtype == torch.float32 and x.grad.tolist() == [3.0] * 3
    y = torch.ones(3, requires_grad=True)
    h = y * 1.0
    seen = []
    h.register_hook(lambda g: seen.append(g.dtype))
    Dbl.apply(h).sum().backward()
    assert seen == [torch.float32]
    assert y.grad.dtype == torch.float32
    z = torch.ones(2, dtype=torch.float64, requires_grad=True)
    Half = _fn(lambda ctx, g: g.float())
    Half.apply(z).sum().backward()
    assert z.grad.dtype == torch.float64


def test_none_gradient_means_no_contribution():
    First = _fn(lambda ctx, g: (g * 2, None), forward=lambda a, b: a * b)
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    First.apply(a, b).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad is None
    AllNone = _fn(lambda ctx, g: None)
    x = torch.ones(2, requires_grad=True)
    AllNone.apply(x).sum().backward()
    assert x.grad is None
    (gx,) = torch.autograd.grad(AllNone.apply(x).sum(), x, allow_unused=True)
    assert gx is None


def test_root_gradient_dtype_is_cast():
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.backward(torch.ones(3, dtype=torch.float64))
    assert x.grad.dtype == torch.float32 and x.grad.tolist() == [2.0] * 3


def test_root_gradient_shape_must_match():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(torch.ones(1))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        torch.autograd.backward([x * 2], [torch.ones(2, 3)])


# --- hooks -------------------------------------------------------------------------------------


def test_leaf_hook_changing_size_is_an_error():
    x = torch.ones(2, 3, requires_grad=True)
    x.register_hook(lambda g: g.sum(0))
    with pytest.raises(RuntimeError) as e:
        (x * 2).sum().backward()
    assert str(e.value) == "hook '<lambda>' has changed the size of value"
    assert x.grad is None


def test_non_leaf_hook_changing_size_is_an_error():
    def shrink(g):
        return g[:1]

    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(shrink)
    with pytest.raises(RuntimeError) as e:
        y.sum().backward()
    assert str(e.value) == "hook 'shrink' has changed the size of value"


def test_hook_broadcastable_result_is_still_an_error():
    x = torch.ones(2, 3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g.sum(0, keepdim=True))
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        y.sum().backward()


def test_hook_changing_dtype_is_an_error():
    def widen(g):
        return g.double()

    x = torch.ones(3, requires_grad=True)
    x.register_hook(widen)
    with pytest.raises(RuntimeError) as e:
        (x * 2).sum().backward()
    assert str(e.value) == (
        "hook 'widen' has changed the type of value (was CPUFloatType got CPUDoubleType)"
    )


def test_hook_returning_a_non_tensor_is_a_type_error():
    x = torch.ones(3, requires_grad=True)
    x.register_hook(lambda g: 3)
    with pytest.raises(TypeError, match="expected Variable, but hook returned 'int'"):
        (x * 2).sum().backward()


def test_callable_object_hook_has_unknown_name():
    class Shrink:
        def __call__(self, g):
            return g[:1]

    x = torch.ones(3, requires_grad=True)
    x.register_hook(Shrink())
    with pytest.raises(RuntimeError, match="hook '<unknown>' has changed the size of value"):
        (x * 2).sum().backward()


def test_valid_hooks_still_replace_gradients():
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: g + 1)
    y.sum().backward()
    assert x.grad.tolist() == [21.0] * 3


def test_removed_hook_no_longer_fires():
    x = torch.ones(3, requires_grad=True)
    h = x.register_hook(lambda g: g[:1])
    h.remove()
    h.remove()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0] * 3


def test_cannot_assign_a_tensor_as_its_own_grad():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="can't assign Variable as its own grad"):
        x.grad = x


# --- LayerNorm on unbatched input -------------------------------------------------------------


def _layer_norm_reference(x, w, b, c, eps=1e-5):
    """numpy gradients of sum(c * layer_norm(x, w, b)) over the last dim of x."""
    x = x.astype(np.float64)
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    gxhat = c * w
    gx = rstd * (
        gxhat - gxhat.mean(-1, keepdims=True) - xhat * (gxhat * xhat).mean(-1, keepdims=True)
    )
    batch = tuple(range(x.ndim - 1))
    gw = (c * xhat).sum(axis=batch) if batch else c * xhat
    gb = c.sum(axis=batch) if batch else c
    return gx, gw, gb


@pytest.mark.parametrize("shape", [(5,), (1, 5), (3, 5), (2, 3, 5)])
def test_layer_norm_parameter_gradients(shape):
    rng = np.random.default_rng(0)
    xn = rng.standard_normal(shape).astype(np.float32)
    wn = rng.standard_normal(5).astype(np.float32)
    bn = rng.standard_normal(5).astype(np.float32)
    cn = rng.standard_normal(shape).astype(np.float32)
    x = torch.tensor(xn, requires_grad=True)
    w = torch.tensor(wn, requires_grad=True)
    b = torch.tensor(bn, requires_grad=True)
    out = F.layer_norm(x, (5,), w, b)
    assert out.shape == shape
    (out * torch.tensor(cn)).sum().backward()
    gx, gw, gb = _layer_norm_reference(xn, wn, bn, cn)
    np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), gw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), gb, rtol=1e-4, atol=1e-5)


def test_layer_norm_module_unbatched_matches_batched():
    torch.manual_seed(0)
    ln = nn.LayerNorm(4)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    x = torch.tensor([1.0, 2.0, 4.0, 8.0])
    c = torch.tensor([1.0, -1.0, 2.0, 0.5])
    (ln(x) * c).sum().backward()
    g1 = ln.weight.grad.clone(), ln.bias.grad.clone()
    ln.zero_grad()
    (ln(x.unsqueeze(0)) * c).sum().backward()
    assert torch.allclose(g1[0], ln.weight.grad) and torch.allclose(g1[1], ln.bias.grad)
    assert ln.bias.grad.tolist() == c.tolist()


def test_fused_layer_norm_unbatched_is_never_silently_wrong():
    x = torch.tensor([1.0, 2.0, 4.0, 8.0], requires_grad=True)
    w = torch.ones(4, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    c = torch.tensor([1.0, -1.0, 2.0, 0.5])
    try:
        (torch.layer_norm(x, [4], w, b, 1e-5) * c).sum().backward()
    except RuntimeError as e:
        assert "invalid gradient" in str(e)
    else:
        assert b.grad.tolist() == c.tolist()
