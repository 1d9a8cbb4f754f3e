"""Gradient accumulation is atomic per tensor: Python threads running backward at the same
time (the GIL is released during backward) on one shared module lose no update."""

import threading

import pytest

import rtorch as torch
from rtorch import nn

THREADS = 4
PASSES = 40


def _run_threads(work):
    errors = []
    start = threading.Barrier(THREADS)

    def wrapped(k):
        try:
            start.wait()
            work(k)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(k,)) for k in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors


@pytest.mark.parametrize("features", [8, 192])
def test_shared_linear_accumulates_every_pass(features):
    lin = nn.Linear(features, features)
    # Small integers keep every partial sum exact in float32.
    xs = [
        (torch.arange(3 * features, dtype=torch.float32).reshape(3, features) % 5) + k
        for k in range(THREADS)
    ]

    def work(k):
        for _ in range(PASSES):
            lin(xs[k]).sum().backward()

    _run_threads(work)
    expected_w = sum(x.sum(0) for x in xs) * PASSES
    expected_b = torch.full((features,), 3.0 * THREADS * PASSES)
    assert torch.equal(lin.weight.grad, expected_w.expand(features, features))
    assert torch.equal(lin.bias.grad, expected_b)


def test_first_gradient_is_not_lost():
    """Every thread may find `.grad` empty at once; only one may store the first value."""
    n = 1 << 20
    for _ in range(5):
        w = torch.zeros(n, requires_grad=True)

        def work(k, w=w):
            (w * (k + 1)).sum().backward()

        _run_threads(work)
        assert torch.equal(w.grad, torch.full((n,), float(sum(range(1, THREADS + 1)))))


def test_retained_gradients_of_a_shared_non_leaf():
    n = 1 << 18
    x = torch.ones(n, requires_grad=True)
    y = x * 2
    y.retain_grad()

    def work(k):
        for _ in range(15):
            (y * 1).sum().backward(retain_graph=True)

    _run_threads(work)
    assert torch.equal(y.grad, torch.full((n,), float(THREADS * 15)))
    assert torch.equal(x.grad, torch.full((n,), 2.0 * THREADS * 15))


def test_hooks_run_without_blocking_other_threads():
    """A hook that waits for another thread's hook must not deadlock (no lock is held while
    hooks run)."""
    w = torch.zeros(1024, requires_grad=True)
    both = threading.Barrier(2, timeout=30)
    w.register_hook(lambda g: (both.wait(), g)[1])
    done = []

    def work():
        (w * 1).sum().backward()
        done.append(True)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert done == [True, True]
    assert torch.equal(w.grad, torch.full((1024,), 2.0))
