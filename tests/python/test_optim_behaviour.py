"""Optimizer base-class behaviour: hooks, checkpoint layout, loading, validation messages."""

import copy

import pytest

import rtorch as torch
import rtorch.optim as optim
from rtorch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)


def leaf(values=(1.0, 2.0), dtype=None):
    kw = {} if dtype is None else {"dtype": dtype}
    return torch.tensor(list(values), requires_grad=True, **kw)


def stepped(opt, *params):
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    return opt


# ----------------------------------------------------------------- checkpoint layout


def test_state_dict_numbers_params_across_groups_and_puts_params_last():
    a, b, c = leaf(), leaf(), leaf()
    opt = optim.SGD([{"params": [a, b], "lr": 0.5}, {"params": [c]}], momentum=0.9)
    stepped(opt, a, c)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert list(sd["state"]) == [0, 2]
    for group in sd["param_groups"]:
        assert list(group)[-1] == "params"
    assert list(sd["param_groups"][0])[:2] == ["lr", "momentum"]


def test_state_dict_numbers_of_repeated_params():
    a, b = leaf(), leaf()
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt = optim.SGD([a, a, b])
        assert opt.state_dict()["param_groups"][0]["params"] == [1, 1, 2]
        opt = optim.SGD([{"params": [a, a]}, {"params": [b]}])
    assert [g["params"] for g in opt.state_dict()["param_groups"]] == [[1, 1], [2]]


def test_load_casts_state_to_param_dtype_but_keeps_step():
    a = leaf()
    src = stepped(optim.Adam([a]), a)
    sd = src.state_dict()
    b = leaf(dtype=torch.float64)
    dst = optim.Adam([b])
    dst.load_state_dict(sd)
    state = dst.state[b]
    assert state["exp_avg"].dtype == torch.float64
    assert state["step"].dtype == torch.float32 and state["step"].item() == 1.0
    # the loaded groups are copies: editing the checkpoint later changes nothing
    sd["param_groups"][0]["lr"] = 123.0
    assert dst.param_groups[0]["lr"] == 1e-3


def test_load_keeps_unknown_state_keys_and_non_tensor_values():
    a = leaf()
    opt = optim.SGD([a])
    sd = opt.state_dict()
    sd["state"] = {0: {"note": "text", "extra": [torch.zeros(1, dtype=torch.float64)]}, "x": 1}
    opt.load_state_dict(sd)
    assert opt.state[a]["note"] == "text"
    assert opt.state[a]["extra"][0].dtype == torch.float32
    assert opt.state["x"] == 1


def test_load_upgrades_integer_step_and_backfills_missing_entries():
    a = leaf()
    sd = stepped(optim.Adam([a]), a).state_dict()
    sd["state"][0]["step"] = 4
    for key in ("amsgrad", "maximize", "foreach", "fused", "decoupled_weight_decay"):
        del sd["param_groups"][0][key]
    opt = optim.Adam([leaf()])
    opt.load_state_dict(sd)
    group = opt.param_groups[0]
    assert group["amsgrad"] is False and group["fused"] is None
    assert group["decoupled_weight_decay"] is False
    step = next(iter(opt.state.values()))["step"]
    assert torch.is_tensor(step) and step.item() == 4.0


def test_adamw_always_decouples_after_loading():
    a = leaf()
    sd = optim.Adam([a]).state_dict()
    opt = optim.AdamW([leaf()])
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert opt.param_groups[0]["weight_decay"] == 0


def test_param_names_survive_loading_a_checkpoint_without_names():
    a, b = leaf(), leaf()
    sd = optim.SGD([a]).state_dict()
    opt = optim.SGD([("w", b)])
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["param_names"] == ["w"]
    assert opt.param_groups[0]["params"][0] is b


def test_deepcopy_gives_a_working_optimizer():
    a = leaf()
    opt = stepped(optim.Adam([a], lr=0.1), a)
    twin = copy.deepcopy(opt)
    assert twin._optimizer_step_pre_hooks == {}
    p = twin.param_groups[0]["params"][0]
    stepped(twin, p)
    assert next(iter(twin.state.values()))["step"].item() == 2.0


# -------------------------------------------------------------------------- hooks


def test_state_dict_and_load_hooks():
    a = leaf()
    opt = optim.SGD([a], lr=0.1)
    calls = []
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: calls.append("post"))
    opt.register_state_dict_post_hook(lambda o, sd: dict(sd, tag=1), prepend=True)
    sd = opt.state_dict()
    assert calls == ["pre", "post"] and sd["tag"] == 1

    def swap_lr(o, sd):
        sd = copy.deepcopy(sd)
        sd["param_groups"][0]["lr"] = 0.7
        return sd

    opt.register_load_state_dict_pre_hook(swap_lr)
    handle = opt.register_load_state_dict_post_hook(lambda o: calls.append("loaded"))
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.7 and calls[-1] == "loaded"
    handle.remove()
    opt.load_state_dict(sd)
    assert calls.count("loaded") == 1


