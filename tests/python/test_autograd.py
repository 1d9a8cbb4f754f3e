"""Autograd: backward, autograd.grad, accumulation, hooks, retain_grad, create_graph and
higher-order gradients, grad modes, detach, custom Functions, graph reuse errors."""

import math

import numpy as np
import pytest
from tensor_helpers import f64, gradcheck, gradgradcheck

import rtorch as torch

# --- the seed's facts -----------------------------------------------------------------------


def test_polynomial_backward():
    x = torch.tensor(1.0, requires_grad=True)
    y = x**2 + 2 * x - 3
    y.backward()
    assert x.grad.item() == 4.0
    assert x.grad.dtype == torch.float32 and x.grad.shape == ()


def test_second_order_cube():
    for v in (-1.5, 0.5, 2.0):
        x = torch.tensor(v, requires_grad=True)
        y = x**3
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        assert math.isclose(g.item(), 3 * v * v, rel_tol=1e-6)
        assert g.requires_grad
        (g2,) = torch.autograd.grad(g, x)
        assert math.isclose(g2.item(), 6 * v, rel_tol=1e-6)


def test_third_order():
    x = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y = x.sin()
    g1 = torch.autograd.grad(y, x, create_graph=True)[0]
    g2 = torch.autograd.grad(g1, x, create_graph=True)[0]
    g3 = torch.autograd.grad(g2, x)[0]
    assert math.isclose(g1.item(), math.cos(0.7)) and math.isclose(g2.item(), -math.sin(0.7))
    assert math.isclose(g3.item(), -math.cos(0.7))


# --- backward basics ------------------------------------------------------------------------


def test_gradients_accumulate_and_zero():
    x = torch.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0, 5.0]
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_backward_with_gradient_argument():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(torch.tensor([1.0, 0.5, 0.0]))
    assert x.grad.tolist() == [2.0, 2.0, 0.0]
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        (x * 2).backward()
    with pytest.raises(
        RuntimeError,
        match=r"Mismatch in shape: grad_output\[0\] has a shape of \[2\] and output\[0\] has a shape of \[3\]",
    ):
        (x * 2).backward(torch.ones(2))


def test_shared_subexpressions_and_diamonds():
    x = torch.tensor(2.0, requires_grad=True)
    a = x * 3
    b = a * a + a.exp() + a  # a used three times
    b.backward()
    expected = (2 * 6 + math.exp(6) + 1) * 3
    assert math.isclose(x.grad.item(), expected, rel_tol=1e-5)


def test_leaf_nonleaf_and_grad_attribute():
    x = torch.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and torch.ones(2).is_leaf
    assert x.grad_fn is None and y.grad_fn is not None
    y.sum().backward()
    assert y.grad is None  # non-leaf grads are not retained by default
    assert not y.retains_grad


def test_retain_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = (y * y).sum()
    z.backward()
    assert y.retains_grad and y.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]
    x.retain_grad()  # no-op on leaves


def test_autograd_grad_api():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    out = (x * w).sum()
    gx, gw = torch.autograd.grad(out, (x, w))
    assert gx.tolist() == [3.0, 4.0] and gw.tolist() == [1.0, 2.0]
    assert x.grad is None and w.grad is None  # grad() does not accumulate
    o2 = x * w
    (gx2,) = torch.autograd.grad(o2, x, grad_outputs=torch.tensor([1.0, -1.0]))
    assert gx2.tolist() == [3.0, -4.0]
    (g_multi,) = torch.autograd.grad([x.sum(), (2 * x).sum()], x)
    assert g_multi.tolist() == [3.0, 3.0]


def test_grad_unused_and_non_requiring_inputs():
    x = torch.ones(2, requires_grad=True)
    u = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        torch.autograd.grad(x.sum(), [x, u])
    gx, gu = torch.autograd.grad(x.sum(), [x, u], allow_unused=True)
    assert gu is None and gx.tolist() == [1.0, 1.0]
    gx, gu = torch.autograd.grad((x * 2).sum(), [x, u], allow_unused=True, materialize_grads=True)
    assert gu.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.autograd.grad(x.sum(), [torch.ones(2)])
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        torch.ones(2).sum().backward()


def test_backward_inputs_argument():
    x = torch.ones(2, requires_grad=True)
    w = torch.ones(2, requires_grad=True)
    (x * w * 2).sum().backward(inputs=[x])
    assert x.grad.tolist() == [2.0, 2.0] and w.grad is None


