"""Optimizers against numpy transcriptions of PyTorch's documented algorithms."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rtorch as torch
import rtorch.optim as optim

DTYPES = [("float32", 2e-5, 1e-6), ("float64", 1e-10, 1e-12)]


def make_param(arr, dtype):
    return torch.tensor(arr.tolist(), dtype=getattr(torch, dtype), requires_grad=True)


def set_grad(p, g):
    p.grad = torch.tensor(g.tolist(), dtype=p.dtype)


def as_np(t):
    return np.array(t.detach().tolist(), dtype=np.float64)


def problem(seed=0, shape=(3, 4), steps=6):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(steps)]
    return p0, grads


# numpy references (PyTorch's single-tensor algorithms) ------------------------------


def ref_sgd(p, grads, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    p, buf = p.copy(), None
    for g in grads:
        g = -g if maximize else g.copy()
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p, {"momentum_buffer": buf}


def ref_adam(
    p,
    grads,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
):
    p = p.copy()
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    for step, g in enumerate(grads, 1):
        g = -g if maximize else g
        if weight_decay:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        m = m + (g - m) * (1 - b1)
        v = v * b2 + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**step, 1 - b2**step
        if amsgrad:
            vmax = np.maximum(vmax, v)
            denom = np.sqrt(vmax) / math.sqrt(bc2) + eps
        else:
            denom = np.sqrt(v) / math.sqrt(bc2) + eps
        p = p - (lr / bc1) * m / denom
    state = {"exp_avg": m, "exp_avg_sq": v}
    if amsgrad:
        state["max_exp_avg_sq"] = vmax
    return p, state


def ref_rmsprop(
    p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    maximize=False,
):  # fmt: skip
    p = p.copy()
    sq, ga, buf = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            ga = ga + (g - ga) * (1 - alpha)
            avg = np.sqrt(sq - ga * ga) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    state = {"square_avg": sq}
    if momentum > 0:
        state["momentum_buffer"] = buf
    if centered:
        state["grad_avg"] = ga
    return p, state


def ref_adagrad(
    p, grads, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    maximize=False,
):  # fmt: skip
    p = p.copy()
    s = np.full_like(p, initial_accumulator_value)
    for step, g in enumerate(grads, 1):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        clr = lr / (1 + (step - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    return p, {"sum": s}


def run(opt_cls, p0, grads, dtype, **kwargs):
    p = make_param(p0, dtype)
    opt = opt_cls([p], **kwargs)
    for g in grads:
        set_grad(p, g)
        opt.step()
    return p, opt


def check(opt_cls, ref, dtype, rtol, atol, kwargs, ref_kwargs=None, seed=0):
    p0, grads = problem(seed)
    p, opt = run(opt_cls, p0, grads, dtype, **kwargs)
    expected, ref_state = ref(p0, grads, **(ref_kwargs if ref_kwargs is not None else kwargs))
    np.testing.assert_allclose(as_np(p), expected, rtol=rtol, atol=atol)
    state = opt.state.get(p, {})
    for key, value in ref_state.items():
        if value is not None:
            np.testing.assert_allclose(as_np(state[key]), value, rtol=rtol, atol=atol)
    return p, opt


# per-optimizer configurations --------------------------------------------------------

SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True),
    dict(lr=0.1, maximize=True),
]


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("kwargs", SGD_CONFIGS)
def test_sgd_matches_reference(kwargs, dtype, rtol, atol):
    p, opt = check(optim.SGD, ref_sgd, dtype, rtol, atol, kwargs)
    if kwargs.get("momentum", 0) == 0:
        assert len(opt.state) == 0  # plain SGD keeps no state, as in PyTorch
    else:
        assert list(opt.state[p].keys()) == ["momentum_buffer"]


ADAM_CONFIGS = [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True),
    dict(lr=0.02, maximize=True),
]


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("kwargs", ADAM_CONFIGS)
def test_adam_matches_reference(kwargs, dtype, rtol, atol):
    p, opt = check(optim.Adam, ref_adam, dtype, rtol, atol, kwargs)
    state = opt.state[p]
    expected_keys = ["step", "exp_avg", "exp_avg_sq"]
    if kwargs.get("amsgrad"):
        expected_keys.append("max_exp_avg_sq")
    assert list(state.keys()) == expected_keys
    assert torch.is_tensor(state["step"]) and state["step"].dtype == torch.float32
    assert state["step"].item() == 6.0


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("kwargs", ADAM_CONFIGS + [dict(lr=0.01, weight_decay=0.5)])
def test_adamw_matches_reference(kwargs, dtype, rtol, atol):
    ref_kwargs = dict(kwargs, decoupled=True)
    ref_kwargs.setdefault("weight_decay", 1e-2)  # AdamW's default
    check(optim.AdamW, ref_adam, dtype, rtol, atol, kwargs, ref_kwargs)


def test_adamw_defaults_and_flag():
    p = make_param(np.zeros(2), "float32")
    opt = optim.AdamW([p])
    group = opt.param_groups[0]
    assert group["weight_decay"] == 1e-2 and group["decoupled_weight_decay"] is True
    assert group["lr"] == 1e-3 and group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
    assert isinstance(opt, optim.Adam)


RMSPROP_CONFIGS = [
    dict(lr=0.01),
    dict(lr=0.01, alpha=0.9, weight_decay=0.1),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01, maximize=True),
]


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("kwargs", RMSPROP_CONFIGS)
def test_rmsprop_matches_reference(kwargs, dtype, rtol, atol):
    p, opt = check(optim.RMSprop, ref_rmsprop, dtype, rtol, atol, kwargs)
    keys = ["step", "square_avg"]
    if kwargs.get("momentum", 0) > 0:
        keys.append("momentum_buffer")
    if kwargs.get("centered"):
        keys.append("grad_avg")
    assert list(opt.state[p].keys()) == keys


ADAGRAD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.1, lr_decay=0.05),
    dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
    dict(lr=0.1, eps=1e-6, maximize=True, lr_decay=0.01),
]


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("kwargs", ADAGRAD_CONFIGS)
def test_adagrad_matches_reference(kwargs, dtype, rtol, atol):
    check(optim.Adagrad, ref_adagrad, dtype, rtol, atol, kwargs)


def test_adagrad_state_is_created_eagerly():
    p = make_param(np.ones(3), "float32")
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    assert list(opt.state[p].keys()) == ["step", "sum"]
    assert opt.state[p]["step"].item() == 0.0
    np.testing.assert_allclose(as_np(opt.state[p]["sum"]), [0.25] * 3)


# property-based: random hyper-parameters ---------------------------------------------

hp = dict(deadline=None, max_examples=25)
unit = st.floats(0.0, 0.95)


@settings(**hp)
@given(
    lr=st.floats(1e-4, 0.5),
    momentum=unit,
    wd=st.floats(0, 0.2),
    nesterov=st.booleans(),
    maximize=st.booleans(),
    seed=st.integers(0, 100),
)
def test_sgd_property(lr, momentum, wd, nesterov, maximize, seed):
    nesterov = nesterov and momentum > 0
    kw = dict(lr=lr, momentum=momentum, weight_decay=wd, nesterov=nesterov, maximize=maximize)
    check(optim.SGD, ref_sgd, "float64", 1e-9, 1e-11, kw, seed=seed)


@settings(**hp)
@given(
    lr=st.floats(1e-4, 0.1),
    b1=unit,
    b2=st.floats(0.5, 0.999),
    wd=st.floats(0, 0.2),
    amsgrad=st.booleans(),
    maximize=st.booleans(),
    decoupled=st.booleans(),
    seed=st.integers(0, 100),
)
def test_adam_property(lr, b1, b2, wd, amsgrad, maximize, decoupled, seed):
    kw = dict(lr=lr, betas=(b1, b2), weight_decay=wd, amsgrad=amsgrad, maximize=maximize)
    cls = optim.AdamW if decoupled else optim.Adam
    check(cls, ref_adam, "float64", 1e-9, 1e-11, kw, dict(kw, decoupled=decoupled), seed=seed)


@settings(**hp)
@given(
    lr=st.floats(1e-4, 0.1),
    alpha=st.floats(0.5, 0.999),
    momentum=unit,
    centered=st.booleans(),
    wd=st.floats(0, 0.2),
    seed=st.integers(0, 100),
)
def test_rmsprop_property(lr, alpha, momentum, centered, wd, seed):
    kw = dict(lr=lr, alpha=alpha, momentum=momentum, centered=centered, weight_decay=wd)
    check(optim.RMSprop, ref_rmsprop, "float64", 1e-9, 1e-11, kw, seed=seed)


@settings(**hp)
@given(
    lr=st.floats(1e-4, 0.5),
    lr_decay=st.floats(0, 0.5),
    wd=st.floats(0, 0.2),
    init=st.floats(0, 1),
    seed=st.integers(0, 100),
)
def test_adagrad_property(lr, lr_decay, wd, init, seed):
    kw = dict(lr=lr, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=init)
    check(optim.Adagrad, ref_adagrad, "float64", 1e-9, 1e-11, kw, seed=seed)


# groups, state_dict, API ---------------------------------------------------------------


def test_param_groups_and_params_without_grad():
    a, b, c = (make_param(np.ones(2) * i, "float64") for i in (1, 2, 3))
    opt = optim.SGD([{"params": [a, b]}, {"params": c, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [len(g["params"]) for g in opt.param_groups] == [2, 1]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    set_grad(a, np.ones(2))
    set_grad(c, np.ones(2))
    opt.step()
    np.testing.assert_allclose(as_np(a), [0.9, 0.9])
    np.testing.assert_allclose(as_np(b), [2.0, 2.0])  # no grad: untouched, no state
    np.testing.assert_allclose(as_np(c), [2.5, 2.5])
    assert b not in opt.state


def test_state_dict_format():
    a, b = make_param(np.ones(2), "float32"), make_param(np.ones(3), "float32")
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.1}])
    set_grad(b, np.ones(3))
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert list(sd["state"].keys()) == [1]  # only b has state; ids count across groups
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.1
    assert sd["state"][1]["step"].item() == 1.0
    assert sd["state"][1]["exp_avg"] is opt.state[b]["exp_avg"]  # by reference


def clone_state_dict(sd):
    def clone(v):
        if torch.is_tensor(v):
            return v.clone()
        if isinstance(v, dict):
            return {k: clone(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clone(x) for x in v]
        return v

    return clone(sd)


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (optim.SGD, dict(lr=0.1, momentum=0.9)),
        (optim.Adam, dict(lr=0.01, amsgrad=True)),
        (optim.AdamW, dict(lr=0.01)),
        (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
        (optim.Adagrad, dict(lr=0.1, lr_decay=0.1)),
    ],
)
def test_load_state_dict_resumes_identically(cls, kwargs):
    p0, grads = problem(3)
    p1 = make_param(p0, "float64")
    opt1 = cls([p1], **kwargs)
    for g in grads[:3]:
        set_grad(p1, g)
        opt1.step()
    saved = clone_state_dict(opt1.state_dict())

    p2 = make_param(as_np(p1), "float64")
    opt2 = cls([p2], **kwargs)
    opt2.load_state_dict(saved)
    assert opt2.state_dict()["param_groups"] == opt1.state_dict()["param_groups"]
    for g in grads[3:]:
        for p, o in ((p1, opt1), (p2, opt2)):
            set_grad(p, g)
            o.step()
    np.testing.assert_allclose(as_np(p2), as_np(p1), rtol=1e-12)


def test_load_state_dict_mismatch_raises():
    a, b = make_param(np.ones(2), "float32"), make_param(np.ones(2), "float32")
    sd = optim.SGD([a, b]).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a]).load_state_dict(sd)


def test_add_param_group():
    a, b = make_param(np.ones(2), "float32"), make_param(np.ones(2), "float32")
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {make_param(np.ones(1), "float32")}})
    with pytest.raises(TypeError):
        opt.add_param_group([a])


def test_duplicate_params_in_one_group_warn():
    a = make_param(np.ones(2), "float32")
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([a, a])


def test_constructor_errors():
    a = make_param(np.ones(2), "float32")
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(a)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([1.0])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([a], lr=-1)
    with pytest.raises(ValueError, match="Invalid momentum"):
        optim.SGD([a], momentum=-0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid epsilon"):
        optim.Adam([a], eps=-1)
    with pytest.raises(ValueError, match="Invalid alpha"):
        optim.RMSprop([a], alpha=-1)
    with pytest.raises(ValueError, match="Invalid lr_decay"):
        optim.Adagrad([a], lr_decay=-1)
    with pytest.raises(NotImplementedError, match="capturable"):
        optim.Adam([a], capturable=True)
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.SGD([a], differentiable=True)
    # foreach / fused are accepted: the kernels are already fused.
    optim.Adam([a], foreach=True)
    optim.SGD([a], fused=True)


def test_defaults_match_pytorch():
    a = make_param(np.ones(2), "float32")
    assert optim.SGD([a]).defaults == dict(
        lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False,
        foreach=None, differentiable=False, fused=None,
    )  # fmt: skip
    assert optim.RMSprop([a]).defaults["lr"] == 1e-2
    assert optim.RMSprop([a]).defaults["alpha"] == 0.99
    d = optim.Adagrad([a]).defaults
    assert d["lr"] == 1e-2 and d["eps"] == 1e-10 and d["initial_accumulator_value"] == 0


def test_zero_grad():
    a = make_param(np.ones(2), "float32")
    opt = optim.SGD([a])
    set_grad(a, np.ones(2))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(as_np(a.grad), [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None


def test_closure_and_hooks():
    a = make_param(np.ones(2), "float64")
    opt = optim.SGD([a], lr=0.5)
    calls = []

    def closure():
        calls.append("closure")
        set_grad(a, np.ones(2))
        return 3.5

    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    assert opt.step(closure) == 3.5
    assert calls == ["pre", "closure", "post"]
    np.testing.assert_allclose(as_np(a), [0.5, 0.5])
    pre.remove()
    calls.clear()
    opt.step(closure)
    assert calls == ["closure", "post"]


def test_named_parameters():
    a, b = make_param(np.ones(2), "float32"), make_param(np.ones(2), "float32")
    opt = optim.Adam([("w", a), ("b", b)])
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_tensor_lr_and_repr():
    a = make_param(np.ones(2), "float64")
    opt = optim.SGD([a], lr=torch.tensor(0.5))
    set_grad(a, np.ones(2))
    opt.step()
    np.testing.assert_allclose(as_np(a), [0.5, 0.5])
    text = repr(optim.SGD([make_param(np.ones(1), "float32")], lr=0.1))
    assert text.startswith("SGD (\nParameter Group 0\n    dampening: 0\n")
    assert "    lr: 0.1\n" in text and text.endswith(")")


def test_training_loop_reduces_quadratic():
    # minimise ||p - target||^2 with hand-written gradients
    target = np.array([1.0, -2.0, 3.0])
    for cls, kw in [
        (optim.SGD, dict(lr=0.1, momentum=0.9)),
        (optim.Adam, dict(lr=0.1)),
        (optim.RMSprop, dict(lr=0.05)),
        (optim.Adagrad, dict(lr=0.5)),
    ]:
        p = make_param(np.zeros(3), "float32")
        opt = cls([p], **kw)
        for _ in range(200):
            opt.zero_grad()
            set_grad(p, 2 * (as_np(p) - target))
            opt.step()
        np.testing.assert_allclose(as_np(p), target, atol=0.05, err_msg=cls.__name__)


# against PyTorch, when installed --------------------------------------------------------


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
        ("AdamW", dict(lr=0.01)),
        ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ],
)
def test_against_pytorch(name, kwargs):
    pt = pytest.importorskip("torch")
    p0, grads = problem(7)
    ours, opt = run(getattr(optim, name), p0, grads, "float64", **kwargs)
    theirs = pt.tensor(p0, dtype=pt.float64, requires_grad=True)
    opt_pt = getattr(pt.optim, name)([theirs], **kwargs)
    for g in grads:
        theirs.grad = pt.tensor(g, dtype=pt.float64)
        opt_pt.step()
    np.testing.assert_allclose(as_np(ours), theirs.detach().numpy(), rtol=1e-10)
    sd, sd_pt = opt.state_dict(), opt_pt.state_dict()
    assert sd["param_groups"] == sd_pt["param_groups"]
    assert list(sd["state"][0].keys()) == list(sd_pt["state"][0].keys())


def test_no_warnings_on_plain_step():
    a = make_param(np.ones(2), "float32")
    opt = optim.Adam([a])
    set_grad(a, np.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