def test_step_pre_hook_may_replace_arguments():
    a = leaf()
    opt = optim.SGD([a], lr=1.0)
    seen = []

    def closure():
        seen.append("replacement")
        a.grad = torch.ones_like(a)
        return 2.0

    opt.register_step_pre_hook(lambda o, args, kwargs: ((closure,), {}))
    assert opt.step() == 2.0 and seen == ["replacement"]
    opt.register_step_pre_hook(lambda o, args, kwargs: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_global_step_hooks_order():
    a = leaf()
    opt = optim.SGD([a])
    calls = []
    g_pre = register_optimizer_step_pre_hook(lambda o, args, kw: calls.append("global pre"))
    g_post = register_optimizer_step_post_hook(lambda o, args, kw: calls.append("global post"))
    opt.register_step_pre_hook(lambda o, args, kw: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kw: calls.append("post"))
    try:
        stepped(opt, a)
    finally:
        g_pre.remove()
        g_post.remove()
    assert calls == ["global pre", "pre", "post", "global post"]
    calls.clear()
    stepped(opt, a)
    assert calls == ["pre", "post"]


def test_subclass_step_delegating_to_parent_runs_hooks_once():
    class Logged(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    a = leaf()
    opt = Logged([a], lr=0.5)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kw: calls.append("pre"))
    stepped(opt, a)
    assert calls == ["pre"]
    assert a.tolist() == [0.5, 1.5]


def test_base_optimizer_step_is_abstract():
    with pytest.raises(NotImplementedError):
        optim.Optimizer([leaf()], {"lr": 0.1}).step()


# --------------------------------------------------------------- groups and grads


def test_add_param_group_errors():
    a, b = leaf(), leaf()
    opt = optim.SGD([a])
    with pytest.raises(TypeError, match=r"param_group must be a dict, but got <class 'list'>"):
        opt.add_param_group([b])
    with pytest.raises(ValueError, match="cannot add param group with names"):
        opt.add_param_group({"params": [("b", b)]})
    with pytest.raises(ValueError, match="Some param names are missing"):
        optim.SGD([("a", a), b])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([a * 2])
    base = optim.Optimizer([{"params": [a], "lr": 0.1}], {"lr": optim.optimizer.required})
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        base.add_param_group({"params": [b]})
    base.add_param_group({"params": [b], "lr": 0.3})
    assert base.param_groups[1]["lr"] == 0.3


def test_zero_grad_without_none_detaches_and_zeroes():
    a = leaf()
    opt = optim.SGD([a])
    a.grad = torch.tensor([3.0, 4.0], requires_grad=True)
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0] and not a.grad.requires_grad


def test_repr_layout():
    opt = optim.SGD([{"params": [leaf()]}, {"params": [leaf()], "lr": 0.5}], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n    dampening: 0\n")
    assert "\nParameter Group 1\n" in text and "    lr: 0.5\n" in text
    assert text.endswith("    weight_decay: 0\n)")
    assert "params" not in text


def test_adagrad_state_for_a_later_group_and_share_memory():
    a, b = leaf(), leaf()
    opt = optim.Adagrad([a], initial_accumulator_value=0.5)
    opt.add_param_group({"params": [b]})
    stepped(opt, b)
    assert opt.state[b]["step"].item() == 1.0
    opt.share_memory()


# -------------------------------------------------------------------- validation

MESSAGES = [
    (optim.SGD, dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (optim.SGD, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum"),
    (optim.Adam, dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    (optim.Adam, dict(eps=-1e-3), "Invalid epsilon value: -0.001"),
    (optim.AdamW, dict(weight_decay=-2), "Invalid weight_decay value: -2"),
    (optim.RMSprop, dict(momentum=-1), "Invalid momentum value: -1"),
    (optim.RMSprop, dict(lr=-2), "Invalid learning rate: -2"),
    (
        optim.Adagrad,
        dict(initial_accumulator_value=-1),
        "Invalid initial_accumulator_value value: -1",
    ),
    (optim.Adagrad, dict(eps=-1), "Invalid epsilon value: -1"),
]


@pytest.mark.parametrize("cls,kwargs,message", MESSAGES)
def test_validation_messages(cls, kwargs, message):
    with pytest.raises(ValueError) as info:
        cls([leaf()], **kwargs)
    assert str(info.value).startswith(message)


def test_tensor_lr_checks():
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.SGD([leaf()], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="capturable=False and foreach=True"):
        optim.Adam([leaf()], lr=torch.tensor(0.1), foreach=True)


@pytest.mark.parametrize("cls,kwargs,message", MESSAGES)
def test_validation_messages_match_pytorch(cls, kwargs, message):
    pt = pytest.importorskip("torch")
    with pytest.raises(ValueError) as ours:
        cls([leaf()], **kwargs)
    with pytest.raises(ValueError) as theirs:
        getattr(pt.optim, cls.__name__)([pt.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_defaults_repr_and_checkpoint_keys_match_pytorch(name):
    pt = pytest.importorskip("torch")
    kw = dict(lr=0.05)
    if name in ("SGD", "RMSprop"):
        kw["momentum"] = 0.5
    ours_p = leaf()
    ours = getattr(optim, name)([ours_p], **kw)
    theirs_p = pt.tensor([1.0, 2.0], requires_grad=True)
    theirs = getattr(pt.optim, name)([theirs_p], **kw)
    assert list(ours.defaults.items()) == list(theirs.defaults.items())
    assert repr(ours) == repr(theirs)
    stepped(ours, ours_p)
    theirs_p.grad = pt.ones_like(theirs_p)
    theirs.step()
    sd, sd_pt = ours.state_dict(), theirs.state_dict()
    assert [list(g.items()) for g in sd["param_groups"]] == [
        list(g.items()) for g in sd_pt["param_groups"]
    ]
    assert list(sd["state"][0]) == list(sd_pt["state"][0])
