"""Every op family appears in the profiler under PyTorch's aten:: name: sorting, scans,
random sampling, where/masked ops and index ops (Rust ops and ops composed in Python)."""

import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch.profiler import ProfilerActivity, profile

_FAMILIES = {
    "sort": (
        lambda x, i: (x.sort(1), x.argsort(1), x.topk(2, 1), x.kthvalue(2, 1), x.msort()),
        ["aten::sort", "aten::argsort", "aten::topk", "aten::kthvalue", "aten::msort"],
    ),
    "scan": (
        lambda x, i: (x.cumsum(1), x.cumprod(1), x.cummax(1), x.cummin(1), x.logcumsumexp(1)),
        ["aten::cumsum", "aten::cumprod", "aten::cummax", "aten::cummin", "aten::logcumsumexp"],
    ),
    "random": (
        lambda x, i: (
            torch.rand(3),
            torch.randn(3),
            torch.randint(0, 5, (3,)),
            torch.randperm(4),
            torch.empty(3).normal_(),
            torch.empty(3).uniform_(),
            torch.bernoulli(torch.full((3,), 0.5)),
            torch.multinomial(torch.ones(4), 2),
            F.dropout(x, 0.5),
        ),
        ["aten::rand", "aten::randn", "aten::randint", "aten::randperm", "aten::normal_",
         "aten::uniform_", "aten::bernoulli", "aten::multinomial", "aten::dropout"],
    ),
    "where_masked": (
        lambda x, i: (
            torch.where(x > 0, x, 0.0),
            x.masked_fill(x > 0, 1.0),
            x.masked_select(x > 0),
            x.masked_scatter(x > 0, torch.zeros(12)),
        ),
        ["aten::where", "aten::masked_fill", "aten::masked_select", "aten::masked_scatter"],
    ),
    "index": (
        lambda x, i: (
            x.index_select(1, i),
            x.gather(1, i.expand(3, 2)),
            x.scatter(1, i.expand(3, 2), x[:, :2]),
            x.scatter_add(1, i.expand(3, 2), x[:, :2]),
            x.scatter_reduce(1, i.expand(3, 2), x[:, :2], "amax"),
            x.index_add(1, i, x[:, :2]),
            x.index_copy(1, i, x[:, :2]),
            x.index_fill(1, i, 0.0),
            x.index_put((i,), torch.tensor(1.0)),
            x.take(i),
            x.take_along_dim(i.expand(3, 2), 1),
            x[i],
        ),
        ["aten::index_select", "aten::gather", "aten::scatter", "aten::scatter_add",
         "aten::scatter_reduce", "aten::index_add", "aten::index_copy", "aten::index_fill",
         "aten::index_put", "aten::take", "aten::take_along_dim", "aten::index"],
    ),
}


@pytest.mark.parametrize("family", sorted(_FAMILIES))
def test_family_has_its_events(family):
    run, names = _FAMILIES[family]
    torch.manual_seed(0)
    x, i = torch.randn(3, 4), torch.tensor([0, 2])
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        run(x, i)
    keys = {e.key: e for e in prof.key_averages()}
    for name in names:
        assert name in keys, (name, sorted(keys))
        assert keys[name].count >= 1
    # Off: the same ops record nothing.
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        pass
    run(x, i)
    assert not prof.events()


def test_composite_ops_nest_their_parts_and_keep_shapes():
    x = torch.randn(3, 4)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        x.kthvalue(2, 1)
    events = {e.name: e for e in prof.events()}
    kth, sort = events["aten::kthvalue"], events["aten::sort"]
    # The sort kthvalue runs is recorded inside it; the composite keeps its input's shape.
    assert sort.cpu_parent is kth and sort in kth.cpu_children
    assert kth.input_shapes == [[3, 4]]
    # A failing composite op still closes its scope.
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with pytest.raises(RuntimeError):
            x.kthvalue(9, 1)
        x.cumsum(0)
    names = [e.name for e in prof.events()]
    assert "aten::kthvalue" in names and "aten::cumsum" in names
