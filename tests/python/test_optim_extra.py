"""Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, Adafactor, SparseAdam, LBFGS and swa_utils:
updates vs numpy transcriptions of the documented algorithms, side by side with PyTorch
(parameters and state_dict after several steps), checkpoint round trips and bad arguments."""

import math
from copy import deepcopy

import numpy as np
import pytest

import rtorch
import rtorch.optim as optim
from rtorch.optim import swa_utils

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 6


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return inits, grads


def _to_np(value):
    if hasattr(value, "detach"):
        return np.asarray(value.detach().cpu().tolist(), dtype=np.float64)
    return value


def _run(lib, name, kwargs, steps=STEPS, dtype="float64", optimizer=None, params=None):
    """Run ``steps`` steps with gradients g_k + 0.1 * param; returns (params, optimizer)."""
    inits, grads = _arrays()
    dt = getattr(lib, dtype)
    if params is None:
        params = [lib.tensor(a, dtype=dt).requires_grad_() for a in inits]
    if optimizer is None:
        optimizer = getattr(lib.optim, name)(params, **kwargs)
    for k in range(steps):
        for p, g in zip(params, grads[k]):
            p.grad = lib.tensor(g, dtype=dt) + 0.1 * p.detach()
        optimizer.step()
    return params, optimizer


# ------------------------------------------------------------------ numpy references


def _grad_np(k, i, theta):
    return _arrays()[1][k][i] + 0.1 * theta


def _ref_adadelta(theta, i, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    v = np.zeros_like(theta)
    u = np.zeros_like(theta)
    for k in range(STEPS):
        g = _grad_np(k, i, theta)
        g = -g if maximize else g
        g = g + weight_decay * theta
        v = rho * v + (1 - rho) * g * g
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * dx * dx
        theta = theta - lr * dx
    return theta


def _ref_adamax(theta, i, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(theta)
    u = np.zeros_like(theta)
    for k in range(STEPS):
        t = k + 1
        g = _grad_np(k, i, theta)
        g = -g if maximize else g
        g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        theta = theta - lr * m / ((1 - b1**t) * u)
    return theta


def _ref_nadam(
    theta,
    i,
    lr=2e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0,
    momentum_decay=4e-3,
    decoupled_weight_decay=False,
    maximize=False,
):
    b1, b2 = betas
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    prod = 1.0
    for k in range(STEPS):
        t = k + 1
        g = _grad_np(k, i, theta)
        g = -g if maximize else g
        if decoupled_weight_decay:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        prod *= mu
        m_hat = mu1 * m / (1 - prod * mu1) + (1 - mu) * g / (1 - prod)
        v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def _ref_radam(
    theta,
    i,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0,
    decoupled_weight_decay=False,
    maximize=False,
):
    b1, b2 = betas
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    rho_inf = 2 / (1 - b2) - 1
    for k in range(STEPS):
        t = k + 1
        g = _grad_np(k, i, theta)
        g = -g if maximize else g
        if decoupled_weight_decay:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            ell = np.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            theta = theta - lr * m_hat * r * ell
        else:
            theta = theta - lr * m_hat
    return theta


def _ref_asgd(theta, i, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
    eta, mu = lr, 1.0
    ax = np.zeros_like(theta)
    for k in range(STEPS):
        t = k + 1
        g = _grad_np(k, i, theta)
        g = -g if maximize else g
        g = g + weight_decay * theta
        theta = theta * (1 - lambd * eta) - eta * g
        ax = ax + (theta - ax) * mu if mu != 1 else theta.copy()
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)
    return theta


def _ref_rprop(theta, i, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    prev = np.zeros_like(theta)
    size = np.full_like(theta, lr)
    for k in range(STEPS):
        g = _grad_np(k, i, theta)
        g = -g if maximize else g
        s = np.sign(g * prev)
        size = np.clip(
            np.where(s > 0, size * etas[1], np.where(s < 0, size * etas[0], size)), *step_sizes
        )
        g = np.where(s < 0, 0.0, g)
        theta = theta - size * np.sign(g)
        prev = g
    return theta


def _ref_adafactor(
    theta,
    i,
    lr=1e-2,
    beta2_decay=-0.8,
    eps=(None, 1e-3),
    d=1.0,
    weight_decay=0.0,
    maximize=False,
):
    eps1 = np.finfo(np.float64).eps if eps[0] is None else eps[0]
    factored = theta.ndim > 1
    if factored:
        row = np.zeros(theta.shape[:-1] + (1,))
        col = np.zeros(theta.shape[:-2] + (1, theta.shape[-1]))
    else:
        var = np.zeros_like(theta)

    def rms(x):
        return np.sqrt(np.mean(x * x))

    for k in range(STEPS):
        t = k + 1
        g = _grad_np(k, i, theta)
        g = -g if maximize else g
        beta2 = 1 - t**beta2_decay
        rho = min(lr, 1 / math.sqrt(t))
        alpha = max(eps[1], rms(theta)) * rho
        theta = theta - lr * weight_decay * theta
        if factored:
            row = beta2 * row + (1 - beta2) * np.mean(g * g, axis=-1, keepdims=True)
            col = beta2 * col + (1 - beta2) * np.mean(g * g, axis=-2, keepdims=True)
            v = row @ col / np.mean(row, axis=-2, keepdims=True)
        else:
            var = beta2 * var + (1 - beta2) * g * g
            v = var
        u = g / np.maximum(np.sqrt(v), eps1)
        u = u / max(1.0, rms(u) / d)
        theta = theta - alpha * u
    return theta


CASES = [
    ("Adadelta", {}, _ref_adadelta),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "maximize": True}, _ref_adadelta),
    ("Adamax", {}, _ref_adamax),
    ("Adamax", {"lr": 0.1, "betas": (0.8, 0.9), "weight_decay": 0.05}, _ref_adamax),
    ("NAdam", {}, _ref_nadam),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "momentum_decay": 0.01}, _ref_nadam),
    (
        "NAdam",
        {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
        _ref_nadam,
    ),
    ("RAdam", {}, _ref_radam),
    ("RAdam", {"lr": 0.05, "betas": (0.9, 0.5), "weight_decay": 0.1}, _ref_radam),
    (
        "RAdam",
        {"lr": 0.05, "betas": (0.8, 0.6), "weight_decay": 0.1, "decoupled_weight_decay": True},
        _ref_radam,
    ),
    ("ASGD", {}, _ref_asgd),
    ("ASGD", {"lr": 0.1, "lambd": 0.1, "alpha": 0.5, "t0": 2, "weight_decay": 0.1}, _ref_asgd),
    ("Rprop", {}, _ref_rprop),
    (
        "Rprop",
        {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (0.05, 0.2), "maximize": True},
        _ref_rprop,
    ),
    ("Adafactor", {}, _ref_adafactor),
    (
        "Adafactor",
        {"lr": 0.5, "beta2_decay": -0.5, "eps": (1e-3, 1e-2), "d": 2.0, "weight_decay": 0.1},
        _ref_adafactor,
    ),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=IDS)
