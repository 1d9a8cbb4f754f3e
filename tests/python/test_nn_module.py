"""Module mechanics: registration, iteration order, state_dict, hooks, repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn


def to_np(t):
    t = t.detach()
    try:
        return t.numpy()
    except Exception:
        return np.array(t.tolist())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2)
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# ---------------------------------------------------------------- registration
def test_setattr_registers_parameters_modules_buffers():
    net = Net()
    assert list(net._parameters) == []
    assert list(net._modules) == ["fc1", "act", "fc2"]
    assert list(net._buffers) == ["steps", "scratch"]
    assert isinstance(net.fc1.weight, nn.Parameter)
    assert isinstance(net.fc1.weight, torch.Tensor)
    assert net.fc1.weight.requires_grad


def test_named_parameters_order_and_prefix():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    names = [n for n, _ in net.named_parameters(prefix="model")]
    assert names[0] == "model.fc1.weight"
    assert [n for n, _ in net.fc1.named_parameters(recurse=False)] == ["weight", "bias"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert len(list(net.parameters())) == 4


def test_buffers_and_named_buffers():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert len(list(net.buffers())) == 2


def test_tied_weights_are_deduplicated():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5, bias=False)
            self.out.weight = self.emb.weight

    m = Tied()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["emb.weight"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 2
    # state_dict keeps both keys, like PyTorch.
    assert list(m.state_dict().keys()) == ["emb.weight", "out.weight"]


def test_shared_submodule_visited_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.children())) == 2
    assert len(list(seq.named_modules(remove_duplicate=False))) == 4


def test_named_modules_and_children():
    net = Net()
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert list(net.modules())[0] is net


def test_register_parameter_errors():
    m = nn.Module()
    with pytest.raises(TypeError):
        m.register_parameter("w", torch.zeros(2))
    with pytest.raises(KeyError):
        m.register_parameter("a.b", nn.Parameter(torch.zeros(2)))
    with pytest.raises(KeyError):
        m.register_parameter("", nn.Parameter(torch.zeros(2)))
    m.register_parameter("w", None)
    assert m.w is None
    assert "w" in m._parameters
    m.x = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("x", nn.Parameter(torch.zeros(1)))


def test_setattr_type_errors():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign"):
        lin.weight = torch.zeros(2, 2)
    lin.weight = None
    assert lin.weight is None
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="child module"):
        setattr(seq, "0", 3)


def test_assign_before_init_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(torch.zeros(1))
            super().__init__()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_register_buffer_errors_and_persistence():
    m = nn.Module()
    with pytest.raises(TypeError):
        m.register_buffer("b", 3)
    with pytest.raises(KeyError):
        m.register_buffer("a.b", torch.zeros(1))
    m.register_buffer("b", torch.zeros(1))
    m.b = torch.ones(1)
    assert to_np(m._buffers["b"])[0] == 1
    m.register_buffer("np", torch.zeros(1), persistent=False)
    assert "np" not in m.state_dict()
    assert "b" in m.state_dict()


def test_buffer_class_registers():
    m = nn.Module()
    m.b = nn.Buffer(torch.ones(2))
    m.c = nn.Buffer(torch.ones(2), persistent=False)
    assert "b" in m._buffers and "c" in m._buffers
    assert list(m.state_dict()) == ["b"]


def test_delattr():
    net = Net()
    del net.fc1
    assert "fc1" not in net._modules
    del net.steps
    assert "steps" not in net._buffers
    with pytest.raises(AttributeError):
        _ = net.fc1


def test_getattr_error_message():
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        _ = nn.Linear(2, 2).nope


def test_add_module_errors():
    m = nn.Module()
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(KeyError):
        m.add_module("a.b", nn.ReLU())
    m.training_flag = 1
    with pytest.raises(KeyError, match="already exists"):
        m.add_module("training_flag", nn.ReLU())
    m.register_module("r", nn.ReLU())
    assert isinstance(m.r, nn.ReLU)


def test_get_submodule_parameter_buffer():
    seq = nn.Sequential(OrderedDict(block=nn.Sequential(Net())))
    assert isinstance(seq.get_submodule("block.0.fc1"), nn.Linear)
    assert seq.get_parameter("block.0.fc1.bias") is seq.block[0].fc1.bias
    assert seq.get_buffer("block.0.steps") is seq.block[0].steps
    with pytest.raises(AttributeError):
        seq.get_submodule("block.nope")
    with pytest.raises(AttributeError):
        seq.get_parameter("block.0.steps")


def test_dir_lists_members():
    net = Net()
    d = dir(net)
    for name in ("fc1", "steps", "forward", "training"):
        assert name in d


# ---------------------------------------------------------------- modes and grads
def test_train_eval():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    assert net.training and net[1].training
    assert net.eval() is net
    assert not net.training and not net[1].training
    net.train()
    assert net[1].training
    with pytest.raises(ValueError):
        net.train("yes")


def test_zero_grad_and_requires_grad_():
    lin = nn.Linear(3, 2)
    lin(torch.ones(4, 3)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    assert float(lin.weight.grad.abs().sum()) == 0.0
    lin.zero_grad()
    assert lin.weight.grad is None
    lin.requires_grad_(False)
    assert not lin.weight.requires_grad


def test_apply_visits_children_first():
    order = []
    net = Net()
    net.apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "ReLU", "Linear", "Net"]


def test_to_dtype_keeps_parameter_identity_semantics():
    net = Net()
    net.to(torch.float64)
    assert net.fc1.weight.dtype == torch.float64
    assert isinstance(net.fc1.weight, nn.Parameter)
    assert net.steps.dtype == torch.float64
    net.float()
    assert net.fc1.weight.dtype == torch.float32
    net.double()
    assert net.fc2.bias.dtype == torch.float64
    out = net(torch.ones(2, 3, dtype=torch.float64))
    assert out.dtype == torch.float64
    net.to(torch.ones(1, dtype=torch.float32))
    assert net.fc1.weight.dtype == torch.float32
    net.to("cpu")
    net.cpu()
    with pytest.raises(TypeError, match="floating point"):
        net.to(torch.int64)


def test_to_leaves_integer_buffers():
    bn = nn.BatchNorm1d(3)
    bn.double()
    assert bn.num_batches_tracked.dtype == torch.int64
    assert bn.running_mean.dtype == torch.float64


# ---------------------------------------------------------------- state dict
def test_state_dict_keys_and_detached():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert not sd["fc1.weight"].requires_grad
    assert not isinstance(sd["fc1.weight"], nn.Parameter)
    kv = net.state_dict(keep_vars=True)
    assert kv["fc1.weight"] is net.fc1.weight
    pre = net.state_dict(prefix="m.")
    assert list(pre)[0] == "m.steps"


def test_state_dict_round_trip():
    torch.manual_seed(0)
    a, b = Net(), Net()
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(to_np(pa), to_np(pb))
    x = torch.randn(5, 3)
    np.testing.assert_allclose(to_np(a(x)), to_np(b(x)))


def test_load_state_dict_strict_errors():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra"] = torch.zeros(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\t")
    assert 'Missing key(s) in state_dict: "fc1.bias". ' in msg
    assert 'Unexpected key(s) in state_dict: "extra". ' in msg
    assert msg.index("Missing") < msg.index("Unexpected")
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["extra"]


def test_load_state_dict_non_strict_returns_named_tuple():
    net = nn.Sequential(nn.Linear(2, 2))
    res = net.load_state_dict(
        {"0.weight": torch.zeros(2, 2), "1.weight": torch.zeros(1)}, strict=False
    )
    # Without strict the mismatches are reported, not raised.
    assert isinstance(res, tuple)
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["1.weight"]
    assert repr(res) == ("_IncompatibleKeys(missing_keys=['0.bias'], unexpected_keys=['1.weight'])")
    assert res._fields == ("missing_keys", "unexpected_keys")


def test_load_state_dict_shape_mismatch():
    net = nn.Linear(3, 2)
    sd = {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}
    with pytest.raises(RuntimeError, match="size mismatch for weight: copying a param with shape"):
        net.load_state_dict(sd)


def test_load_state_dict_copies_in_place():
    net = nn.Linear(2, 2)
    w = net.weight
    net.load_state_dict({"weight": torch.ones(2, 2), "bias": torch.zeros(2)})
    assert net.weight is w
    np.testing.assert_array_equal(to_np(w), np.ones((2, 2)))
    net.load_state_dict({"weight": torch.full((2, 2), 2.0), "bias": torch.zeros(2)}, assign=True)
    assert isinstance(net.weight, nn.Parameter)
    assert float(net.weight.sum()) == 8.0


def test_batchnorm_state_dict_fills_num_batches_tracked():
    bn = nn.BatchNorm1d(2)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    bn.load_state_dict(sd)


def test_load_state_dict_type_error():
    with pytest.raises(TypeError):
        nn.Linear(2, 2).load_state_dict([1, 2])


# ---------------------------------------------------------------- hooks and call
def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []

    def pre(mod, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(mod, args, out):
        calls.append("post")
        return out + 1

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    out = lin(torch.ones(1, 2))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(to_np(out), to_np(lin.bias + 1)[None], rtol=1e-6)
    h1.remove()
    h2.remove()
    out = lin(torch.zeros(1, 2))
    np.testing.assert_allclose(to_np(out), to_np(lin.bias)[None], rtol=1e-6)
    assert calls == ["pre", "post"]


def test_forward_hooks_with_kwargs_and_prepend():
    m = nn.Identity()
    seen = []
    m.register_forward_hook(lambda mod, a, out: seen.append("b"))
    m.register_forward_hook(lambda mod, a, out: seen.append("a"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a, kw: (a, kw), with_kwargs=True)
    m.register_forward_hook(lambda mod, a, kw, out: seen.append("kw"), with_kwargs=True)
    m(torch.ones(1))
    assert seen == ["a", "b", "kw"]


def test_hook_handle_context_manager():
    m = nn.Identity()
    with m.register_forward_hook(lambda *a: None):
        assert len(m._forward_hooks) == 1
    assert len(m._forward_hooks) == 0


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


# ---------------------------------------------------------------- repr
def test_repr_nested():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Sequential(nn.Linear(4, 2), nn.Softmax(dim=1))
    )
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=2, bias=True)\n"
        "    (1): Softmax(dim=1)\n"
        "  )\n"
        ")"
    )


def test_repr_custom_module_and_extra_repr():
    assert repr(Net()) == (
        "Net(\n"
        "  (fc1): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (act): ReLU()\n"
        "  (fc2): Linear(in_features=4, out_features=2, bias=True)\n"
        ")"
    )

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)

        def extra_repr(self):
            return "k=1\nj=2"

    assert repr(WithExtra()) == (
        "WithExtra(\n  k=1\n  j=2\n  (lin): Linear(in_features=1, out_features=1, bias=True)\n)"
    )
    assert repr(nn.Module()) == "Module()"


def test_repr_modulelist_compresses_repeats():
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)])
    assert repr(ml) == (
        "ModuleList(\n"
        "  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (2): ReLU()\n"
        "  (3): Linear(in_features=2, out_features=2, bias=True)\n"
        ")"
    )
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_repr_parameter_containers():
    pl = nn.ParameterList([nn.Parameter(torch.zeros(2, 3)), torch.zeros(4)])
    assert repr(pl) == (
        "ParameterList(\n"
        "    (0): Parameter containing: [torch.float32 of size 2x3]\n"
        "    (1): Parameter containing: [torch.float32 of size 4]\n"
        ")"
    )
    one = nn.ParameterList([nn.Parameter(torch.zeros(2))])
    assert repr(one) == "ParameterList(  (0): Parameter containing: [torch.float32 of size 2])"
    pd = nn.ParameterDict({"a": nn.Parameter(torch.zeros(2, 2))})
    assert repr(pd) == "ParameterDict(  (a): Parameter containing: [torch.FloatTensor of size 2x2])"


def test_parameter_repr_and_subclass():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(p).startswith("Parameter containing:\n")
    assert repr(p).count("Parameter containing:") == 1
    assert repr(p).endswith("requires_grad=True)")
    assert p.requires_grad and p.is_leaf
    q = nn.Parameter(torch.zeros(1), requires_grad=False)
    assert not q.requires_grad
    e = nn.Parameter()
    assert tuple(e.shape) == (0,)
    c = copy.deepcopy(p)
    assert isinstance(c, nn.Parameter) and c is not p
    np.testing.assert_array_equal(to_np(c), to_np(p))
    # ops on a Parameter give a plain tensor
    assert not isinstance(p * 2, nn.Parameter)


def test_parameter_shares_storage():
    base = torch.zeros(3)
    p = nn.Parameter(base)
    with torch.no_grad():
        p.add_(1.0)
    assert float(base.sum()) == 3.0


def test_deepcopy_module():
    net = Net()
    other = copy.deepcopy(net)
    assert other.fc1.weight is not net.fc1.weight
    np.testing.assert_array_equal(to_np(other.fc1.weight), to_np(net.fc1.weight))
