"""vmap's batching rules: every ruled op runs `func` once on the whole batch and equals an
explicit per-example loop; everything else falls back to that loop."""

import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch.func import _batched_dispatch
from rtorch.func._batched import BatchedTensor, _NoRule

B = 4


def _r(*shape, dtype=torch.float64):
    return torch.randn(*shape, dtype=dtype)


def _leaves(x):
    if isinstance(x, (tuple, list)):
        return [v for item in x for v in _leaves(item)]
    return [x]


def _loop(f, args, in_dims, out_dims):
    """Reference: call f per example and stack along out_dims (independent of vmap)."""
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    outs = [f(*[a if d is None else a.select(d, i) for a, d in zip(args, dims)]) for i in range(size)]
    first = outs[0]
    if isinstance(out_dims, tuple) and not isinstance(first, tuple):
        out_dims = out_dims[0]
    if isinstance(first, tuple):
        ods = out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(first)
        return tuple(torch.stack([o[k] for o in outs], od) for k, od in enumerate(ods))
    return torch.stack(outs, out_dims)


def check(f, *args, in_dims=0, out_dims=0, batched=True):
    calls = []

    def counted(*a):
        calls.append(1)
        return f(*a)

    got = torch.vmap(counted, in_dims=in_dims, out_dims=out_dims)(*args)
    want = _loop(f, args, in_dims, out_dims)
    for g, w in zip(_leaves(got), _leaves(want)):
        assert isinstance(g, torch.Tensor)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        if g.dtype.is_floating_point:
            assert torch.allclose(g, w, atol=1e-10, rtol=1e-9, equal_nan=True)
        else:
            assert torch.equal(g, w)
    size = len(calls)
    assert size == (1 if batched else _batch(args, in_dims) + 1), f"func called {size} times"
    return got


def _batch(args, in_dims):
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    return next(a.shape[d] for a, d in zip(args, dims) if d is not None)


def test_elementwise_unary_methods_and_functions():
    x = _r(B, 3, 2)
    pos = x.abs() + 0.1
    for f in (lambda a: a.exp(), lambda a: torch.log(a.abs() + 1), torch.sin, torch.cos, torch.tanh,
              torch.sigmoid, torch.relu, lambda a: a.abs(), lambda a: -a, lambda a: abs(a),
              lambda a: a.square(), lambda a: a.pow(3), lambda a: a.clamp(-0.5, 0.5),
              lambda a: torch.clamp(a, min=0.1), lambda a: a.float(), lambda a: a.to(torch.float32),
              lambda a: (a > 0).long(), lambda a: a.round(decimals=1), lambda a: a.sign()):
        check(f, x)
    check(torch.sqrt, pos)
    check(lambda a: a.rsqrt(), pos)


def test_binary_broadcasting_against_plain_scalars_and_batched():
    x, y = _r(B, 3), _r(B, 3)
    hi, lo, s0 = _r(5, 3), _r(1), _r(())
    for f in (lambda a: a + hi, lambda a: hi - a, lambda a: a * lo, lambda a: lo / (a.abs() + 1),
              lambda a: a + 2, lambda a: 2 - a, lambda a: 2 ** a, lambda a: a // 0.3, lambda a: a % 0.7,
              lambda a: a * s0, lambda a: a < hi, lambda a: a >= 0.1, lambda a: a == a,
              lambda a: torch.add(hi, a, alpha=2), lambda a: torch.maximum(a, hi),
              lambda a: torch.where(a > 0, a, hi), lambda a: torch.where(hi > 0, a, 0.0),
              lambda a: a.clamp(min=hi[0], max=hi[1].abs() + 1), lambda a: a.masked_fill(hi > 0, 1.0)):
        check(f, x)
    check(lambda a, b: a * b + a / (b.abs() + 1) - (a > b).double(), x, y)
    check(lambda a, b: a[:, None] * b, x, y)  # two batched tensors of different logical rank
    check(lambda a, b: a + b, x, y, in_dims=(0, None))


def test_zero_dim_batched_dtype_promotion_matches_loop():
    s = torch.randn(B, dtype=torch.float64)  # logically 0-d per example
    f32 = torch.randn(3)
    check(lambda a: a + f32, s, batched=False)  # dimensioned float32 wins: loop decides
    check(lambda a: a * torch.tensor(2.0), s.float())
    check(lambda a, b: a * b, s, s + 1)


