"""Gradients of several views of regions of one tensor (chunk, split, narrow, select,
unbind, slicing) summed by the backward sweep: the first region's gradient is scattered
into zeros, later ones are added into that sum in place. Checked against NumPy, with
every kind of other consumer, hooks, retained and captured gradients, double backward,
and the caller's gradient tensors left untouched."""

import numpy as np
import pytest

import rtorch as torch


def leaf(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_chunk_pieces_sum_into_one_gradient():
    xa, w = rnd(4, 9), rnd(4, 9, seed=1)
    x = leaf(xa)
    y = x * 2.0
    q, k, v = y.chunk(3, dim=-1)
    loss = (q * torch.tensor(w[:, :3])).sum() + (k * torch.tensor(w[:, 3:6])).sum()
    loss = loss + (v * torch.tensor(w[:, 6:])).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * w, rtol=1e-12)


def test_unused_piece_leaves_zeros_and_pieces_in_any_order():
    x = leaf(rnd(6, 5))
    y = x.exp()
    a, b, c = y.split([2, 3, 1], dim=0)
    (c.sum() * 3.0 + a.sum()).backward()
    expected = np.exp(rnd(6, 5))
    expected[:2] *= 1.0
    expected[2:5] = 0.0
    expected[5:] *= 3.0
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_regions_mixed_with_whole_tensor_consumers():
    xa = rnd(3, 8)
    x = leaf(xa)
    y = x * 1.5
    left, right = y.narrow(1, 0, 4), y.narrow(1, 4, 4)
    loss = (left * 2.0).sum() + y.sum() * 0.5 + (right**2).sum() + (y * y).sum()
    loss.backward()
    ya = 1.5 * xa
    g = np.full_like(xa, 0.5) + 2.0 * ya
    g[:, :4] += 2.0
    g[:, 4:] += 2.0 * ya[:, 4:]
    np.testing.assert_allclose(x.grad.numpy(), 1.5 * g, rtol=1e-12)


def test_overlapping_regions_add_up():
    xa = rnd(10)
    x = leaf(xa)
    y = x * 1.0
    parts = [y[0:6], y[3:9], y[2:4], y[5]]
    weights = [rnd(6, seed=2), rnd(6, seed=3), rnd(2, seed=4), 7.0]
    loss = sum((p * torch.tensor(np.asarray(wt))).sum() for p, wt in zip(parts, weights))
    loss.backward()
    expected = np.zeros(10)
    expected[0:6] += weights[0]
    expected[3:9] += weights[1]
    expected[2:4] += weights[2]
    expected[5] += 7.0
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_self_overlapping_windows_fall_back():
    # unfold with a step below the window size: one storage element in several windows.
    xa = rnd(9)
    x = leaf(xa)
    y = x * 1.0
    first = y[:5]
    windows = y.unfold(0, 4, 2)  # (3, 4) windows starting at 0, 2, 4
    (first.sum() + (windows * 2.0).sum()).backward()
    expected = np.zeros(9)
    expected[:5] += 1.0
    for s in (0, 2, 4):
        expected[s : s + 4] += 2.0
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_select_unbind_and_strided_slices():
    xa = rnd(4, 6)
    x = leaf(xa)
    y = x.tanh()
    rows = y.unbind(0)
    loss = rows[0].sum() + (rows[3] * 2.0).sum() + y[:, ::2].sum() + y[1, 1:4].sum() * 3.0
    loss.backward()
    g = np.zeros((4, 6))
    g[0] += 1.0
    g[3] += 2.0
    g[:, ::2] += 1.0
    g[1, 1:4] += 3.0
    np.testing.assert_allclose(x.grad.numpy(), g * (1.0 - np.tanh(xa) ** 2), rtol=1e-12)


def test_hooks_retained_and_captured_gradients_see_the_whole_sum():
    xa = rnd(2, 6)
    x = leaf(xa)
    y = x * 3.0
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    a, b = y.chunk(2, dim=1)
    loss = (a * 2.0).sum() + (b * 5.0).sum()
    (gy,) = torch.autograd.grad(loss, [y], retain_graph=True)
    expected = np.concatenate([np.full((2, 3), 2.0), np.full((2, 3), 5.0)], axis=1)
    np.testing.assert_allclose(gy.numpy(), expected)
    # As in PyTorch, the retained gradient is filled by autograd.grad too, then summed.
    np.testing.assert_allclose(y.grad.numpy(), expected)
    loss.backward()
    np.testing.assert_allclose(y.grad.numpy(), 2.0 * expected)
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * expected)
    assert len(seen) == 2
    for s in seen:
        np.testing.assert_allclose(s, expected)


