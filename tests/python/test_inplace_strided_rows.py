"""In-place binary ops and copies into strided destinations (column slices, narrowed and
transposed views, broadcast operands) against NumPy: the row-by-row loops taken when the
last dim is unit-stride, and the element-by-element ones otherwise."""

import numpy as np
import pytest

import rtorch as torch

OPS = {
    "add_": np.add,
    "sub_": np.subtract,
    "mul_": np.multiply,
    "div_": np.divide,
}


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def views(t, a):
    """(name, view of tensor `t`, the same view of array `a`) for each layout tested."""
    return [
        ("column slice", t[:, 3:40], a[:, 3:40]),
        ("narrow last dim", t.narrow(1, 10, 30), a[:, 10:40]),
        ("strided rows", t[::2, 5:45], a[::2, 5:45]),
        ("3-d slice", t.view(6, 8, 48)[:, 1:7, 8:40], a.reshape(6, 8, 48)[:, 1:7, 8:40]),
        ("transposed", t[:20, :20].t(), a[:20, :20].T),
        ("short rows", t[:, 2:6], a[:, 2:6]),
    ]


def operand(kind, shape, dtype):
    """(tensor, array) right-hand sides of one kind for a destination of `shape`."""
    if kind == "scalar":
        return 1.75, 1.75
    if kind == "strided":
        big = rnd(*shape[:-1], 2 * shape[-1], seed=4) + 2.0
        return torch.tensor(big).to(dtype)[..., ::2], big[..., ::2]
    r = {
        "tensor": lambda: rnd(*shape, seed=1),
        "row broadcast": lambda: rnd(shape[-1], seed=2),
        "column broadcast": lambda: rnd(*shape[:-1], 1, seed=3),
    }[kind]() + 2.0
    return torch.tensor(r).to(dtype), r


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["tensor", "row broadcast", "column broadcast", "scalar", "strided"])
def test_in_place_into_views_matches_numpy(op, dtype, kind):
    a = rnd(48, 48)
    t = torch.tensor(a).to(dtype)
    for name, tv, av in views(t, a):
        rt, r = operand(kind, av.shape, dtype)
        getattr(tv, op)(rt)
        OPS[op](av, r, out=av)
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        got = t.to(torch.float64).numpy()
        np.testing.assert_allclose(got, a, rtol=tol, atol=tol, err_msg=f"{op} {name} {kind}")


def test_in_place_from_an_overlapping_view_of_itself():
    base = rnd(8, 32)
    t = torch.tensor(base)
    a = base.copy()
    # The operand is another region of the destination's own storage.
    t[:, 0:16].add_(t[:, 8:24])
    a[:, 0:16] += a[:, 8:24].copy()
    np.testing.assert_allclose(t.numpy(), a)


def test_in_place_into_self_overlapping_destination_raises():
    t = torch.zeros(4).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element"):
        t.add_(torch.ones(3, 4))


def test_copy_into_views_matches_numpy():
    a = rnd(48, 48)
    t = torch.tensor(a)
    for name, tv, av in views(t, a):
        src = rnd(*av.shape, seed=7)
        tv.copy_(torch.tensor(src))
        av[...] = src
        np.testing.assert_allclose(t.numpy(), a, err_msg=name)


def test_linear_bias_broadcast_in_place():
    x, w, b = rnd(5, 7, 16), rnd(24, 16, seed=1), rnd(24, seed=2)
    out = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(out.numpy(), x @ w.T + b, rtol=1e-12)


def test_large_views_split_across_threads():
    base = rnd(1024, 300)
    t = torch.tensor(base)
    a = base.copy()
    r = rnd(1024, 256, seed=5)
    t[:, 20:276].mul_(torch.tensor(r))
    a[:, 20:276] *= r
    np.testing.assert_allclose(t.numpy(), a)
    row = rnd(256, seed=6)
    t[:, 40:296].sub_(torch.tensor(row))
    a[:, 40:296] -= row
    np.testing.assert_allclose(t.numpy(), a)


BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "mul": (lambda x, y: x * y, np.multiply),
    "maximum": (torch.maximum, np.maximum),
    "gt": (lambda x, y: x > y, np.greater),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
def test_out_of_place_on_views_matches_numpy(name, dtype):
    """Operands with unit-stride or broadcast rows go row by row, others element by element."""
    fn, ref = BINARY[name]
    a = (rnd(12, 40) * 10).round()
    b = (rnd(12, 40, seed=1) * 10).round()
    np_dtype = {torch.float32: np.float32, torch.float64: np.float64, torch.int32: np.int32}[dtype]
    ta, tb = torch.tensor(a).to(dtype), torch.tensor(b).to(dtype)
    pairs = [
        ("slices", ta[:, 3:30], tb[:, 5:32], a[:, 3:30], b[:, 5:32]),
        ("slice and row", ta[2:10, 8:], tb[0, 8:], a[2:10, 8:], b[0, 8:]),
        ("slice and column", ta[:, 1:21], tb[:, :1], a[:, 1:21], b[:, :1]),
        ("column and row", ta[:, :1], tb[0, 10:30], a[:, :1], b[0, 10:30]),
        ("transposed", ta[:12, :12].t(), tb[:12, :12], a[:12, :12].T, b[:12, :12]),
        ("3-d", ta.view(4, 3, 40)[:, :, 4:36], tb.view(4, 3, 40)[:1, :, 0:32],
         a.reshape(4, 3, 40)[:, :, 4:36], b.reshape(4, 3, 40)[:1, :, 0:32]),
    ]
    for label, x, y, xa, ya in pairs:
        got = fn(x, y)
        want = ref(xa.astype(np_dtype), ya.astype(np_dtype))
        np.testing.assert_array_equal(got.numpy(), want, err_msg=label)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_unary_on_views_matches_numpy(dtype):
    a = rnd(30, 50)
    t = torch.tensor(a).to(dtype)
    tol = 1e-6 if dtype == torch.float32 else 1e-13
    for x, xa in [(t[:, 5:45], a[:, 5:45]), (t[::3, 10:], a[::3, 10:]), (t[:, :1].expand(30, 9), np.broadcast_to(a[:, :1], (30, 9)))]:
        np.testing.assert_allclose(torch.tanh(x).numpy(), np.tanh(xa), rtol=tol, atol=tol)
        np.testing.assert_allclose(torch.abs(x).numpy(), np.abs(xa), rtol=tol, atol=tol)
        np.testing.assert_allclose((-x).numpy(), -xa, rtol=tol, atol=tol)