def test_second_backward_without_retain_graph_raises():
    x = torch.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    z = (x.exp() * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert np.allclose(x.grad.numpy(), 2 + 2 * (2 * math.e))


def test_grad_of_integer_and_bool_outputs_is_blocked():
    x = torch.ones(3, requires_grad=True)
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    assert not x.long().requires_grad
    assert x.double().requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        torch.ones(2, dtype=torch.int64).requires_grad_()


def test_dtype_conversion_gradients():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    y.sum().backward()
    assert x.grad.dtype == torch.float32 and x.grad.tolist() == [3.0, 3.0]
    h = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (h.float() * 2).sum().backward()
    assert h.grad.dtype == torch.float64


def test_grad_setter_validation():
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="assigned grad has data of a different size"):
        x.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match="type|dtype"):
        x.grad = torch.ones(2, dtype=torch.int64)
    x.grad = torch.full((2,), 5.0)
    (x * 1).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]


# --- hooks ----------------------------------------------------------------------------------


def test_tensor_hooks():
    x = torch.ones(3, requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.clone()))
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert seen[0].tolist() == [2.0] * 3 and x.grad.tolist() == [20.0] * 3
    h.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert len(seen) == 1 and x.grad.tolist() == [20.0] * 3


def test_leaf_hook_runs_once_with_the_summed_gradient():
    # A leaf used several times gets one hook call with its whole gradient (PyTorch's
    # AccumulateGrad sums the contributions first), and .grad is updated once.
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    calls = []
    w.register_hook(lambda g: calls.append(g.tolist()))
    w.register_hook(lambda g: g * 10)
    y = (w * 2).sum() + (w * w).sum() + w[1]
    y.backward()
    assert calls == [[4.0, 7.0, 8.0]]
    assert w.grad.tolist() == [40.0, 70.0, 80.0]
    # The gradient reaches the hook only after every path into the leaf has run: a hook on a
    # node that feeds the leaf runs first.
    order = []
    a = torch.ones(2, requires_grad=True)
    b = a * 3
    b.register_hook(lambda g: order.append("b"))
    a.register_hook(lambda g: order.append(("a", g.tolist())))
    (b.sum() + a.sum()).backward()
    assert order == ["b", ("a", [4.0, 4.0])]
    # Several roots that include the leaf itself, and autograd.grad.
    calls.clear()
    w.grad = None
    torch.autograd.backward([w * 2, w], [torch.ones(3), torch.ones(3)])
    assert calls == [[3.0, 3.0, 3.0]] and w.grad.tolist() == [30.0] * 3
    (g,) = torch.autograd.grad((w * w).sum() + w.sum(), [w])
    assert g.tolist() == [30.0, 50.0, 70.0] and calls[-1] == [3.0, 5.0, 7.0]


def test_leaf_hook_calls_match_pytorch():
    pt = pytest.importorskip("torch")
    out = []
    for T in (torch, pt):
        x = T.tensor([0.5, -1.0], requires_grad=True)
        calls = []
        x.register_hook(lambda g, calls=calls: calls.append(g.tolist()))
        h = x.tanh() * x
        (h.sum() + (x * x).sum() + x.exp().sum()).backward()
        out.append((calls, x.grad.tolist()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6)


def test_hook_on_intermediate_modifies_upstream_gradient():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 0 + 1)
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    with pytest.raises(
        RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"
    ):
        torch.ones(2).register_hook(lambda g: g)


def test_grad_fn_graph_introspection():
    x = torch.ones(2, requires_grad=True)
    y = (x * 2).exp().sum()
    assert y.grad_fn.name() == "SumBackward0"
    ((nxt, idx),) = y.grad_fn.next_functions
    assert nxt.name() == "ExpBackward0" and idx == 0
    mul = nxt.next_functions[0][0]
    assert mul.name() == "MulBackward0"
    assert type(mul.next_functions[0][0]).__name__ == "AccumulateGrad"


# --- grad modes, detach ---------------------------------------------------------------------


def test_no_grad_and_friends():
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
        assert not torch.is_grad_enabled()
        with torch.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    torch.set_grad_enabled(True)
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled() and not (x * 2).requires_grad
    assert not torch.is_inference_mode_enabled()
    try:
        with torch.no_grad():
            raise ValueError
    except ValueError:
        pass
    assert torch.is_grad_enabled()


