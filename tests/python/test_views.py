"""Views and movement ops: values vs numpy, storage sharing, strides, gradients, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensor_helpers import ALL_DTYPES, assert_np, f64, gradcheck, layouts, make, seeds, shapes

import rtorch as torch

# (name, rtorch fn, numpy fn, input shape) — every op checked on each layout and dtype below
MOVEMENT = [
    ("reshape", lambda t: t.reshape(3, -1), lambda a: a.reshape(3, -1), (2, 3, 2)),
    ("reshape_0size", lambda t: t.reshape(0, 7), lambda a: a.reshape(0, 7), (3, 0)),
    ("view_flat", lambda t: t.contiguous().view(-1), lambda a: a.reshape(-1), (2, 3)),
    ("flatten", lambda t: t.flatten(), lambda a: a.reshape(-1), (2, 3, 2)),
    ("flatten_range", lambda t: t.flatten(1, 2), lambda a: a.reshape(2, 6), (2, 3, 2)),
    ("ravel", lambda t: t.ravel(), lambda a: a.ravel(), (3, 2)),
    ("unflatten", lambda t: t.unflatten(1, (2, 3)), lambda a: a.reshape(2, 2, 3), (2, 6)),
    ("transpose", lambda t: t.transpose(0, 2), lambda a: a.swapaxes(0, 2), (2, 3, 4)),
    ("transpose_neg", lambda t: t.transpose(-1, -2), lambda a: a.swapaxes(-1, -2), (2, 3, 4)),
    ("swapaxes", lambda t: t.swapaxes(0, 1), lambda a: a.swapaxes(0, 1), (2, 3)),
    ("t", lambda t: t.t(), lambda a: a.T, (2, 3)),
    ("t_1d", lambda t: t.t(), lambda a: a, (3,)),
    ("T", lambda t: t.T, lambda a: a.T, (2, 3)),
    ("mT", lambda t: t.mT, lambda a: a.swapaxes(-1, -2), (2, 3, 4)),
    ("permute", lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), (2, 3, 4)),
    ("permute_list", lambda t: t.permute([1, 0, 2]), lambda a: a.transpose(1, 0, 2), (2, 3, 4)),
    ("squeeze", lambda t: t.squeeze(), lambda a: a.squeeze(), (1, 3, 1)),
    ("squeeze_dim", lambda t: t.squeeze(0), lambda a: a.squeeze(0), (1, 3, 1)),
    ("squeeze_noop", lambda t: t.squeeze(1), lambda a: a, (1, 3, 1)),
    ("squeeze_tuple", lambda t: t.squeeze((0, 2)), lambda a: a.squeeze((0, 2)), (1, 3, 1)),
    ("unsqueeze", lambda t: t.unsqueeze(1), lambda a: np.expand_dims(a, 1), (2, 3)),
    ("unsqueeze_neg", lambda t: t.unsqueeze(-1), lambda a: a[..., None], (2, 3)),
    ("expand", lambda t: t.expand(4, 2, 3), lambda a: np.broadcast_to(a, (4, 2, 3)), (2, 1)),
    ("expand_keep", lambda t: t.expand(-1, 5), lambda a: np.broadcast_to(a, (3, 5)), (3, 1)),
    ("broadcast_to", lambda t: t.broadcast_to((2, 3)), lambda a: np.broadcast_to(a, (2, 3)), (3,)),
    ("narrow", lambda t: t.narrow(1, 1, 2), lambda a: a[:, 1:3], (2, 4)),
    ("narrow_neg", lambda t: t.narrow(-1, -2, 2), lambda a: a[:, -2:], (2, 4)),
    ("select", lambda t: t.select(1, 2), lambda a: a[:, 2], (2, 4)),
    ("select_neg", lambda t: t.select(0, -1), lambda a: a[-1], (2, 4)),
    ("diagonal", lambda t: t.diagonal(), lambda a: np.diagonal(a).copy(), (3, 4)),
    ("diagonal_off", lambda t: t.diagonal(1), lambda a: np.diagonal(a, 1).copy(), (3, 4)),
    ("diagonal_neg", lambda t: t.diagonal(-1, 0, 1), lambda a: np.diagonal(a, -1).copy(), (3, 4)),
    (
        "diagonal_3d",
        lambda t: t.diagonal(0, 1, 2),
        lambda a: np.diagonal(a, 0, 1, 2).copy(),
        (2, 3, 3),
    ),
    ("movedim", lambda t: t.movedim(0, -1), lambda a: np.moveaxis(a, 0, -1), (2, 3, 4)),
    (
        "movedim_multi",
        lambda t: t.movedim((0, 1), (2, 0)),
        lambda a: np.moveaxis(a, (0, 1), (2, 0)),
        (2, 3, 4),
    ),
    ("flip", lambda t: t.flip(0), lambda a: np.flip(a, 0), (2, 3)),
    ("flip_multi", lambda t: t.flip(0, 1), lambda a: np.flip(a, (0, 1)), (2, 3)),
    ("fliplr", lambda t: t.fliplr(), lambda a: np.fliplr(a), (2, 3)),
    ("flipud", lambda t: t.flipud(), lambda a: np.flipud(a), (2, 3)),
    ("roll", lambda t: t.roll(1, 0), lambda a: np.roll(a, 1, 0), (3, 2)),
    ("roll_neg", lambda t: t.roll(-2, 1), lambda a: np.roll(a, -2, 1), (3, 4)),
    ("roll_flat", lambda t: t.roll(2), lambda a: np.roll(a, 2), (3, 2)),
    ("roll_multi", lambda t: t.roll((1, 1), (0, 1)), lambda a: np.roll(a, (1, 1), (0, 1)), (3, 2)),
    ("repeat", lambda t: t.repeat(2, 3), lambda a: np.tile(a, (2, 3)), (2, 2)),
    ("repeat_newdim", lambda t: t.repeat(2, 1, 1), lambda a: np.tile(a, (2, 1, 1)), (2, 2)),
    ("tril", lambda t: t.tril(), lambda a: np.tril(a), (3, 4)),
    ("tril_k", lambda t: t.tril(-1), lambda a: np.tril(a, -1), (3, 4)),
    ("triu", lambda t: t.triu(), lambda a: np.triu(a), (3, 4)),
    ("triu_k", lambda t: t.triu(2), lambda a: np.triu(a, 2), (3, 4)),
    (
        "unfold",
        lambda t: t.unfold(1, 2, 1),
        lambda a: np.lib.stride_tricks.sliding_window_view(a, 2, 1),
        (2, 4),
    ),
    (
        "unfold_step",
        lambda t: t.unfold(0, 2, 2),
        lambda a: np.stack([a[0:2], a[2:4]]).transpose(0, 2, 1),
        (5, 3),
    ),
    ("contiguous", lambda t: t.contiguous(), lambda a: a, (2, 3)),
    ("clone", lambda t: t.clone(), lambda a: a, (2, 3)),
]


@pytest.mark.parametrize("name,tf,nf,shape", MOVEMENT, ids=[m[0] for m in MOVEMENT])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_movement_values(name, tf, nf, shape, layout):
    a, t = make(shape, torch.float32, layout=layout)
    assert_np(tf(t), nf(a))


@pytest.mark.parametrize("name,tf,nf,shape", MOVEMENT, ids=[m[0] for m in MOVEMENT])
@pytest.mark.parametrize(
    "dtype", [torch.bool, torch.uint8, torch.int32, torch.int64, torch.float64]
)
def test_movement_dtypes(name, tf, nf, shape, dtype):
    a, t = make(shape, dtype)
    assert_np(tf(t), nf(a))


GRAD_MOVEMENT = [m for m in MOVEMENT if m[0] not in ("reshape_0size",)]


@pytest.mark.parametrize("name,tf,nf,shape", GRAD_MOVEMENT, ids=[m[0] for m in GRAD_MOVEMENT])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_movement_gradcheck(name, tf, nf, shape, layout):
    gradcheck(tf, f64(shape, layout=layout))


VIEWS = [
    lambda t: t.view(6),
    lambda t: t.reshape(3, 2),
    lambda t: t.t(),
    lambda t: t.transpose(0, 1),
    lambda t: t.permute(1, 0),
    lambda t: t[0],
    lambda t: t[:, 1:],
    lambda t: t[..., None],
    lambda t: t.unsqueeze(0),
    lambda t: t.narrow(0, 1, 1),
    lambda t: t.select(1, 0),
    lambda t: t.diagonal(),
    lambda t: t.expand(4, 2, 3),
    lambda t: t.unfold(1, 2, 1),
    lambda t: t.view_as(t),
    lambda t: t.split(1)[1],
    lambda t: t.chunk(3, 1)[2],
    lambda t: t.unbind(1)[0],
    lambda t: t.detach(),
    lambda t: t.flatten(),
    lambda t: t.mT,
]


@pytest.mark.parametrize("i", range(len(VIEWS)))
def test_views_share_storage(i):
    base = torch.arange(6.0).reshape(2, 3)
    v = VIEWS[i](base)
    assert v.untyped_storage_ptr() == base.untyped_storage_ptr()
    before = base.clone()
    v.add_(100) if not v.stride() or 0 not in v.stride() else v.select(0, 0).add_(100)
    assert not torch.equal(base, before), "writing through the view did not change the base"


def test_copying_ops_do_not_share():
    base = torch.arange(6.0).reshape(2, 3)
    for c in [
        base.clone(),
        base.t().contiguous(),
        base.t().reshape(6),
        base.flip(0),
        base.repeat(1, 1),
        base.roll(1),
    ]:
        c.zero_()
    assert base.sum().item() == 15.0


def test_reshape_views_when_possible():
    x = torch.arange(12).reshape(3, 4)
    assert x.reshape(2, 6).untyped_storage_ptr() == x.untyped_storage_ptr()
    assert x.contiguous() is x
    y = x.t()
    assert not y.is_contiguous() and y.contiguous().is_contiguous()


def test_strides_and_offsets():
    x = torch.zeros(2, 3, 4)
    assert x.stride() == (12, 4, 1)
    assert x.permute(2, 0, 1).stride() == (1, 12, 4)
    assert x[1].storage_offset() == 12 and x[:, 1, 2:].storage_offset() == 6
    assert x.expand(5, 2, 3, 4).stride() == (0, 12, 4, 1)
    assert x[:, ::2].stride() == (12, 8, 1)
    assert torch.zeros(3, 1).expand(3, 4).stride() == (1, 0)


@given(shape=shapes(1, 4, 1, 4), seed=seeds)
def test_reshape_roundtrip_random(shape, seed):
    rng = np.random.default_rng(seed)
    a, t = make(shape, torch.float32, rng, "transposed")
    n = int(np.prod(shape))
    assert_np(t.reshape(n), a.reshape(n))
    perm = list(rng.permutation(len(shape)))
    assert_np(t.permute(*perm), a.transpose(perm))
    assert_np(t.permute(*perm).reshape(-1), a.transpose(perm).reshape(-1))


@given(shape=shapes(1, 3, 0, 4), seed=seeds, layout=layouts, data=st.data())
def test_split_chunk_unbind_random(shape, seed, layout, data):
    a, t = make(shape, torch.float32, np.random.default_rng(seed), layout)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    size = data.draw(st.integers(1, 4))
    parts = t.split(size, dim)
    n = a.shape[dim]
    idx = list(range(size, n, size))
    expected = np.split(a, idx, axis=dim) if n else [a]
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        assert_np(p, e)
    if n:
        for p, e in zip(t.unbind(dim), np.moveaxis(a, dim, 0)):
            assert_np(p, e)
        chunks = t.chunk(size, dim)
        assert sum(c.shape[dim] for c in chunks) == n and len(chunks) <= size


def test_split_sections_and_errors():
    t = torch.arange(10)
    assert [p.tolist() for p in t.split([3, 7])] == [[0, 1, 2], list(range(3, 10))]
    assert [p.numel() for p in t.chunk(4)] == [3, 3, 3, 1]
    assert [p.numel() for p in torch.arange(6).chunk(4)] == [2, 2, 2]
    with pytest.raises(RuntimeError, match="split"):
        t.split([3, 3])


def test_squeeze_unsqueeze_0d():
    s = torch.tensor(3.0)
    assert (
        s.unsqueeze(0).shape == (1,) and s.squeeze().shape == () and s.reshape(1, 1).shape == (1, 1)
    )
    assert s.reshape(-1).shape == (1,) and s.flatten().shape == (1,) and s.view(()).shape == ()
    assert s.t().shape == () and s.expand(2, 2).shape == (2, 2)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_cat_stack_values(dtype):
    rng = np.random.default_rng(1)
    a, ta = make((2, 3), dtype, rng)
    b, tb = make((1, 3), dtype, rng, "sliced")
    c, tc = make((2, 3), dtype, rng, "transposed")
    assert_np(torch.cat([ta, tb]), np.concatenate([a, b]))
    assert_np(torch.cat((ta, tc), dim=1), np.concatenate([a, c], 1))
    assert_np(torch.cat([ta, tc], -1), np.concatenate([a, c], -1))
    assert_np(torch.stack([ta, tc]), np.stack([a, c]))
    assert_np(torch.stack([ta, tc], dim=2), np.stack([a, c], 2))
    assert_np(torch.stack([ta, tc], -1), np.stack([a, c], -1))
    assert_np(torch.cat([ta, torch.zeros(0, 3, dtype=dtype)]), a)
    assert_np(torch.hstack([ta, tc]), np.hstack([a, c]))
    assert_np(torch.vstack([ta, tb]), np.vstack([a, b]))


def test_cat_promotes_and_skips_legacy_empty():
    r = torch.cat([torch.ones(2, dtype=torch.int32), torch.ones(1, dtype=torch.float64)])
    assert r.dtype == torch.float64 and r.tolist() == [1.0, 1.0, 1.0]
    assert torch.cat([torch.ones(2, 2), torch.tensor([])]).shape == (2, 2)


def test_cat_stack_gradients():
    a, b = f64((2, 3)), f64((1, 3), layout="transposed")
    gradcheck(lambda x, y: torch.cat([x, y]), a, b)
    c = f64((2, 3))
    gradcheck(lambda x, y: torch.stack([x, y], 1), a, c)
    gradcheck(lambda x, y: torch.cat([x.t(), y.t()], 1), a, b)


@pytest.mark.parametrize(
    "fn,exc,msg",
    [
        (
            lambda: torch.zeros(2, 3).view(4),
            RuntimeError,
            r"shape '\[4\]' is invalid for input of size 6",
        ),
        (lambda: torch.zeros(2, 3).t().view(6), RuntimeError, "view size is not compatible"),
        (
            lambda: torch.zeros(2, 3).reshape(-1, -1),
            RuntimeError,
            "only one dimension can be inferred",
        ),
        (lambda: torch.zeros(2, 3).reshape(4, -1), RuntimeError, "invalid for input of size 6"),
        (lambda: torch.zeros(2, 3).transpose(0, 2), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).permute(0, 0), RuntimeError, "multiple times|duplicate"),
        (lambda: torch.zeros(2, 3).permute(0), RuntimeError, "number of dimensions"),
        (lambda: torch.zeros(2, 3).unsqueeze(3), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).squeeze(2), IndexError, "Dimension out of range"),
        (lambda: torch.zeros(2, 3).expand(3, 3), RuntimeError, "expanded size"),
        (lambda: torch.zeros(2, 3).expand(3), RuntimeError, "number of sizes"),
        (lambda: torch.zeros(2, 3).narrow(1, 2, 2), RuntimeError, "exceeds dimension size"),
        (lambda: torch.zeros(2, 3).select(1, 3), IndexError, "index 3"),
        (lambda: torch.zeros(2, 3).flatten(1, 0), RuntimeError, "flatten"),
        (lambda: torch.zeros(2, 3).unflatten(1, (2, 2)), RuntimeError, "unflatten"),
        (lambda: torch.zeros(2, 3).repeat(2), RuntimeError, "Number of dimensions of repeat dims"),
        (
            lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)]),
            RuntimeError,
            "Sizes of tensors must match",
        ),
        (lambda: torch.cat([]), (RuntimeError, ValueError), "non-empty"),
        (
            lambda: torch.cat([torch.zeros(2), torch.zeros(2, 2)]),
            RuntimeError,
            "same number of dimensions",
        ),
        (
            lambda: torch.stack([torch.zeros(2), torch.zeros(3)]),
            RuntimeError,
            "stack expects each tensor to be equal size",
        ),
        (lambda: torch.zeros(3).tril(), RuntimeError, "tril"),
        (lambda: torch.zeros(2).t().t().T.mT, RuntimeError, "mT"),
    ],
)
def test_movement_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()