def test_matches_numpy_reference(name, kwargs, ref):
    params, _ = _run(rtorch, name, kwargs)
    inits, _ = _arrays()
    for i, (p, init) in enumerate(zip(params, inits)):
        np.testing.assert_allclose(_to_np(p), ref(init, i, **kwargs), rtol=1e-6, atol=1e-8)


def _assert_same_state(ours, theirs, tol):
    assert list(ours["state"]) == list(theirs["state"])
    for key in theirs["state"]:
        a, b = ours["state"][key], theirs["state"][key]
        assert list(a) == list(b), key
        for field in b:
            _assert_same_value(a[field], b[field], tol)
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for g1, g2 in zip(ours["param_groups"], theirs["param_groups"]):
        assert list(g1) == list(g2)
        for field in g2:
            _assert_same_value(g1[field], g2[field], tol)


def _assert_same_value(a, b, tol):
    if hasattr(b, "detach"):
        assert hasattr(a, "detach"), (a, b)
        assert str(a.dtype) == str(b.dtype)
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_to_np(a), _to_np(b), rtol=tol, atol=tol)
    elif isinstance(b, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_value(x, y, tol)
    elif isinstance(b, float):
        assert a == pytest.approx(b, rel=tol, abs=tol, nan_ok=True)
    else:
        assert a == b


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-9), ("float32", 2e-5)])
@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=IDS)
def test_matches_torch(real_torch, name, kwargs, ref, dtype, tol):
    ours, opt = _run(rtorch, name, kwargs, dtype=dtype)
    theirs, ref_opt = _run(real_torch, name, kwargs, dtype=dtype)
    for a, b in zip(ours, theirs):
        assert str(a.dtype) == str(b.dtype)
        np.testing.assert_allclose(_to_np(a), _to_np(b), rtol=tol, atol=tol)
    _assert_same_state(opt.state_dict(), ref_opt.state_dict(), tol)