def test_detach_semantics():
    x = torch.ones(2, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.data_ptr() == y.data_ptr()
    z = (y * d).sum()  # d is a constant
    z.backward()
    assert x.grad.tolist() == [4.0, 4.0]
    w = torch.ones(2, requires_grad=True)
    w2 = w * 1
    w2.detach_()
    assert not w2.requires_grad
    assert not x.data.requires_grad and x.data.data_ptr() == x.data_ptr()
    x.data = torch.zeros(2)
    assert x.requires_grad and x.tolist() == [0.0, 0.0]


def test_requires_grad_propagation_and_toggling():
    a = torch.ones(2)
    b = torch.ones(2, requires_grad=True)
    assert (a + b).requires_grad and not (a + a).requires_grad
    a.requires_grad_()
    assert a.requires_grad and a.is_leaf
    a.requires_grad = False
    assert not a.requires_grad
    y = b * 2
    with pytest.raises(
        RuntimeError, match="you can only change requires_grad flags of leaf variables"
    ):
        y.requires_grad = False


# --- custom Function ------------------------------------------------------------------------


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class MulAdd(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale, a + b

    @staticmethod
    def backward(ctx, g_prod, g_sum):
        a, b = ctx.saved_tensors
        return g_prod * b * ctx.scale + g_sum, g_prod * a * ctx.scale + g_sum, None


def test_custom_function():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn is not None and y.tolist() == [1.0, 8.0]
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    gradcheck(Cube.apply, f64((3,)))


def test_custom_function_multiple_outputs_and_non_tensor_args():
    gradcheck(lambda a, b: MulAdd.apply(a, b, 2.5), f64((2, 2)), f64((2, 2)))
    a = torch.ones(2, requires_grad=True)
    p, s = MulAdd.apply(a, torch.full((2,), 3.0), 2.0)
    s.sum().backward()  # only one output used: the other grad arrives as zeros
    assert a.grad.tolist() == [1.0, 1.0]


def test_custom_function_needs_input_grad_and_no_grad_inputs():
    seen = {}

    class Probe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["grad_enabled_in_forward"] = torch.is_grad_enabled()
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen["needs"] = ctx.needs_input_grad
            return g, g

    a = torch.ones(2, requires_grad=True)
    Probe.apply(a, torch.ones(2)).sum().backward()
    assert seen == {"grad_enabled_in_forward": False, "needs": (True, False)}
    assert not Probe.apply(torch.ones(2), torch.ones(2)).requires_grad


def test_custom_function_wrong_number_of_grads():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return (g,)

    y = Bad.apply(torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        y.sum().backward()


# --- higher order ---------------------------------------------------------------------------


def test_create_graph_backward_accumulates_differentiable_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad.clone()
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]


def test_hessian_vector_product():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    f = (x[0] * x[1] * x[2]) + (x**2).sum()
    (g,) = torch.autograd.grad(f, x, create_graph=True)
    v = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    (hv,) = torch.autograd.grad((g * v).sum(), x)
    # H = [[2, x2, x1], [x2, 2, x0], [x1, x0, 2]] → first column
    assert hv.tolist() == [2.0, 3.0, 2.0]


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: (x.exp() * x.sin()).sum(),
        lambda x: (x.tanh() ** 2).sum(),
        lambda x: x.sigmoid().prod(),
        lambda x: (x @ x.t()).sum(),
        lambda x: x.softmax(-1)[..., 0].sum(),
        lambda x: x.norm(),
        lambda x: (x.sqrt() / (1 + x)).mean(),
        lambda x: x.log_softmax(1).sum(),
        lambda x: x.relu().pow(3).sum(),
        lambda x: (x.max(1).values * x.min()).sum(),
    ],
)
def test_gradgradcheck(fn):
    gradgradcheck(fn, f64((2, 3), low=0.5, high=1.5))


def test_compare_gradients_with_real_pytorch(real_torch):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    ours = torch.tensor(a, requires_grad=True)
    theirs = real_torch.tensor(a, requires_grad=True)
    for _lib, t in ((torch, ours), (real_torch, theirs)):
        (t.tanh() @ t.t().exp()).softmax(1).log().sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)
