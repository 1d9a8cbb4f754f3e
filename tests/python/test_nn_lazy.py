"""Lazy modules: placeholders, first-call initialisation, class change, state_dict."""

import copy
import math
import pickle

import numpy as np
import pytest

import rtorch as torch
from rtorch import nn
from rtorch.nn.modules.lazy import LazyModuleMixin
from rtorch.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

# (lazy class, constructor args, first input shape, class it becomes)
LAZY_CASES = [
    ("LazyLinear", (3,), (2, 5), "Linear"),
    ("LazyConv1d", (4, 3), (2, 6, 8), "Conv1d"),
    ("LazyConv2d", (4, 3), (2, 6, 7, 7), "Conv2d"),
    ("LazyConv3d", (4, 2), (1, 6, 4, 4, 4), "Conv3d"),
    ("LazyConvTranspose1d", (4, 3), (2, 6, 5), "ConvTranspose1d"),
    ("LazyConvTranspose2d", (4, 3), (2, 6, 5, 5), "ConvTranspose2d"),
    ("LazyConvTranspose3d", (4, 2), (1, 6, 3, 3, 3), "ConvTranspose3d"),
    ("LazyBatchNorm1d", (), (4, 6), "BatchNorm1d"),
    ("LazyBatchNorm2d", (), (4, 6, 3, 3), "BatchNorm2d"),
    ("LazyBatchNorm3d", (), (2, 6, 2, 2, 2), "BatchNorm3d"),
    ("LazyInstanceNorm1d", (), (2, 6, 5), "InstanceNorm1d"),
    ("LazyInstanceNorm2d", (), (2, 6, 3, 3), "InstanceNorm2d"),
    ("LazyInstanceNorm3d", (), (2, 6, 2, 2, 2), "InstanceNorm3d"),
]


def _rand(shape, seed=0):
    return torch.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


# ---------------------------------------------------------------------------- placeholders
def test_placeholder_basics():
    p = UninitializedParameter()
    assert isinstance(p, nn.Parameter) and is_lazy(p) and p.requires_grad
    assert repr(p) == "<UninitializedParameter>"
    assert p.dtype == torch.float32 and p.size() == torch.Size([0])
    b = UninitializedBuffer(dtype=torch.float64)
    assert not b.requires_grad and b.dtype == torch.float64 and is_lazy(b)
    assert not isinstance(b, nn.Parameter)
    assert not is_lazy(nn.Parameter(torch.ones(1))) and not is_lazy(torch.ones(1))


@pytest.mark.parametrize(
    "use",
    [
        lambda p: p + 1,
        lambda p: torch.ones(2) + p,
        lambda p: torch.ones(2) @ p,
        lambda p: p.sum(),
        lambda p: torch.add(p, 1),
        lambda p: nn.functional.linear(torch.ones(2), p),
        lambda p: p.t(),
        lambda p: p.numel(),
        lambda p: p.detach(),
        lambda p: len(p),
    ],
)
def test_placeholder_refuses_math(use):
    with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
        use(UninitializedParameter())


def test_placeholder_shape_error():
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        _ = UninitializedParameter().shape


def test_placeholder_conversion_stays_placeholder():
    p = UninitializedParameter().to(torch.float64)
    assert isinstance(p, UninitializedParameter) and p.dtype == torch.float64
    assert isinstance(UninitializedBuffer().double(), UninitializedBuffer)


def test_materialize_in_place():
    p = UninitializedParameter(dtype=torch.float64)
    alias = p
    p.materialize((2, 3))
    assert type(alias) is nn.Parameter and alias.shape == (2, 3)
    assert alias.dtype == torch.float64 and alias.requires_grad and alias.is_leaf
    (alias * 2).sum().backward()
    np.testing.assert_allclose(alias.grad.numpy(), np.full((2, 3), 2.0))

    b = UninitializedBuffer()
    b.materialize(4, dtype=torch.float16)
    assert type(b) is torch.Tensor and b.shape == (4,) and b.dtype == torch.float16


def test_placeholder_copy_and_pickle():
    p = UninitializedParameter(requires_grad=False, dtype=torch.float64)
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is UninitializedParameter and q is not p
        assert q.dtype == torch.float64 and not q.requires_grad