def test_reductions():
    x = _r(B, 3, 5)
    for f in (lambda a: a.sum(), lambda a: a.sum(1), lambda a: a.sum((0, -1), keepdim=True),
              lambda a: torch.sum(a, dim=-1), lambda a: a.mean(0), lambda a: a.mean(),
              lambda a: a.prod(1), lambda a: a.amax(), lambda a: a.amin((0, 1)),
              lambda a: a.max(), lambda a: a.min(), lambda a: a.max(1), lambda a: a.min(-1, keepdim=True),
              lambda a: a.argmax(), lambda a: a.argmin(1), lambda a: a.argmax(keepdim=True),
              lambda a: a.norm(), lambda a: a.norm(dim=1), lambda a: a.norm(1, dim=(0, 1)),
              lambda a: a.var(), lambda a: a.std(1, correction=0), lambda a: a.var(dim=0, keepdim=True),
              lambda a: a.logsumexp(1), lambda a: (a > 0).all(), lambda a: (a > 0).any(1),
              lambda a: a.softmax(-1), lambda a: torch.log_softmax(a, 0), lambda a: a.cumsum(1),
              lambda a: a.sort(-1)[0], lambda a: a.topk(2, dim=0).indices,
              lambda a: a.sum(dim=None, keepdim=True)):
        out = check(f, x)
        assert out is not None
    check(lambda a: a.max(keepdim=True), x, batched=False)  # no such overload: the loop decides


def test_matmul_family_every_rank_combination():
    shapes = [(3,), (2, 3), (4, 2, 3)]
    for sa in shapes:
        for sb in [(3,), (3, 5), (4, 3, 5)]:
            a, b = _r(B, *sa), _r(B, *sb)
            check(lambda u, v: u @ v, a, b)
            check(lambda u, b=b: u @ b[0], a)
            check(lambda v, a=a: torch.matmul(a[0], v), b)
            check(lambda u, v: u.matmul(v), a, b[0], in_dims=(0, None))
    m, v, t = _r(B, 2, 3), _r(B, 3), _r(B, 4, 3, 2)
    k = _r(3, 2)
    check(lambda u: u.mm(k), m)
    check(lambda u, w: torch.bmm(u, w), t.transpose(-1, -2), t)
    check(lambda u, w: u.mv(w), m, v)
    check(lambda u, w: torch.dot(u, w), v, v + 1)
    check(lambda u, w: torch.outer(u, w), v, v)
    check(lambda u, w: torch.einsum("ij,j->i", u, w), m, v)
    e = _r(5, 3)
    check(lambda u: torch.einsum("ij,kj", u, e), m)


def test_views_and_indexing():
    x = _r(B, 2, 3, 4)
    for f in (lambda a: a.reshape(6, 4), lambda a: a.view(-1), lambda a: a.flatten(1),
              lambda a: a.unsqueeze(0), lambda a: a.unsqueeze(-1), lambda a: a[:, :1].squeeze(),
              lambda a: a[:1].squeeze(0), lambda a: a.transpose(0, 2), lambda a: a[0].t(), lambda a: a.mT,
              lambda a: a.T, lambda a: a.permute(2, 0, 1), lambda a: a.movedim(0, -1),
              lambda a: a[:, :1].expand(5, 2, 3, 4), lambda a: a.narrow(2, 1, 2), lambda a: a.select(1, -1),
              lambda a: a[1], lambda a: a[..., 0], lambda a: a[None, :, 1:3, ::2], lambda a: a[-1, None],
              lambda a: a.chunk(2, -1), lambda a: a.split(1, 0), lambda a: a.unbind(1),
              lambda a: torch.cat([a, a], 1), lambda a: torch.cat([a[0], torch.ones(5, 4)], 0),
              lambda a: torch.stack([a, torch.zeros(2, 3, 4)], -1), lambda a: a.flip(0),
              lambda a: a.repeat(2, 1, 1, 1), lambda a: a.diagonal(0, 1, 2), lambda a: a.tril()):
        check(f, x)


def test_in_dims_out_dims_and_unbatched_outputs():
    x, y, w = _r(3, B, 2), _r(B, 2), _r(2, 2)
    check(lambda a, b: a * b, x, y, in_dims=(1, 0), out_dims=1)
    check(lambda a, b: a @ b, y, w, in_dims=(0, None), out_dims=(1,))
    got = check(lambda a: (a.sum(), a * 2), y, out_dims=(0, 1))
    assert got[1].shape == (2, B)
    # A plain (unbatched) output is expanded to the batch, as PyTorch does.
    out = torch.vmap(lambda a: (a + 1, w))(y)
    assert out[1].shape == (B, 2, 2) and all(torch.equal(out[1][i], w) for i in range(B))
    assert torch.vmap(lambda a: (a + 1, w), out_dims=(0, None))(y)[1] is w


