"""Graph memory: nodes are freed when their outputs die (with or without backward), saved
tensors are released after backward, and very deep graphs can run backward and be dropped
without recursion (stack overflow)."""

import gc
import subprocess
import sys
import textwrap

import pytest

import rtorch as torch

live = torch._C._live_graph_nodes


def _settle():
    gc.collect()
    return live()


def test_train_loop_returns_to_baseline():
    base = _settle()
    w = torch.randn(8, 4, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    x = torch.randn(16, 8)
    for _ in range(3000):
        loss = ((x @ w + b).tanh() ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.01 * w.grad
            b -= 0.01 * b.grad
        w.grad = None
        b.grad = None
    del loss
    assert _settle() == base


def test_forward_without_backward_is_freed():
    base = _settle()
    w = torch.randn(5, 5, requires_grad=True)
    for _ in range(2000):
        y = (w @ w).relu().sum()
        assert live() > base
    del y
    assert _settle() == base


def test_independent_graphs_coexist_and_free():
    base = _settle()
    x = torch.ones(3, requires_grad=True)
    g1 = (x * 2).exp().sum()
    g2 = (x * 3).sin().sum()
    n = live()
    assert n >= base + 6
    g1.backward()
    del g1
    assert live() < n
    g2.backward()
    assert x.grad is not None
    del g2
    assert _settle() == base


def test_retain_graph_keeps_and_release_frees():
    base = _settle()
    x = torch.ones(3, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    del y
    assert _settle() == base


def test_create_graph_and_hooks_do_not_leak():
    base = _settle()
    x = torch.randn(4, requires_grad=True)
    for _ in range(300):
        (g,) = torch.autograd.grad((x**3).sum(), x, create_graph=True)
        (g2,) = torch.autograd.grad(g.sum(), x)
        y = x * 2
        y.register_hook(lambda grad: grad * 2)
        y.retain_grad()
        y.sum().backward()
    del g, g2, y
    x.grad = None
    assert _settle() == base


def test_custom_function_graph_is_freed():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    base = _settle()
    x = torch.randn(3, requires_grad=True)
    for _ in range(500):
        Square.apply(x).sum().backward()
        Square.apply(x * 2)  # dropped without backward
    assert _settle() == base


def test_inplace_and_views_do_not_leak():
    base = _settle()
    x = torch.randn(4, 4, requires_grad=True)
    for _ in range(500):
        y = x * 1
        y[0] = 2.0
        y[1:].mul_(3)
        y.t()[0].add_(1)
        y.sum().backward()
    del y
    x.grad = None
    assert _settle() == base


_DEEP = textwrap.dedent(
    """
    import sys
    sys.setrecursionlimit(10000)
    import rtorch as torch
    base = torch._C._live_graph_nodes()
    x = torch.ones(2, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    y.sum().backward()
    assert abs(x.grad[0].item() - 1.0001 ** 100_000) / 1.0001 ** 100_000 < 1e-2, x.grad
    z = x
    for _ in range(100_000):
        z = z + 0.0
    del y, z  # dropping a 100k-node graph that never ran backward
    assert torch._C._live_graph_nodes() == base, torch._C._live_graph_nodes()
    print("ok")
    """
)


def test_deep_chain_backward_and_drop_in_subprocess():
    r = subprocess.run([sys.executable, "-c", _DEEP], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("n", [10, 1000])
def test_saved_tensors_released_after_backward(n):
    # a big saved intermediate must not stay alive after backward through the graph
    import weakref

    x = torch.randn(n, requires_grad=True)
    big = x.exp()
    y = (big * big).sum()
    ref = weakref.ref(big) if hasattr(big, "__weakref__") else None
    del big
    y.backward()
    del y
    gc.collect()
    if ref is not None:
        assert ref() is None