@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=IDS)
def test_state_dict_round_trip(name, kwargs, ref):
    straight, _ = _run(rtorch, name, kwargs)
    inits, grads = _arrays()
    params = [rtorch.tensor(a, dtype=rtorch.float64).requires_grad_() for a in inits]
    first = getattr(optim, name)(params, **kwargs)
    _run(rtorch, name, kwargs, steps=3, optimizer=first, params=params)
    saved = first.state_dict()
    second = getattr(optim, name)(params, **kwargs)
    second.load_state_dict(saved)
    assert list(second.state[params[0]]) == list(first.state[params[0]])
    for k in range(3, STEPS):
        for p, g in zip(params, grads[k]):
            p.grad = rtorch.tensor(g, dtype=rtorch.float64) + 0.1 * p.detach()
        second.step()
    # scalar states (NAdam's mu_product, ASGD's eta) come back in the parameter's dtype
    for a, b in zip(params, straight):
        np.testing.assert_allclose(_to_np(a), _to_np(b), rtol=1e-6, atol=1e-9)


def test_defaults_and_group_keys():
    p = rtorch.zeros(2, requires_grad=True)
    expected = {
        "Adadelta": [
            "lr",
            "rho",
            "eps",
            "weight_decay",
            "maximize",
            "capturable",
            "foreach",
            "differentiable",
        ],
        "Adamax": [
            "lr",
            "betas",
            "eps",
            "weight_decay",
            "foreach",
            "maximize",
            "differentiable",
            "capturable",
        ],
        "NAdam": [
            "lr",
            "betas",
            "eps",
            "weight_decay",
            "momentum_decay",
            "decoupled_weight_decay",
            "maximize",
            "foreach",
            "capturable",
            "differentiable",
        ],
        "RAdam": [
            "lr",
            "betas",
            "eps",
            "weight_decay",
            "maximize",
            "foreach",
            "capturable",
            "decoupled_weight_decay",
            "differentiable",
        ],
        "ASGD": [
            "lr",
            "lambd",
            "alpha",
            "t0",
            "weight_decay",
            "foreach",
            "maximize",
            "differentiable",
            "capturable",
        ],
        "Rprop": [
            "lr",
            "etas",
            "step_sizes",
            "foreach",
            "maximize",
            "differentiable",
            "capturable",
        ],
        "Adafactor": ["lr", "beta2_decay", "eps", "d", "weight_decay", "foreach", "maximize"],
        "LBFGS": [
            "lr",
            "max_iter",
            "max_eval",
            "tolerance_grad",
            "tolerance_change",
            "history_size",
            "line_search_fn",
            "maximize",
        ],
        "SparseAdam": ["lr", "betas", "eps", "maximize"],
    }
    for name, keys in expected.items():
        group = getattr(optim, name)([p]).state_dict()["param_groups"][0]
        assert list(group) == keys + ["params"], name
    assert optim.LBFGS([p]).defaults["max_eval"] == 25
    assert optim.Adafactor([p]).defaults["eps"] == (None, 1e-3)


def test_group_keys_match_torch(real_torch):
    for name in [
        "Adadelta",
        "Adamax",
        "NAdam",
        "RAdam",
        "ASGD",
        "Rprop",
        "Adafactor",
        "LBFGS",
        "SparseAdam",
    ]:
        ours = getattr(optim, name)([rtorch.zeros(2, requires_grad=True)])
        theirs = getattr(real_torch.optim, name)([real_torch.zeros(2, requires_grad=True)])
        _assert_same_state(ours.state_dict(), theirs.state_dict(), 0)


def test_scalar_state_dtype_follows_default_dtype():
    old = rtorch.get_default_dtype()
    rtorch.set_default_dtype(rtorch.float64)
    try:
        p = rtorch.ones(2, dtype=rtorch.float32, requires_grad=True)
        p.grad = rtorch.ones(2, dtype=rtorch.float32)
        for name, keys in [("NAdam", ["step", "mu_product"]), ("ASGD", ["step", "eta", "mu"])]:
            opt = getattr(optim, name)([p])
            opt.step()
            for key in keys:
                assert opt.state[p][key].dtype == rtorch.float64
        assert opt.state[p]["ax"].dtype == rtorch.float32
    finally:
        rtorch.set_default_dtype(old)


