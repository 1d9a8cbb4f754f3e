"""Reference cycles that run through the autograd graph are collected: a tensor whose hook
refers back to it (leaf, non-leaf, Parameter, a module's parameter), a custom Function whose
ctx saves its own output, attributes that point back at the tensor. Hooks of live graphs keep
working and a removed hook releases its callable."""

import gc
import threading
import weakref

import rtorch as torch
from rtorch import nn

live = torch._C._live_graph_nodes


def _baseline():
    for _ in range(3):
        gc.collect()
    return live()


def _collected(ref):
    # A cycle can hang off another one (its node is shared until that one is freed), which
    # takes one more pass.
    for _ in range(3):
        gc.collect()
    return ref() is None


def test_leaf_hook_referring_to_its_tensor():
    def make():
        t = torch.ones(3, requires_grad=True)
        t.register_hook(lambda g: g * t.detach().sum())
        (t * 2).sum().backward()
        assert t.grad.tolist() == [6.0] * 3  # the hook ran
        return weakref.ref(t)

    assert _collected(make())


def test_leaf_hook_closure_referring_to_its_tensor():
    def make():
        t = torch.ones(2, requires_grad=True)

        def hook(g):
            return g + t.detach()

        t.register_hook(hook)
        return weakref.ref(t), weakref.ref(hook)

    rt, rh = make()
    assert _collected(rt)
    assert rh() is None


def test_non_leaf_hook_referring_to_its_tensor():
    base = _baseline()
    x = torch.ones(3, requires_grad=True)

    def make():
        y = x * 2
        y.register_hook(lambda g: g + y.detach())
        return weakref.ref(y)

    assert _collected(make())
    assert live() == base


def test_non_leaf_hook_cycle_after_backward():
    base = _baseline()
    x = torch.ones(3, requires_grad=True)

    def make():
        y = (x * 2).exp()
        y.register_hook(lambda g: g * y.detach())
        y.retain_grad()
        y.sum().backward()
        assert y.grad is not None
        return weakref.ref(y)

    assert _collected(make())
    assert live() == base


def test_retain_grad_with_self_referring_hook():
    base = _baseline()
    x = torch.ones(2, requires_grad=True)

    def make():
        y = x + 1
        y.retain_grad()
        y.register_hook(lambda g: g if y.grad is None else g)
        y.sum().backward()
        return weakref.ref(y)

    assert _collected(make())
    assert live() == base


def test_parameter_hook_referring_to_itself():
    def make():
        p = nn.Parameter(torch.ones(3))
        p.register_hook(lambda g: g * p.detach())
        (p * 1).sum().backward()
        assert p.grad.tolist() == [1.0] * 3
        return weakref.ref(p)

    assert _collected(make())


def test_module_parameter_hook_referring_to_the_module():
    def make():
        lin = nn.Linear(3, 2)
        lin.weight.register_hook(lambda g: g * lin.weight.detach().abs().sum() * 0 + g)
        lin(torch.ones(1, 3)).sum().backward()
        return weakref.ref(lin), weakref.ref(lin.weight)

    rm, rw = make()
    assert _collected(rm)
    assert rw() is None


def test_attribute_cycle():
    t = torch.ones(2)
    t.me = t
    r = weakref.ref(t)
    del t
    assert _collected(r)
    p = nn.Parameter(torch.ones(2))
    p.owner = [p]
    r = weakref.ref(p)
    del p
    assert _collected(r)


class SavesOutput(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x * 2
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * 2


def test_function_ctx_saving_its_output():
    base = _baseline()
    x = torch.ones(3, requires_grad=True)
    out = SavesOutput.apply(x)
    r = weakref.ref(out)
    del out
    assert _collected(r)
    assert live() == base
    out = SavesOutput.apply(x)
    out.sum().backward()
    assert x.grad.tolist() == [2.0] * 3
    r = weakref.ref(out)
    del out
    assert _collected(r)
    assert live() == base


def test_function_with_two_outputs_saving_both():
    class Both(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            a, b = x * 2, x * 3
            ctx.save_for_backward(a, b)
            return a, b

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * 2 + gb * 3

    base = _baseline()
    x = torch.ones(2, requires_grad=True)

    def make(run_backward):
        a, b = Both.apply(x)
        if run_backward:
            (a + b).sum().backward()
            assert x.grad.tolist() == [5.0, 5.0]
        return weakref.ref(a), weakref.ref(b)

    for run_backward in (False, True):
        ra, rb = make(run_backward)
        assert _collected(ra) and rb() is None
        assert live() == base


def test_function_ctx_cycle_kept_while_graph_in_use():
    x = torch.ones(3, requires_grad=True)
    out = SavesOutput.apply(x)
    loss = (out * 3).sum()
    r = weakref.ref(out)
    del out
    gc.collect()
    loss.backward()  # the node the cycle runs through is still needed
    assert x.grad.tolist() == [6.0] * 3
    del loss
    assert _collected(r)


def test_hook_on_dropped_non_leaf_still_fires():
    x = torch.ones(3, requires_grad=True)
    seen = []
    y = x * 2
    y.register_hook(lambda g: seen.append(g.sum().item()))
    z = (y * 3).sum()
    del y
    gc.collect()
    z.backward()
    assert seen == [9.0] and x.grad.tolist() == [6.0] * 3


def test_self_referring_hook_survives_collection_while_reachable():
    def make():
        t = torch.ones(2, requires_grad=True)
        t.register_hook(lambda g: g * t.detach() * 5)
        return [t]

    holder = make()
    gc.collect()
    (holder[0] * 1).sum().backward()
    assert holder[0].grad.tolist() == [5.0, 5.0]


def test_removed_hook_releases_its_callable():
    t = torch.ones(2, requires_grad=True)

    def hook(g):
        return g

    h = t.register_hook(hook)
    r = weakref.ref(hook)
    del hook
    gc.collect()
    assert r() is not None
    h.remove()
    assert r() is None
    (t * 1).sum().backward()
    assert t.grad.tolist() == [1.0, 1.0]
    h.remove()  # again, harmless


def test_collection_during_backward_in_threads():
    """gc runs (from hooks and from another thread) while graphs are in use elsewhere."""
    w = torch.ones(64, requires_grad=True)
    w.register_hook(lambda g: (gc.collect(), g)[1])
    errors = []

    def work():
        try:
            for _ in range(20):
                y = w * 2
                y.register_hook(lambda g, y=y: g + y.detach() * 0)
                y.sum().backward()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for th in threads:
        th.start()
    for _ in range(20):
        gc.collect()
    for th in threads:
        th.join()
    assert not errors
    assert w.grad.tolist() == [2.0 * 60] * 64


def test_many_self_referring_cycles_return_to_baseline():
    base = _baseline()
    x = torch.ones(4, requires_grad=True)
    refs = []
    for _ in range(200):
        y = x * 2
        y.register_hook(lambda g, y=y: g * 1 + y.detach() * 0)
        o = SavesOutput.apply(y)
        refs.append(weakref.ref(o))
        refs.append(weakref.ref(y))
    del y, o
    for _ in range(3):
        gc.collect()
    assert all(r() is None for r in refs)
    assert live() == base