# ---------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("name, args, shape, becomes", LAZY_CASES)
def test_first_call_initialises_and_changes_class(name, args, shape, becomes):
    m = getattr(nn, name)(*args)
    assert isinstance(m, LazyModuleMixin) and m.has_uninitialized_params()
    y = m(_rand(shape))
    assert type(m) is getattr(nn, becomes)
    assert not isinstance(m, LazyModuleMixin)
    assert not any(is_lazy(t) for t in [*m.parameters(), *m.buffers()])
    eager = getattr(nn, becomes)
    channels = shape[-1] if name == "LazyLinear" else shape[1]
    if becomes == "Linear":
        ref = eager(channels, *args)
    elif "Conv" in becomes:
        ref = eager(channels, *args)
    else:
        ref = eager(channels, affine=True, track_running_stats=True)
    assert repr(m) == repr(ref)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {
        k: tuple(v.shape) for k, v in ref.state_dict().items()
    }
    assert tuple(y.shape) == tuple(ref(_rand(shape)).shape)


def test_linear_init_bounds():
    m = nn.LazyLinear(50)
    m(torch.ones(7, 40))
    bound = 1 / math.sqrt(40)
    assert m.in_features == 40 and m.weight.shape == (50, 40)
    for t in (m.weight, m.bias):
        values = t.detach().numpy()
        assert np.abs(values).max() <= bound and values.std() > bound / 4


def test_conv_init_bounds_and_transposed_layout():
    m = nn.LazyConv2d(8, 3, groups=2)
    m(torch.ones(1, 6, 5, 5))
    assert m.in_channels == 6 and m.weight.shape == (8, 3, 3, 3)
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / math.sqrt(3 * 9)
    t = nn.LazyConvTranspose1d(6, 3, groups=2)
    t(torch.ones(4, 7))  # unbatched (C, L)
    assert type(t) is nn.ConvTranspose1d and t.in_channels == 4 and t.weight.shape == (4, 3, 3)


def test_batchnorm_stats_after_first_call():
    m = nn.LazyBatchNorm1d()
    x = _rand((8, 3))
    m(x)
    mean = x.numpy().mean(0)
    var = x.numpy().var(0, ddof=1)
    np.testing.assert_allclose(m.running_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    assert int(m.num_batches_tracked) == 1
    np.testing.assert_allclose(m.weight.detach().numpy(), np.ones(3))


def test_instancenorm_unbatched_and_options():
    m = nn.LazyInstanceNorm1d(affine=False, track_running_stats=False)
    assert not m.has_uninitialized_params()
    m(_rand((4, 5)))
    assert type(m) is nn.InstanceNorm1d and m.num_features == 4
    m = nn.LazyInstanceNorm2d()
    m(_rand((3, 4, 4)))
    assert m.num_features == 3 and m.weight.shape == (3,) and m.running_var.shape == (3,)


def test_bias_false_and_dtype():
    m = nn.LazyLinear(2, bias=False, dtype=torch.float64)
    assert m.bias is None
    m(torch.ones(3, 4, dtype=torch.float64))
    assert m.weight.dtype == torch.float64 and m.bias is None
    m = nn.LazyConv1d(2, 3).double()
    m(torch.ones(1, 5, 6, dtype=torch.float64))
    assert m.weight.dtype == torch.float64 and m.bias.dtype == torch.float64


def test_optimizer_built_before_dry_run():
    m = nn.LazyLinear(3)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    x = torch.ones(2, 4)
    m(x).sum().backward()  # the first call materialises the very objects opt holds
    before = m.weight.detach().clone()
    opt.step()
    np.testing.assert_allclose(m.weight.detach().numpy(), before.numpy() - 0.5 * 2.0, rtol=1e-6)
    # and after a dry run, as the documentation recommends
    net = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(1))
    net(torch.ones(1, 3))
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(5, 3)).sum().backward()
    opt.step()
    assert [tuple(p.shape) for p in net.parameters()] == [(4, 3), (4,), (1, 4), (1,)]


def test_gradcheck_after_init():
    m = nn.LazyLinear(2, dtype=torch.float64)
    x = _rand((3, 4)).double().requires_grad_()
    m(x)
    assert torch.autograd.gradcheck(lambda t: m(t), (x,))