def test_closure_is_called_and_loss_returned():
    p = rtorch.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.NAdam([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == pytest.approx(5.0)
    assert float((p * p).sum()) < 5.0


def test_param_without_grad_is_skipped():
    a = rtorch.ones(2, requires_grad=True)
    b = rtorch.ones(2, requires_grad=True)
    a.grad = rtorch.ones(2)
    opt = optim.Adamax([a, b])
    opt.step()
    assert b in opt.state and not opt.state[b] or b not in opt.state
    np.testing.assert_array_equal(_to_np(b), [1.0, 1.0])


BAD = [
    ("Adadelta", {"lr": -1}, "Invalid learning rate: -1"),
    ("Adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
    ("Adadelta", {"eps": -1}, "Invalid epsilon value: -1"),
    ("Adadelta", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("Adamax", {"betas": (1.0, 0.9)}, "Invalid beta parameter at index 0: 1.0"),
    ("Adamax", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", {"momentum_decay": -1}, "Invalid momentum_decay value: -1"),
    ("NAdam", {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    ("RAdam", {"eps": -1}, "Invalid epsilon value: -1"),
    ("RAdam", {"weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("ASGD", {"lambd": -1}, "Invalid lambd value: -1"),
    ("ASGD", {"alpha": -1}, "Invalid alpha value: -1"),
    ("Rprop", {"etas": (1.5, 1.2)}, "Invalid eta values: 1.5, 1.2"),
    ("Rprop", {"etas": (0.5, 0.9)}, "Invalid eta values: 0.5, 0.9"),
    ("Adafactor", {"lr": -1}, "Learning rate should be >= 0 but is: -1"),
    ("Adafactor", {"beta2_decay": 0.5}, "beta2_decay should be <= 0 but is: 0.5"),
    ("Adafactor", {"eps": (-1, 1e-3)}, "epsilon1 should be >= 0 but is: -1"),
    ("Adafactor", {"eps": (None, -1)}, "epsilon2 should be >= 0 but is: -1"),
    ("Adafactor", {"d": 0.5}, "Clipping threshold d should be >= 1 but is: 0.5"),
    ("Adafactor", {"weight_decay": -1}, "weight_decay should be >= 0 but is: -1"),
    ("LBFGS", {"lr": -1}, "Invalid learning rate: -1"),
    ("SparseAdam", {"lr": -1}, "Invalid learning rate: -1"),
    ("SparseAdam", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
]


@pytest.mark.parametrize("name,kwargs,message", BAD)
def test_bad_arguments(name, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        getattr(optim, name)([rtorch.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name,kwargs,message", BAD)
def test_bad_arguments_match_torch(real_torch, name, kwargs, message):
    with pytest.raises(ValueError) as caught:
        getattr(real_torch.optim, name)([real_torch.zeros(2, requires_grad=True)], **kwargs)
    assert str(caught.value) == message


def test_tensor_lr_must_be_one_element():
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.RAdam([rtorch.zeros(2, requires_grad=True)], lr=rtorch.tensor([0.1, 0.2]))


def test_unsupported_flags_raise():
    p = rtorch.zeros(2, requires_grad=True)
    with pytest.raises(NotImplementedError, match="capturable"):
        optim.Adadelta([p], capturable=True)
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.NAdam([p], differentiable=True)
    # foreach only selects an implementation strategy: accepted and stored
    assert optim.Rprop([p], foreach=True).param_groups[0]["foreach"] is True


def test_adafactor_rejects_complex():
    if not hasattr(rtorch, "complex64"):
        pytest.skip("rtorch has no complex dtypes")
    p = rtorch.zeros(2, dtype=rtorch.complex64, requires_grad=True)
    p.grad = rtorch.ones(2, dtype=rtorch.complex64)
    with pytest.raises(RuntimeError, match="Adafactor does not support complex parameters"):
        optim.Adafactor([p]).step()


def test_adafactor_state_layout():
    params = [rtorch.zeros(s, requires_grad=True) for s in SHAPES]
    opt = optim.Adafactor(params)
    for p in params:
        p.grad = rtorch.ones(p.shape)
    opt.step()
    assert tuple(opt.state[params[0]]["row_var"].shape) == (3, 1)
    assert tuple(opt.state[params[0]]["col_var"].shape) == (1, 4)
    assert list(opt.state[params[1]]) == ["step", "variance"]
    assert tuple(opt.state[params[2]]["row_var"].shape) == (2, 3, 1)
    assert tuple(opt.state[params[2]]["col_var"].shape) == (2, 1, 2)


# ---------------------------------------------------------------------- SparseAdam


def test_sparse_adam_constructs_and_rejects_dense_grads():
    p = rtorch.zeros(3, requires_grad=True)
    opt = optim.SparseAdam([{"params": [p]}, {"params": [rtorch.zeros(2, requires_grad=True)]}])
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    opt.step()  # no gradients: nothing to do
    opt.load_state_dict(opt.state_dict())
    p.grad = rtorch.ones(3)
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        opt.step()


def test_sparse_adam_error_matches_torch(real_torch):
    p = real_torch.zeros(3, requires_grad=True)
    p.grad = real_torch.ones(3)
    with pytest.raises(RuntimeError) as caught:
        real_torch.optim.SparseAdam([p]).step()
    q = rtorch.zeros(3, requires_grad=True)
    q.grad = rtorch.ones(3)
    with pytest.raises(RuntimeError) as ours:
        optim.SparseAdam([q]).step()
    assert str(ours.value) == str(caught.value)


# --------------------------------------------------------------------------- LBFGS


def _rosenbrock_run(lib, line_search_fn, steps=3, dtype="float64", **kwargs):
    x = lib.tensor([-1.5, 2.0], dtype=getattr(lib, dtype), requires_grad=True)
    opt = lib.optim.LBFGS([x], line_search_fn=line_search_fn, **kwargs)
    losses = []

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return x, opt, losses


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_rosenbrock(line_search_fn):
    kwargs = {"lr": 0.1} if line_search_fn is None else {}
    steps = 40 if line_search_fn is None else 3
    x, opt, losses = _rosenbrock_run(rtorch, line_search_fn, steps=steps, **kwargs)
    np.testing.assert_allclose(_to_np(x), [1.0, 1.0], atol=1e-4)
    assert losses[0] == pytest.approx(2.5**2 + 100 * 0.25**2)
    state = opt.state[x]
    assert state["n_iter"] > 0 and state["func_evals"] >= state["n_iter"]
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) <= 100


@pytest.mark.parametrize(
    "line_search_fn,kwargs",
    [
        (None, {"lr": 0.1}),
        (None, {"lr": 0.2, "history_size": 3, "max_iter": 7}),
        ("strong_wolfe", {}),
        ("strong_wolfe", {"history_size": 2, "max_iter": 5, "max_eval": 9}),
        ("strong_wolfe", {"lr": 0.5, "tolerance_change": 1e-5}),
    ],
)
def test_lbfgs_matches_torch(real_torch, line_search_fn, kwargs):
    ours, opt, our_losses = _rosenbrock_run(rtorch, line_search_fn, steps=4, **kwargs)
    theirs, ref, ref_losses = _rosenbrock_run(real_torch, line_search_fn, steps=4, **kwargs)
    np.testing.assert_allclose(our_losses, ref_losses, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(_to_np(ours), _to_np(theirs), rtol=1e-6, atol=1e-8)
    a, b = opt.state_dict(), ref.state_dict()
    assert list(a["state"][0]) == list(b["state"][0])
    for key in ("func_evals", "n_iter"):
        assert a["state"][0][key] == b["state"][0][key]
    for key in ("d", "prev_flat_grad", "H_diag", "t", "prev_loss"):
        np.testing.assert_allclose(
            _to_np(a["state"][0][key]), _to_np(b["state"][0][key]), rtol=1e-5, atol=1e-8
        )
    assert len(a["state"][0]["old_dirs"]) == len(b["state"][0]["old_dirs"])
    assert len(a["state"][0]["al"]) == len(b["state"][0]["al"])
    _assert_same_state(
        {"state": {}, "param_groups": a["param_groups"]},
        {"state": {}, "param_groups": b["param_groups"]},
        0,
    )


def test_lbfgs_maximize_matches_torch(real_torch):
    def run(lib):
        x = lib.tensor([0.3, -0.7], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.LBFGS([x], maximize=True, line_search_fn=None, lr=0.1, max_iter=5)

        def closure():
            opt.zero_grad()
            loss = -((x - 1.0) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return _to_np(x)

    np.testing.assert_allclose(run(rtorch), run(real_torch), rtol=1e-9)


def test_lbfgs_errors():
    p = rtorch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [rtorch.zeros(1, requires_grad=True)]}])
    with pytest.raises(TypeError):
        optim.LBFGS([p]).step()
    opt = optim.LBFGS([p], line_search_fn="bogus")

    def closure():
        opt.zero_grad()
        loss = ((p - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


def test_lbfgs_state_dict_round_trip():
    x, opt, _ = _rosenbrock_run(rtorch, "strong_wolfe", steps=1, max_iter=3)
    y = rtorch.tensor(_to_np(x).tolist(), dtype=rtorch.float64, requires_grad=True)
    copy = optim.LBFGS([y], line_search_fn="strong_wolfe", max_iter=3)
    # state tensors are shared by reference, as in PyTorch: load a copy
    copy.load_state_dict(deepcopy(opt.state_dict()))

    def closure_for(t, o):
        def closure():
            o.zero_grad()
            loss = (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2
            loss.backward()
            return loss

        return closure

    opt.step(closure_for(x, opt))
    copy.step(closure_for(y, copy))
    np.testing.assert_allclose(_to_np(y), _to_np(x), rtol=1e-12)


def test_lbfgs_stops_at_optimum():
    p = rtorch.ones(2, requires_grad=True)
    opt = optim.LBFGS([p])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = ((p - 1) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(calls) == 1 and opt.state[p]["n_iter"] == 0


# ------------------------------------------------------------------------ swa_utils


def _linear_pair(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))
    weights = [np.linspace(-1, 1, p.numel()).reshape(tuple(p.shape)) for p in model.parameters()]
    with lib.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(lib.tensor(w, dtype=p.dtype))
    return model


def _perturb(lib, model, k):
    with lib.no_grad():
        for j, p in enumerate(model.parameters()):
            p.add_(lib.full(tuple(p.shape), 0.1 * (k + 1) * (j + 1), dtype=p.dtype))
        for b in model.buffers():
            if b.is_floating_point():
                b.add_(0.5 * (k + 1))


def _averaged_run(lib, **kwargs):
    model = _linear_pair(lib)
    averaged = lib.optim.swa_utils.AveragedModel(model, **kwargs)
    for k in range(4):
        _perturb(lib, model, k)
        averaged.update_parameters(model)
    return model, averaged


AVG_CASES = [
    {},
    {"use_buffers": True},
    {"multi_avg_fn": "ema_multi"},
    {"avg_fn": "ema"},
    {"avg_fn": "swa"},
    {"multi_avg_fn": "swa_multi"},
]


def _resolve(lib, kwargs):
    table = {
        "ema_multi": lambda: lib.optim.swa_utils.get_ema_multi_avg_fn(0.9),
        "swa_multi": lib.optim.swa_utils.get_swa_multi_avg_fn,
        "ema": lambda: lib.optim.swa_utils.get_ema_avg_fn(0.8),
        "swa": lib.optim.swa_utils.get_swa_avg_fn,
    }
    return {k: table[v]() if isinstance(v, str) else v for k, v in kwargs.items()}


def test_averaged_model_swa_matches_numpy():
    model = _linear_pair(rtorch)
    history = [[_to_np(p) for p in model.parameters()]]
    averaged = swa_utils.AveragedModel(model)
    averaged.update_parameters(model)
    for k in range(3):
        _perturb(rtorch, model, k)
        history.append([_to_np(p) for p in model.parameters()])
        averaged.update_parameters(model)
    assert int(averaged.n_averaged) == 4
    for j, p in enumerate(averaged.module.parameters()):
        np.testing.assert_allclose(
            _to_np(p), np.mean([h[j] for h in history], axis=0), rtol=1e-6, atol=1e-6
        )
    # buffers are copied, not averaged, without use_buffers
    for mine, theirs in zip(averaged.module.buffers(), model.buffers()):
        np.testing.assert_array_equal(_to_np(mine), _to_np(theirs))


def test_ema_matches_numpy():
    model = _linear_pair(rtorch)
    ema = [_to_np(p) for p in model.parameters()]
    averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9))
    averaged.update_parameters(model)
    for k in range(3):
        _perturb(rtorch, model, k)
        ema = [0.9 * e + 0.1 * _to_np(p) for e, p in zip(ema, model.parameters())]
        averaged.update_parameters(model)
    for e, p in zip(ema, averaged.module.parameters()):
        np.testing.assert_allclose(_to_np(p), e, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kwargs", AVG_CASES)
def test_averaged_model_matches_torch(real_torch, kwargs):
    _, ours = _averaged_run(rtorch, **_resolve(rtorch, kwargs))
    _, theirs = _averaged_run(real_torch, **_resolve(real_torch, kwargs))
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in b:
        assert str(a[key].dtype) == str(b[key].dtype)
        np.testing.assert_allclose(_to_np(a[key]), _to_np(b[key]), rtol=1e-6, atol=1e-6)
    x = np.linspace(-1, 1, 15).reshape(5, 3)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(
        _to_np(ours(rtorch.tensor(x, dtype=rtorch.float32))),
        _to_np(theirs(real_torch.tensor(x, dtype=real_torch.float32))),
        rtol=1e-5,
        atol=1e-5,
    )


def test_averaged_model_rejects_both_fns():
    model = rtorch.nn.Linear(2, 2)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(
            model, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn()
        )


def _bn_run(lib):
    model = _linear_pair(lib)
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((6, 3)) for _ in range(3)]
    loader = [(lib.tensor(b, dtype=lib.float32), 0) for b in batches]
    model.eval()
    lib.optim.swa_utils.update_bn(loader, model)
    return model, batches


def test_update_bn_computes_cumulative_statistics():
    model, batches = _bn_run(rtorch)
    assert not model.training
    bn = model[1]
    assert bn.momentum == 0.1
    first = _to_np(model[0](rtorch.tensor(np.concatenate(batches), dtype=rtorch.float32)))
    per_batch = np.split(first, 3)
    np.testing.assert_allclose(
        _to_np(bn.running_mean), np.mean([b.mean(0) for b in per_batch], axis=0), atol=1e-5
    )
    np.testing.assert_allclose(
        _to_np(bn.running_var), np.mean([b.var(0, ddof=1) for b in per_batch], axis=0), atol=1e-5
    )
    assert int(bn.num_batches_tracked) == 3


def test_update_bn_matches_torch(real_torch):
    ours, _ = _bn_run(rtorch)
    theirs, _ = _bn_run(real_torch)
    for a, b in zip(ours.buffers(), theirs.buffers()):
        np.testing.assert_allclose(_to_np(a), _to_np(b), rtol=1e-5, atol=1e-6)


def test_update_bn_without_batchnorm_is_noop():
    model = rtorch.nn.Linear(2, 2)
    swa_utils.update_bn([rtorch.ones(1, 2)], model)


def _swalr_lrs(lib, **kwargs):
    p = lib.zeros(2, requires_grad=True)
    opt = lib.optim.SGD(
        [{"params": [p]}, {"params": [lib.zeros(1, requires_grad=True)], "lr": 0.2}], lr=0.5
    )
    sched = lib.optim.swa_utils.SWALR(opt, **kwargs)
    lrs = [sched.get_last_lr()]
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return np.array(lrs), opt


@pytest.mark.parametrize(
    "kwargs",
    [
        {"swa_lr": 0.05, "anneal_epochs": 3},
        {"swa_lr": [0.05, 0.01], "anneal_epochs": 4, "anneal_strategy": "linear"},
        {"swa_lr": 0.05, "anneal_epochs": 0},
        {"swa_lr": 0.05},
    ],
)
def test_swalr_matches_torch(real_torch, kwargs):
    ours, opt = _swalr_lrs(rtorch, **kwargs)
    theirs, ref = _swalr_lrs(real_torch, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in ref.param_groups]


def test_swalr_closed_values():
    lrs, _ = _swalr_lrs(rtorch, swa_lr=0.05, anneal_epochs=3)
    alphas = [(1 - math.cos(math.pi * t / 3)) / 2 for t in range(4)]
    expected = [0.05 * a + 0.5 * (1 - a) for a in alphas] + [0.05] * 3
    np.testing.assert_allclose(lrs[:, 0], expected, rtol=1e-12)
    lin, _ = _swalr_lrs(rtorch, swa_lr=0.1, anneal_epochs=2, anneal_strategy="linear")
    np.testing.assert_allclose(lin[:3, 1], [0.2, 0.15, 0.1], rtol=1e-12)


def test_swalr_bad_arguments():
    opt = optim.SGD([rtorch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        swa_utils.SWALR(opt, 0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        swa_utils.SWALR(opt, 0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        swa_utils.SWALR(opt, 0.1, anneal_epochs=1.5)
