"""Container corner cases (repeat, insert, slicing, dict-style updates, reprs, error text).
Runs on rtorch and, when installed, on PyTorch; the two must agree."""

from collections import OrderedDict

import rtorch


def run(t):
    nn = t.nn
    out = []
    s = nn.Sequential(nn.ReLU(), nn.Tanh())
    s *= 3
    out.append(list(s._modules))
    s2 = 2 * nn.Sequential(nn.ReLU())
    out.append(list(s2._modules))
    s = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    s.insert(-1, nn.Identity())
    out.append([type(m).__name__ for m in s])
    try:
        s.insert(9, nn.ReLU())
    except IndexError as e:
        out.append(str(e))
    try:
        s[5]
    except IndexError as e:
        out.append(str(e))
    del s[::2]
    out.append((list(s._modules), [type(m).__name__ for m in s]))
    s += nn.Sequential(nn.ReLU())
    out.append(len(s))
    try:
        s * 0
    except ValueError as e:
        out.append(str(e).split(" for")[0])
    ml = nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh(), nn.Tanh(), nn.Tanh()])
    out.append(repr(ml))
    out.append(repr(ml + [nn.ReLU()]))
    out.append(repr(ml[::2]))
    md = nn.ModuleDict(OrderedDict(b=nn.ReLU(), a=nn.Tanh()))
    md.update(nn.ModuleDict({"c": nn.ReLU()}))
    out.append(list(md))
    for bad in (5, [3], [(1, 2, 3)]):
        try:
            md.update(bad)
        except (TypeError, ValueError) as e:
            out.append(str(e))
    pd = nn.ParameterDict({"b": t.ones(1), "a": t.ones(2)})
    out.append(list(pd))
    pd2 = pd | {"z": t.zeros(1)}
    out.append((type(pd2).__name__, list(pd2)))
    pd |= nn.ParameterDict({"y": t.zeros(1)})
    out.append(list(pd))
    out.append((pd.popitem()[0], list(pd), list(reversed(pd))))
    out.append(pd.setdefault("q", t.zeros(3)).shape[0])
    out.append(list(nn.ParameterDict().fromkeys(["u", "v"], t.ones(1)).keys()))
    for bad in (5, [3], [(1, 2, 3)]):
        try:
            pd.update(bad)
        except (TypeError, ValueError) as e:
            out.append(str(e))
    pl = nn.ParameterList([t.ones(1), t.ones(2), "str"])
    out.append(repr(pl))
    out.append(len(pl[1:]))
    out.append(repr(pd))
    try:
        pl()
    except RuntimeError as e:
        out.append(str(e))
    try:
        pd(1)
    except RuntimeError as e:
        out.append(str(e))
    try:
        pl.extend(t.ones(2))
    except TypeError as e:
        out.append(str(e))
    out.append(sorted(n for n in dir(pl) if n.isdigit() or n == "append"))
    return out


def test_containers_match_reference():
    got = run(rtorch)
    assert got[0] == [str(n) for n in range(6)]
    assert got[2] == ["ReLU", "Tanh", "Identity", "Sigmoid"]
    assert got[3] == "Index out of range: 9"
    assert got[5] == (["0", "1"], ["Tanh", "Sigmoid"])
    assert got[8] == "ModuleList(\n  (0-1): 2 x ReLU()\n  (2-4): 3 x Tanh()\n)"
    assert got[10] == "ModuleList(\n  (0): ReLU()\n  (1-2): 2 x Tanh()\n)"
    try:
        import torch
    except ImportError:
        return
    assert got == run(torch)
