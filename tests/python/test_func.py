"""rtorch.func transforms against explicit loops, hand-written derivatives and finite
differences."""

import numpy as np
import pytest

import rtorch as torch
from rtorch import func as F
from rtorch import nn

RNG = np.random.default_rng(3)


def r(*shape):
    return torch.tensor(RNG.standard_normal(shape), dtype=torch.float64)


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of scalar f at x."""
    flat = x.detach().reshape(-1).clone()
    g = []
    for i in range(flat.numel()):
        up, down = flat.clone(), flat.clone()
        up[i] += eps
        down[i] -= eps
        g.append((float(f(up.reshape(x.shape))) - float(f(down.reshape(x.shape)))) / (2 * eps))
    return np.array(g).reshape(tuple(x.shape))


def close(a, b, tol=1e-7):
    np.testing.assert_allclose(np.asarray(a.detach().numpy() if hasattr(a, "detach") else a), np.asarray(b), rtol=tol, atol=tol)


def test_grad_and_value_argnums_aux():
    def f(x, y):
        return (x.sin() * y).sum(), {"x2": x * 2}

    x, y = r(3), r(3)
    (gx, gy), (value, aux) = F.grad_and_value(f, argnums=(0, 1), has_aux=True)(x, y)
    close(gx, np.cos(x.numpy()) * y.numpy())
    close(gy, np.sin(x.numpy()))
    close(value, (np.sin(x.numpy()) * y.numpy()).sum())
    close(aux["x2"], 2 * x.numpy())
    assert gx.grad_fn is None and not x.requires_grad
    g = F.grad(lambda x: (x**3).sum())(x)
    close(g, 3 * x.numpy() ** 2)
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor"):
        F.grad(lambda x: x * 2)(x)


def test_grad_of_pytree_and_nested_grad():
    params = {"w": r(2, 3), "b": r(2)}
    x = r(3)

    def loss(p, x):
        return ((p["w"] @ x + p["b"]).tanh() ** 2).sum()

    g = F.grad(loss)(params, x)
    for k in params:
        close(g[k], fd_grad(lambda v, k=k: loss({**params, k: v}, x), params[k]), 1e-6)
    # Second derivative of x ↦ sin(x) summed: -sin.
    d2 = F.grad(lambda x: F.grad(lambda y: y.sin().sum())(x).sum())(x)
    close(d2, -np.sin(x.numpy()))


def test_vjp_jvp():
    A = r(4, 3)

    def f(x):
        return (A @ x).exp()

    x, v, u = r(3), r(4), r(3)
    out, vjp_fn = F.vjp(f, x)
    (g,) = vjp_fn(v)
    J = np.exp(A.numpy() @ x.numpy())[:, None] * A.numpy()
    close(out, np.exp(A.numpy() @ x.numpy()))
    close(g, J.T @ v.numpy())
    out2, jv = F.jvp(f, (x,), (u,))
    close(jv, J @ u.numpy())
    close(out2, out.numpy())


def test_jacrev_jacfwd_hessian():
    def f(x, y):
        return torch.stack([x[0] * y.sum(), (x**2).sum(), x[1].sin()])

    x, y = r(2), r(3)
    jr = F.jacrev(f, argnums=(0, 1))(x, y)
    jf = F.jacfwd(f, argnums=(0, 1))(x, y)
    num_x = np.stack([fd_grad(lambda v, i=i: f(v, y)[i], x) for i in range(3)])
    num_y = np.stack([fd_grad(lambda v, i=i: f(x, v)[i], y) for i in range(3)])
    for j in (jr, jf):
        close(j[0], num_x, 1e-6)
        close(j[1], num_y, 1e-6)
    assert jr[0].shape == (3, 2) and jf[1].shape == (3, 3)

    def g(x):
        return (x[0] ** 2) * x[1] + x.sin().sum()

    h = F.hessian(g)(x)
    a, b = x.numpy()
    ref = np.array([[2 * b - np.sin(a), 2 * a], [2 * a, -np.sin(b)]])
    close(h, ref, 1e-10)


def test_functional_call_substitutes_and_restores():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = r(5, 3).float()
    new = {k: torch.zeros_like(v) for k, v in model.named_parameters()}
    new["2.bias"] = torch.ones(2)
    out = F.functional_call(model, new, (x,))
    close(out, np.ones((5, 2)))
    assert not bool((model[2].bias == 1).all())  # the module is unchanged
    with pytest.raises(RuntimeError, match="Unexpected key\\(s\\): 'nope'.*\n.*Missing key\\(s\\)"):
        F.functional_call(model, {"nope": torch.ones(1)}, (x,), strict=True)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    m = Tied()
    w = torch.eye(2) * 3
    out = F.functional_call(m, {"a.weight": w}, (torch.ones(1, 2),))
    close(out, np.full((1, 2), 9.0))
    out_untied = F.functional_call(m, {"a.weight": w}, (torch.ones(1, 2),), tie_weights=False)
    close(out_untied, (torch.ones(1, 2) @ w.T @ m.b.weight.T).detach().numpy(), 1e-6)


def test_vmap_matches_loop_with_dims_and_nesting():
    x, y = r(4, 3), r(3, 5)
    out = F.vmap(lambda a, b: (a @ b).relu().sum(0), in_dims=(0, None))(x, y)
    close(out, np.stack([np.maximum(x.numpy()[i] @ y.numpy(), 0).sum(0) for i in range(4)]))
    out = F.vmap(lambda a: a * 2, in_dims=1, out_dims=1)(r(2, 6))
    assert out.shape == (2, 6)
    z = r(3, 4, 5)
    nested = F.vmap(F.vmap(lambda v: v.norm()))(z)
    close(nested, np.linalg.norm(z.numpy(), axis=-1))
    both = F.vmap(lambda a: (a.sum(), a.max()), out_dims=(0, None))
    with pytest.raises(ValueError, match="out_dims=None"):
        both(z)
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        F.vmap(lambda a, b: a + b)(r(2, 3), r(3, 3))
    with pytest.raises(ValueError, match="At least one of the inputs must be batched"):
        F.vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(RuntimeError, match="randomness"):
        F.vmap(lambda a: a + torch.randn(3))(x)
    same = F.vmap(lambda a: a * 0 + torch.randn(3), randomness="same")(x)
    close(same[0], same[1].numpy())
    assert torch.vmap is F.vmap


def test_per_sample_grads_vs_loop():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    xs, ys = r(6, 3), r(6, 2)

    def loss(p, x, y):
        return ((F.functional_call(model, p, (x,)) - y) ** 2).mean()

    per = F.vmap(F.grad(loss), in_dims=(None, 0, 0))(params, xs, ys)
    for i in range(6):
        model.zero_grad()
        ((model(xs[i]) - ys[i]) ** 2).mean().backward()
        close(per["weight"][i], model.weight.grad.numpy(), 1e-10)
        close(per["bias"][i], model.bias.grad.numpy(), 1e-10)


def test_per_sample_grads_example():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "per_sample_grads.py"
    spec = importlib.util.spec_from_file_location("per_sample_grads", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--batch", "8"]) < 1e-5


def test_linearize_and_stack_module_state():
    A = r(3, 3)
    x, u = r(3), r(3)
    out, jvp_fn = F.linearize(lambda v: (A @ v).sin(), x)
    close(out, np.sin(A.numpy() @ x.numpy()))
    close(jvp_fn(u), np.cos(A.numpy() @ x.numpy()) * (A.numpy() @ u.numpy()))
    torch.manual_seed(0)
    models = [nn.Linear(3, 2).double() for _ in range(4)]
    params, buffers = F.stack_module_state(models)
    assert params["weight"].shape == (4, 2, 3) and params["weight"].requires_grad and buffers == {}
    xs = r(5, 3)
    ens = F.vmap(lambda p, x: F.functional_call(models[0], p, (x,)), in_dims=(0, None))(params, xs)
    for i, m in enumerate(models):
        close(ens[i], m(xs).detach().numpy(), 1e-12)


def test_side_by_side_with_pytorch():
    tf = pytest.importorskip("torch")
    a = RNG.standard_normal((3, 3))
    x = RNG.standard_normal(3)

    def f(m):
        return lambda v: ((m @ v).tanh() ** 2).sum() * v[0]

    ours_m, theirs_m = torch.tensor(a), tf.tensor(a)
    pairs = [
        (F.grad(f(ours_m))(torch.tensor(x)), tf.func.grad(f(theirs_m))(tf.tensor(x))),
        (F.hessian(f(ours_m))(torch.tensor(x)), tf.func.hessian(f(theirs_m))(tf.tensor(x))),
        (F.jacrev(lambda v: ours_m @ v.sin())(torch.tensor(x)), tf.func.jacrev(lambda v: theirs_m @ v.sin())(tf.tensor(x))),
        (F.vmap(lambda r: r.softmax(0) @ ours_m)(ours_m), tf.func.vmap(lambda r: r.softmax(0) @ theirs_m)(theirs_m)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_functionalize_and_batch_norm_replacement():
    def f(x):
        y = x.clone()
        y.add_(1)
        return y * 2

    x = r(3)
    close(F.functionalize(f)(x), (x.numpy() + 1) * 2)
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    F.replace_all_batch_norm_modules_(model)
    bn = model[1]
    assert bn.running_mean is None and bn.running_var is None and not bn.track_running_stats
    bn.eval()
    xs = r(4, 3).float()
    h = model[0](xs)
    ref = (h - h.mean(0)) / (h.var(0, unbiased=False) + 1e-5).sqrt()
    close(model(xs), ref.detach().numpy(), 1e-5)
