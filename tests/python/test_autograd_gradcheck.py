"""gradcheck itself (it must catch wrong gradients and accept right ones), and float64
gradchecks of composite expressions on broadcast and non-contiguous inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensor_helpers import broadcastable_pair, f64, gradcheck, gradgradcheck, seeds

import rtorch as torch


class WrongGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * x

    @staticmethod
    def backward(ctx, g):
        return g * 3.0  # wrong on purpose


def test_gradcheck_detects_wrong_gradient():
    x = f64((3,))
    with pytest.raises(torch.autograd.GradcheckError, match="Jacobian mismatch"):
        torch.autograd.gradcheck(WrongGrad.apply, (x,))
    assert torch.autograd.gradcheck(WrongGrad.apply, (x,), raise_exception=False) is False
    assert issubclass(torch.autograd.GradcheckError, RuntimeError)


def test_gradcheck_accepts_and_validates_inputs():
    assert torch.autograd.gradcheck(lambda a: (a * a).sum(), (f64((2, 2)),))
    assert torch.autograd.gradcheck(lambda a: a.exp(), f64((3,)))  # a bare tensor is accepted
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        torch.autograd.gradcheck(lambda a: a * 2, (torch.ones(2, dtype=torch.float64),))
    with pytest.warns(UserWarning, match="double precision"):
        torch.autograd.gradcheck(
            lambda a: a * 2, (torch.ones(2, requires_grad=True),), eps=1e-2, atol=1e-2, rtol=1e-2
        )


def test_gradgradcheck_detects_wrong_second_derivative():
    class FirstOrderOnly(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x.detach() ** 2  # detached: second derivative wrong

    x = f64((3,), low=0.5)
    gradcheck(FirstOrderOnly.apply, x)
    assert torch.autograd.gradgradcheck(FirstOrderOnly.apply, (x,), raise_exception=False) is False


def test_gradcheck_multiple_inputs_and_outputs():
    def f(a, b):
        return a * b, (a - b).exp()

    gradcheck(f, f64((2, 3)), f64((3,)))
    gradcheck(lambda a, k, b: a * k + b, f64((2,)), 3.0, f64((2,)))
    gradgradcheck(lambda a, b: (a * b).tanh(), f64((2, 3)), f64((3,)))


# composite expressions (a model-like forward) — every rule involved at once
COMPOSITES = [
    ("mlp", lambda x, w: (x @ w).tanh().sum(-1)),
    ("softmax_ce", lambda x, w: -(x @ w).log_softmax(-1)[:, 0].mean()),
    (
        "layer_norm_like",
        lambda x, w: (
            (
                (x - x.mean(-1, keepdim=True))
                / (x.var(-1, keepdim=True, unbiased=False) + 1e-5).sqrt()
            )
            @ w
        ),
    ),
    ("attention_like", lambda x, w: ((x @ w) @ (x @ w).t() / 2.0).softmax(-1) @ x),
    ("gather_mix", lambda x, w: (x @ w).gather(1, torch.tensor([[1], [0]])).sigmoid()),
    ("cat_stack", lambda x, w: torch.cat([x, (x @ w @ w.t())], 0).sum(0)),
    (
        "where_clamp",
        lambda x, w: torch.where(x > 0, x, (x @ w).sum(1, keepdim=True)).clamp(-1.0, 1.0),
    ),
    ("norms", lambda x, w: x.norm(dim=1) * (x @ w).norm() + x.std()),
    ("cumsum_prod", lambda x, w: (x.cumsum(1) * w.t()[:1, :3]).prod(1)),
    ("indexing", lambda x, w: x[:, [2, 0]] * w[0] + x[x > 0.3].sum()),
]


@pytest.mark.parametrize("name,fn", COMPOSITES, ids=[c[0] for c in COMPOSITES])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_composite_gradcheck(name, fn, layout):
    rng = np.random.default_rng(11)
    x = f64((2, 3), rng, layout=layout)
    w = f64((3, 2), rng, layout="sliced" if layout == "contiguous" else "contiguous")
    gradcheck(fn, x, w)


@pytest.mark.parametrize("name,fn", COMPOSITES[:5], ids=[c[0] for c in COMPOSITES[:5]])
def test_composite_gradgradcheck(name, fn):
    rng = np.random.default_rng(12)
    gradgradcheck(fn, f64((2, 3), rng), f64((3, 2), rng))


BINARY_EXPR = [
    lambda a, b: a * b + a / (b.abs() + 1),
    lambda a, b: torch.maximum(a, b) - torch.minimum(a, b) * 0.5,
    lambda a, b: (a - b).pow(2).sqrt() if False else ((a - b) ** 2 + 1).sqrt(),
    lambda a, b: torch.atan2(a, b.abs() + 0.5) * a.sigmoid(),
    lambda a, b: torch.where(a > b, a * 2, b * 3),
]


@given(
    shapes_=broadcastable_pair(max_dims=3, max_side=3, min_side=1),
    seed=seeds,
    i=st.integers(0, len(BINARY_EXPR) - 1),
)
def test_broadcast_gradcheck_random(shapes_, seed, i):
    rng = np.random.default_rng(seed)
    sa, sb = shapes_
    a = f64(sa, rng)
    b = f64(sb, rng)
    gradcheck(BINARY_EXPR[i], a, b)