def test_hook_replacing_the_gradient():
    x = leaf(rnd(2, 4))
    y = x * 1.0
    y.register_hook(lambda g: g * 10.0)
    a, b = y.chunk(2, dim=1)
    (a.sum() + b.sum() * 2.0).backward()
    expected = np.concatenate([np.full((2, 2), 10.0), np.full((2, 2), 20.0)], axis=1)
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_caller_gradients_are_not_written():
    x = leaf(rnd(3, 4))
    y = x * 2.0
    g1 = torch.ones(3, 4, dtype=torch.float64)
    g2 = torch.full((3, 4), 2.0, dtype=torch.float64)
    # The same tensor twice as a root: the two given gradients are summed, neither changed.
    torch.autograd.backward([y, y], [g1, g2])
    np.testing.assert_allclose(g1.numpy(), np.ones((3, 4)))
    np.testing.assert_allclose(g2.numpy(), np.full((3, 4), 2.0))
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4), 6.0))
    # A root that is itself a region: its given gradient is scattered, not written into.
    x.grad = None
    z = x * 1.0
    part = z.narrow(0, 1, 2)
    gp = torch.full((2, 4), 4.0, dtype=torch.float64)
    torch.autograd.backward([part, z], [gp, torch.ones(3, 4, dtype=torch.float64)])
    np.testing.assert_allclose(gp.numpy(), np.full((2, 4), 4.0))
    expected = np.ones((3, 4))
    expected[1:3] += 4.0
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_gradient_of_a_branch_returned_unchanged_is_not_written():
    # MulBackward by 1 and AddBackward hand the incoming gradient on as it is: a later
    # region must not add into that shared tensor.
    x = leaf(rnd(2, 6))
    y = x + 0.0
    w = y + 0.0
    h = w.chunk(2, dim=1)
    keep = []
    w.register_hook(lambda g: keep.append(g))
    (h[0].sum() + h[1].sum() * 2.0 + y.sum()).backward()
    expected = np.concatenate([np.full((2, 3), 2.0), np.full((2, 3), 3.0)], axis=1)
    np.testing.assert_allclose(x.grad.numpy(), expected)
    np.testing.assert_allclose(keep[0].numpy(), expected - 1.0)


def test_double_backward_through_pieces():
    xa = rnd(2, 6)
    x = leaf(xa)
    y = x**3
    a, b = y.chunk(2, dim=1)
    loss = (a * a).sum() + b.sum()
    (gx,) = torch.autograd.grad(loss, [x], create_graph=True)
    # d/dx of sum(a^2) = 6 x^5 on the first half; of sum(b) = 3 x^2 on the second.
    want = np.concatenate([6 * xa[:, :3] ** 5, 3 * xa[:, 3:] ** 2], axis=1)
    np.testing.assert_allclose(gx.detach().numpy(), want, rtol=1e-10)
    gx.sum().backward()
    want2 = np.concatenate([30 * xa[:, :3] ** 4, 6 * xa[:, 3:]], axis=1)
    np.testing.assert_allclose(x.grad.numpy(), want2, rtol=1e-10)