def test_chunk_size_runs_batched_chunks():
    x = _r(10, 3)
    calls = []

    def f(a):
        calls.append(1)
        return a.softmax(0), a.sum()

    got = torch.vmap(f, chunk_size=3, out_dims=(1, 0))(x)
    assert len(calls) == 4
    assert torch.allclose(got[0], x.softmax(1).t()) and torch.allclose(got[1], x.sum(1))
    with pytest.raises(ValueError, match="chunk_size"):
        torch.vmap(f, chunk_size=0)


def test_nested_vmap_matches_loop():
    z = _r(3, B, 5)
    got = torch.vmap(torch.vmap(lambda v: v.softmax(0) * v.norm()))(z)
    assert torch.allclose(got, torch.stack([torch.stack([v.softmax(0) * v.norm() for v in row]) for row in z]))
    xs, ys = _r(B, 3), _r(5, 3)
    inner = torch.vmap(lambda x: torch.vmap(lambda y: (x * y).sum())(ys))(xs)
    assert torch.allclose(inner, xs @ ys.t())


def test_nn_functional_and_modules():
    x, w, b = _r(B, 5, 3), _r(4, 3), _r(4)
    t = torch.randint(0, 4, (B, 5))
    for f in (lambda a: F.linear(a, w, b), lambda a: F.relu(a), lambda a: F.gelu(a),
              lambda a: F.gelu(a, approximate="tanh"), lambda a: F.silu(a), lambda a: F.leaky_relu(a, 0.2),
              lambda a: F.elu(a), lambda a: F.softplus(a), lambda a: F.tanh(a), lambda a: F.sigmoid(a),
              lambda a: F.softmax(a, -1), lambda a: F.log_softmax(a, 0), lambda a: F.dropout(a, 0.5, False),
              lambda a: F.layer_norm(a, (3,), torch.ones(3, dtype=torch.float64), b[:3]),
              lambda a: F.mse_loss(a, torch.ones(5, 3, dtype=torch.float64)),
              lambda a: F.l1_loss(a, torch.zeros(5, 3, dtype=torch.float64), reduction="sum"),
              lambda a: F.normalize(a, dim=-1)):
        check(f, x)
    for red in ("mean", "sum", "none"):
        check(lambda a, c, red=red: F.cross_entropy(F.linear(a, w), c, reduction=red), x, t)
        check(lambda a, c, red=red: F.cross_entropy(a, c, reduction=red, ignore_index=1), x[:, 0], t[:, 0] % 3)
    # Ensembling: batched weights and biases.
    check(lambda ww, bb: F.linear(x[0], ww, bb), _r(B, 4, 3), _r(B, 4))
    check(lambda ww, bb: F.layer_norm(x[0], (3,), ww, bb), _r(B, 3), _r(B, 3))
    check(lambda ww: F.layer_norm(x[0], (3,), ww), _r(B, 3))
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.LayerNorm(8),
                                torch.nn.Linear(8, 2)).double()
    check(model, x)
    check(model, x, in_dims=1)


def test_model_ensemble_with_functional_call_runs_batched():
    models = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.LayerNorm(4),
                                  torch.nn.Linear(4, 2)).double() for _ in range(B)]
    params, _ = torch.func.stack_module_state(models)
    xs, calls = _r(7, 3), []

    def f(p, a):
        calls.append(1)
        return torch.func.functional_call(models[0], p, (a,))

    out = torch.vmap(f, in_dims=(0, None))(params, xs)
    assert len(calls) == 1
    assert torch.allclose(out, torch.stack([m(xs) for m in models]))
    out.square().sum().backward()
    want = torch.autograd.grad(sum(m(xs).square().sum() for m in models), models[1][0].weight)[0]
    assert torch.allclose(params["0.weight"].grad[1], want)


def test_gradients_flow_through_the_batched_run():
    w = _r(3, 2).requires_grad_()
    x = _r(B, 3)
    torch.vmap(lambda a: (a @ w).tanh().sum())(x).sum().backward()
    got, w.grad = w.grad, None
    torch.stack([(x[i] @ w).tanh().sum() for i in range(B)]).sum().backward()
    assert torch.allclose(got, w.grad)