# ---------------------------------------------------------------------------- errors
def test_conv_input_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(torch.ones(1, 3, 5, 5))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input"):
        nn.LazyConv2d(4, 3)(torch.ones(3, 5))


def test_use_before_initialisation():
    m = nn.LazyLinear(3)
    with pytest.raises(ValueError, match="uninitialized parameter"):
        m.weight.sum()
    with pytest.raises(NotImplementedError, match="initialize_parameters"):

        class Plain(LazyModuleMixin, nn.Module):
            pass

        Plain()(torch.ones(1))


def test_loading_placeholder_into_initialised_module():
    with pytest.raises(RuntimeError, match="Can't access the shape"):
        nn.Linear(2, 3).load_state_dict(nn.LazyLinear(3).state_dict())


# ---------------------------------------------------------------------------- state dict
def test_state_dict_round_trip():
    src = nn.LazyConv2d(4, 3)
    src(torch.ones(1, 2, 5, 5))
    dst = nn.LazyConv2d(4, 3)
    assert str(dst.load_state_dict(src.state_dict())) == "<All keys matched successfully>"
    assert type(dst) is nn.LazyConv2d and dst.weight.shape == (4, 2, 3, 3)
    np.testing.assert_array_equal(dst.weight.detach().numpy(), src.weight.detach().numpy())
    x = _rand((1, 2, 5, 5))
    dst(x)  # the first call keeps the loaded values and changes the class
    assert type(dst) is nn.Conv2d and dst.in_channels == 2
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())


def test_state_dict_of_uninitialised_module():
    sd = nn.LazyBatchNorm1d().state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert is_lazy(sd["weight"]) and is_lazy(sd["running_mean"])
    fresh = nn.LazyBatchNorm1d()
    assert str(fresh.load_state_dict(sd)) == "<All keys matched successfully>"
    assert fresh.has_uninitialized_params()
    assert list(fresh._parameters) == ["weight", "bias"]


def test_state_dict_round_trip_through_save(tmp_path):
    src = nn.Sequential(nn.LazyLinear(4), nn.LazyBatchNorm1d())
    src(_rand((6, 3)))
    path = tmp_path / "m.pt"
    torch.save(src.state_dict(), path)
    dst = nn.Sequential(nn.LazyLinear(4), nn.LazyBatchNorm1d())
    dst.load_state_dict(torch.load(path))
    dst.eval(), src.eval()
    x = _rand((2, 3), seed=1)
    np.testing.assert_allclose(dst(x).detach().numpy(), src(x).detach().numpy(), rtol=1e-6)


def test_partial_load_then_first_call():
    m = nn.LazyLinear(3)
    report = m.load_state_dict({"weight": torch.ones(3, 2)}, strict=False)
    assert report.missing_keys == ["bias"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "bias"'):
        nn.LazyLinear(3).load_state_dict({"weight": torch.ones(3, 2)})
    m(torch.ones(2))
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones((3, 2)))
    assert m.bias.shape == (3,)


# ---------------------------------------------------------------------------- vs PyTorch
@pytest.mark.parametrize("name, args, shape, becomes", LAZY_CASES)
def test_matches_torch(real_torch, name, args, shape, becomes):
    ours, theirs = getattr(nn, name)(*args), getattr(real_torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours(_rand(shape))
    theirs(real_torch.ones(shape))
    assert type(ours).__name__ == type(theirs).__name__ == becomes
    assert repr(ours) == repr(theirs)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key in ours_sd:
        assert tuple(ours_sd[key].shape) == tuple(theirs_sd[key].shape)
        assert str(ours_sd[key].dtype) == str(theirs_sd[key].dtype)


def test_placeholder_messages_match_torch(real_torch):
    ref = real_torch.nn.parameter.UninitializedParameter()
    with pytest.raises(ValueError) as theirs:
        ref.sum()
    with pytest.raises(ValueError) as ours:
        UninitializedParameter().sum()
    tail = "This error happens when"
    assert str(ours.value).split(tail)[1] == str(theirs.value).split(tail)[1]
    with pytest.raises(RuntimeError) as theirs:
        _ = ref.shape
    with pytest.raises(RuntimeError) as ours:
        _ = UninitializedParameter().shape
    assert str(ours.value) == str(theirs.value)