def test_gradcheck_of_pieces():
    x = leaf(rnd(3, 6))

    def f(t):
        y = t.sin()
        a, b, c = y.chunk(3, dim=1)
        return (a * b + c.exp()).sum(dim=1) + y[1].sum()

    assert torch.autograd.gradcheck(f, (x,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_pieces_of_low_precision_tensors(dtype):
    xa = rnd(4, 6).astype(np.float32)
    x = torch.tensor(xa, dtype=dtype, requires_grad=True)
    y = x * 2
    a, b = y.chunk(2, dim=0)
    (a.sum() + (b * 3).sum()).backward()
    assert x.grad.dtype == dtype
    expected = np.concatenate([np.full((2, 6), 2.0), np.full((2, 6), 6.0)])
    np.testing.assert_allclose(x.grad.float().numpy(), expected)


def test_pieces_on_a_non_contiguous_tensor():
    xa = rnd(6, 4)
    x = leaf(xa)
    y = (x * 2.0).t()  # (4, 6), non-contiguous
    a, b = y.chunk(2, dim=1)
    ((a * 3.0).sum() + b.sum()).backward()
    g = np.concatenate([np.full((4, 3), 3.0), np.full((4, 3), 1.0)], axis=1).T * 2.0
    np.testing.assert_allclose(x.grad.numpy(), g)


# Leaves: pieces of a leaf (a parameter split into q, k, v weights) and a leaf used many
# times (a weight at every step of a loop) are summed in one buffer the sweep owns.


def test_pieces_of_a_leaf_sum_into_its_gradient():
    xa, w = rnd(4, 9), rnd(4, 9, seed=1)
    x = leaf(xa)
    q, k, v = x.chunk(3, dim=-1)
    loss = (q * torch.tensor(w[:, :3])).sum() + (v * torch.tensor(w[:, 6:])).sum()
    loss = loss + (k * torch.tensor(w[:, 3:6])).sum() + (x * x).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), w + 2.0 * xa, rtol=1e-12)
    # Overlapping pieces and an unused one; `.grad` accumulates across calls.
    a, b, _ = x.narrow(1, 0, 5), x.narrow(1, 3, 5), x.narrow(1, 8, 1)
    (a.sum() * 2.0 + (b * 3.0).sum()).backward()
    g = w + 2.0 * xa
    g[:, 0:5] += 2.0
    g[:, 3:8] += 3.0
    np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-12)


def test_leaf_used_at_every_step_of_a_loop():
    wa, xs = rnd(5, 5) * 0.3, rnd(12, 3, 5, seed=2)
    w = leaf(wa)
    h = torch.zeros(3, 5, dtype=torch.float64)
    hs = [h.numpy()]
    for t in range(12):
        h = (torch.tensor(xs[t]) + h @ w).tanh()
        hs.append(h.detach().numpy())
    h.sum().backward()
    # Backpropagation through time in NumPy.
    gw, gh = np.zeros_like(wa), np.ones((3, 5))
    for t in reversed(range(12)):
        gz = gh * (1.0 - hs[t + 1] ** 2)
        gw += hs[t].T @ gz
        gh = gz @ wa.T
    np.testing.assert_allclose(w.grad.numpy(), gw, rtol=1e-10)


def test_leaf_roots_and_hooks_see_one_untouched_sum():
    x = leaf(rnd(3, 4))
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 2.0
    g1 = torch.ones(3, 4, dtype=torch.float64)
    g2 = torch.full((3, 4), 2.0, dtype=torch.float64)
    a, b = x.chunk(2, dim=1)
    ga = torch.full((3, 2), 5.0, dtype=torch.float64)
    # The leaf as a root, through a product, and as two pieces.
    torch.autograd.backward([x, y, a, b], [g1, g2, ga, g1[:, :2]])
    np.testing.assert_allclose(g1.numpy(), np.ones((3, 4)))
    np.testing.assert_allclose(g2.numpy(), np.full((3, 4), 2.0))
    np.testing.assert_allclose(ga.numpy(), np.full((3, 2), 5.0))
    expected = np.full((3, 4), 5.0)
    expected[:, :2] += 5.0
    expected[:, 2:] += 1.0
    np.testing.assert_allclose(x.grad.numpy(), expected)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], expected)


def test_double_backward_through_a_reused_leaf():
    xa = rnd(2, 6)
    x = leaf(xa)
    a, b = x.chunk(2, dim=1)
    loss = (a**3).sum() + (x * x).sum() + (b * x[:, :3]).sum()
    (gx,) = torch.autograd.grad(loss, [x], create_graph=True)
    want = 2.0 * xa
    want[:, :3] += 3 * xa[:, :3] ** 2 + xa[:, 3:]
    want[:, 3:] += xa[:, :3]
    np.testing.assert_allclose(gx.detach().numpy(), want, rtol=1e-10)
    gx.sum().backward()
    want2 = np.full_like(xa, 2.0)
    want2[:, :3] += 6 * xa[:, :3] + 1.0
    want2[:, 3:] += 1.0
    np.testing.assert_allclose(x.grad.numpy(), want2, rtol=1e-10)


def test_gradcheck_of_leaf_pieces_and_reuse():
    x = leaf(rnd(3, 6))
    w = leaf(rnd(6, 6, seed=3))

    def f(t, m):
        a, b, c = t.chunk(3, dim=1)
        h = t
        for _ in range(3):
            h = (h @ m).sin()
        return (a * b + c.exp()).sum(dim=1) + h.sum(dim=1) + m.narrow(0, 2, 3).sum()

    assert torch.autograd.gradcheck(f, (x, w))