def test_fallbacks_give_loop_results():
    x = _r(B, 3)
    check(lambda a: a * a.sum().item(), x, batched=False)
    check(lambda a: a if a.sum() > 0 else -a, x, batched=False)
    check(lambda a: a[torch.tensor([0, 2])], x, batched=False)
    check(lambda a: a[a > 0].sum(), x, batched=False)
    check(lambda a: a.clone().add_(1), x, batched=False)
    check(lambda i: F.embedding(i, x), torch.randint(0, B, (B, 2)), batched=False)
    check(lambda a: torch.tensor(a.tolist()), x, batched=False)
    check(lambda a: F.conv1d(a[None, None], torch.ones(1, 1, 2, dtype=torch.float64)), x, batched=False)
    # In-place on a batched input: falls back, and mutates exactly as a loop does.
    y = x.clone()
    ref = x.clone()
    for i in range(B):
        ref[i].mul_(2)
    torch.vmap(lambda a: a.mul_(2))(y)
    assert torch.equal(y, ref)


def test_captured_state_is_mutated_as_in_a_loop():
    # The batched run refuses in-place ops on plain tensors before mutating them, so a
    # function that then falls back has exactly the loop's side effects.
    x = _r(B, 3)
    count, cache = torch.zeros(()), torch.zeros(3, dtype=torch.float64)

    def f(a):
        count.add_(1)
        cache[0] = 1.0
        count.__iadd__(1)
        return a * a.sum().item()

    check(f, x, batched=False)
    assert count.item() == 2 * 2 * B  # vmap's loop and the reference loop, twice each
    assert torch.equal(cache, torch.tensor([1.0, 0, 0], dtype=torch.float64))


def test_random_ops_fall_back_with_loop_identical_draws():
    x = _r(B, 3)
    torch.manual_seed(5)
    got = torch.vmap(lambda a: a + torch.randn(3, dtype=torch.float64), randomness="different")(x)
    torch.manual_seed(5)
    want = torch.stack([x[i] + torch.randn(3, dtype=torch.float64) for i in range(B)])
    assert torch.equal(got, want)
    torch.manual_seed(5)
    same = torch.vmap(lambda a: F.dropout(a, 0.5, True), randomness="same")(torch.ones(B, 6))
    assert all(torch.equal(same[0], same[i]) for i in range(B))
    with pytest.raises(RuntimeError, match="randomness"):
        torch.vmap(lambda a: a + torch.rand(3))(x)
    # A private generator (or a CUDA one) leaves the default CPU state alone: random
    # functions themselves refuse to run batched.
    g, calls = torch.Generator(), []

    def noisy(a):
        calls.append(1)
        return a + torch.randn(3, generator=g, dtype=torch.float64)

    g.manual_seed(3)
    got = torch.vmap(noisy, randomness="different")(x)
    g.manual_seed(3)
    draws = [torch.randn(3, generator=g, dtype=torch.float64) for _ in range(B)]
    assert torch.equal(got, x + torch.stack(draws)) and len(calls) == B + 1


def test_grad_inside_vmap_still_works():
    w, xs = _r(3), _r(B, 3)
    per = torch.vmap(torch.func.grad(lambda p, a: (p * a).sin().sum()), in_dims=(None, 0))(w, xs)
    assert torch.allclose(per, torch.stack([(w * xs[i]).cos() * xs[i] for i in range(B)]))


def test_jacrev_inside_vmap_falls_back_to_the_loop():
    xs = _r(B, 3)
    per = torch.vmap(torch.func.jacrev(lambda a: a.sin() * a.sum()))(xs)
    want = torch.stack([torch.func.jacrev(lambda a: a.sin() * a.sum())(xs[i]) for i in range(B)])
    assert per.shape == (B, 3, 3) and torch.allclose(per, want)


def test_user_errors_surface_unchanged():
    with pytest.raises(RuntimeError) as batched_err:
        torch.vmap(lambda a: a @ torch.ones(5))(torch.ones(B, 3))
    with pytest.raises(RuntimeError) as plain_err:
        torch.ones(3) @ torch.ones(5)
    assert str(batched_err.value) == str(plain_err.value)
    with pytest.raises(ValueError, match="must only return Tensors"):
        torch.vmap(lambda a: 3)(torch.ones(B))


