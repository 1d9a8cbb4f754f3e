"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict, Identity, Flatten."""

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


def test_sequential_forward_and_indexing():
    torch.manual_seed(0)
    a, b, c = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)
    seq = nn.Sequential(a, b, c)
    x = torch.randn(5, 3)
    np.testing.assert_allclose(to_np(seq(x)), to_np(c(b(a(x)))), rtol=1e-6)
    assert len(seq) == 3
    assert seq[0] is a and seq[-1] is c and seq[-3] is a
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is b
    assert list(sub._modules) == ["1", "2"]
    assert list(seq) == [a, b, c]
    with pytest.raises(IndexError):
        seq[3]
    with pytest.raises(IndexError):
        seq[-4]


def test_sequential_ordereddict_and_mutation():
    seq = nn.Sequential(OrderedDict([("lin", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert isinstance(seq.lin, nn.Linear)
    assert [n for n, _ in seq.named_parameters()] == ["lin.weight", "lin.bias"]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["lin", "act", "2"]
    seq[1] = nn.ReLU()
    assert isinstance(seq.act, nn.ReLU)


def test_sequential_delete_renumbers():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity())
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"]
    assert isinstance(seq[1], nn.Sigmoid)
    del seq[0:2]
    assert len(seq) == 1 and isinstance(seq[0], nn.Identity)


def test_sequential_insert_extend_pop_add_mul():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    seq.insert(1, nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["ReLU", "Sigmoid", "Tanh"]
    seq.extend([nn.Identity()])
    assert len(seq) == 4
    popped = seq.pop(0)
    assert isinstance(popped, nn.ReLU) and len(seq) == 3
    both = seq + nn.Sequential(nn.ReLU())
    assert len(both) == 4
    tripled = nn.Sequential(nn.ReLU()) * 3
    assert len(tripled) == 3 and tripled[0] is tripled[2]
    with pytest.raises(ValueError):
        seq + nn.ReLU()


def test_modulelist():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3
    assert len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh(), nn.Sigmoid()])
    assert len(layers) == 6
    assert isinstance(layers[-1], nn.Sigmoid)
    sl = layers[1:3]
    assert isinstance(sl, nn.ModuleList) and len(sl) == 2
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and len(layers) == 7
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(6)]
    layers[0] = nn.ELU()
    assert isinstance(layers[0], nn.ELU)
    assert isinstance(layers.pop(-1), nn.Sigmoid)
    with pytest.raises(IndexError):
        layers[10]
    with pytest.raises(TypeError):
        layers.extend(5)
    with pytest.raises(NotImplementedError):
        layers(torch.ones(1))
    layers += [nn.ReLU()]
    assert isinstance(layers[-1], nn.ReLU)


def test_moduledict():
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(2, 2)})
    assert list(md.keys()) == ["b", "a"]
    assert "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    assert list(md) == ["b", "a", "c"]
    assert isinstance(md.pop("b"), nn.ReLU)
    md.update([("d", nn.Sigmoid())])
    assert list(md.keys()) == ["a", "c", "d"]
    assert [k for k, _ in md.items()] == ["a", "c", "d"]
    del md["a"]
    assert len(list(md.parameters())) == 0
    md.clear()
    assert len(md) == 0


def test_parameterlist():
    pl = nn.ParameterList([nn.Parameter(torch.ones(2)), torch.zeros(3)])
    assert len(pl) == 2
    assert isinstance(pl[1], nn.Parameter)
    pl.append(torch.ones(1))
    assert len(list(pl.parameters())) == 3
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pl[0] = torch.full((2,), 3.0)
    assert isinstance(pl[0], nn.Parameter) and float(pl[0].sum()) == 6.0
    assert len(list(iter(pl))) == 3
    pl.extend([torch.ones(1)])
    assert len(pl) == 4


def test_parameterdict():
    pd = nn.ParameterDict({"w": torch.ones(2)})
    assert isinstance(pd["w"], nn.Parameter)
    pd["v"] = nn.Parameter(torch.zeros(1))
    assert list(pd.keys()) == ["w", "v"]
    assert "v" in pd and len(pd) == 2
    assert [n for n, _ in pd.named_parameters()] == ["w", "v"]
    assert isinstance(pd.pop("w"), nn.Parameter)
    assert list(pd) == ["v"]
    assert pd.get("nope") is None
    with pytest.raises(TypeError):
        pd[1] = torch.ones(1)


def test_identity_flatten_unflatten():
    x = torch.randn(2, 3, 4, 5)
    assert nn.Identity(54, unused="x")(x) is x
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 1))(torch.randn(2, 3)).shape) == (2, 3, 1)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    with pytest.raises(TypeError):
        nn.Unflatten(1, 6)