def test_batched_tensor_is_never_converted_or_computed_on_physically():
    bt = BatchedTensor(torch.randn(B, 0))  # logical shape (0,): an empty list if iterated
    for bad in (lambda: torch.tensor(bt), lambda: torch.as_tensor(bt), lambda: torch.tensor([bt]),
                lambda: torch.Tensor(bt), lambda: torch.ones(3).add(bt), lambda: torch.ones(1).copy_(bt),
                lambda: torch._C.where(bt > 0, bt, bt), lambda: list(bt), lambda: float(bt), lambda: bool(bt),
                lambda: bt.item(), lambda: bt.numpy(), lambda: bt.add_(1), lambda: bt.__iadd__(1),
                lambda: bt.no_such_method(), lambda: torch.exp(bt, out=torch.empty(0))):
        with pytest.raises((TypeError, _NoRule)):
            bad()
    pytest.importorskip("numpy")
    import numpy as np

    with pytest.raises(_NoRule):
        np.asarray(bt)


def test_namespace_is_restored_and_normal_path_untouched():
    before = (torch.add, torch.cat, F.linear, torch.where)
    torch.vmap(lambda a: torch.cat([F.linear(a, torch.ones(2, 2)), a]))(torch.ones(B, 2))
    with pytest.raises(RuntimeError):
        torch.vmap(lambda a: a @ torch.ones(5))(torch.ones(B, 3))
    assert (torch.add, torch.cat, F.linear, torch.where) == before
    assert _batched_dispatch._active == 0 and not _batched_dispatch._saved


_SIDE_BY_SIDE = {
    "linear_relu_ln": lambda m, x, w: m.nn.functional.layer_norm(m.nn.functional.linear(x, w.T).relu(), (2,)),
    "softmax_sum": lambda m, x, w: (x @ w).softmax(-1).sum(0),
    "cat_norm": lambda m, x, w: m.cat([x[:, :2], w[:2].T], 0).norm(dim=-1),
    "index_amax": lambda m, x, w: (x[None, 1:, ::2] * 2).amax(-1),
    "max_values": lambda m, x, w: x.max(1).values, "argmax": lambda m, x, w: x.argmax(),
    "std": lambda m, x, w: x.std(), "var": lambda m, x, w: x.var(1, correction=0),
    "vec_dot": lambda m, x, w: x[0] @ x[1], "mT": lambda m, x, w: x.mT, "T": lambda m, x, w: x.T,
    "expand": lambda m, x, w: x[:1].expand(2, 3, 5), "stack": lambda m, x, w: m.stack([x, x * 2], 1),
    "einsum": lambda m, x, w: m.einsum("ij,jk->ik", x, w), "gelu": lambda m, x, w: m.nn.functional.gelu(x),
    "count": lambda m, x, w: (x > 0).sum(1), "where": lambda m, x, w: m.where(x > 0, x, 0.0),
    "floordiv": lambda m, x, w: x // 0.3, "topk": lambda m, x, w: x.topk(2).values,
    "sort": lambda m, x, w: x.sort(0).indices, "cumsum": lambda m, x, w: x.cumsum(1),
    "mse": lambda m, x, w: m.nn.functional.mse_loss(x, m.zeros(3, 5, dtype=m.float64)),
    "normalize": lambda m, x, w: m.nn.functional.normalize(x, dim=0), "cast": lambda m, x, w: x.float() * 2,
    "chunk": lambda m, x, w: x.chunk(2, 1)[1], "squeeze": lambda m, x, w: x[:, :1].squeeze(),
    "ce": lambda m, x, w: m.nn.functional.cross_entropy(x, (x.argmin(-1) + 1) % 5),
}


@pytest.mark.parametrize("name", sorted(_SIDE_BY_SIDE))
def test_side_by_side_with_pytorch(name):
    pt = pytest.importorskip("torch")
    if pt is torch:
        pytest.skip("rtorch is installed as torch")
    np = pytest.importorskip("numpy")
    x = np.random.default_rng(0).standard_normal((B, 3, 5))
    w = np.random.default_rng(1).standard_normal((5, 2))
    f = _SIDE_BY_SIDE[name]
    ours = torch.vmap(lambda a: f(torch, a, torch.tensor(w)))(torch.tensor(x))
    theirs = pt.func.vmap(lambda a: f(pt, a, pt.tensor(w)))(pt.tensor(x))
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)
