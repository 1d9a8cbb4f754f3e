"""rtorch.profiler: recorded ops (forward and backward), ranges, tables and Chrome traces."""

import gzip
import json
import threading
from collections import Counter

import pytest

import rtorch as torch
from rtorch import _C, nn
from rtorch.profiler import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    tensorboard_trace_handler,
)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU())


def _train_step(model, x):
    loss = model(x).sum()
    loss.backward()
    return loss


def test_ops_forward_and_backward_named_and_counted():
    model, x = _model(), torch.randn(5, 4)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        _train_step(model, x)
    names = Counter(e.name for e in prof.events())
    for op in ["aten::linear", "aten::t", "aten::matmul", "aten::mm", "aten::relu", "aten::sum"]:
        assert names[op] >= 1, op
    assert names["aten::linear"] == 1 and names["aten::relu"] == 1
    # Linear is one node, as PyTorch's addmm.
    for node in ["SumBackward0", "ReluBackward0", "AddmmBackward0"]:
        assert names[node] == 1, node
    assert names["torch::autograd::AccumulateGrad"] == 2
    mm = next(e for e in prof.events() if e.name == "aten::mm" and e.cpu_parent.name == "aten::matmul")
    assert mm.cpu_parent.cpu_parent.name == "aten::linear"
    assert mm.input_shapes == [[5, 4], [4, 3]]
    relu = next(e for e in prof.events() if e.name == "aten::relu")
    assert relu.input_shapes == [[5, 3]]
    # Ops run by a gradient rule nest under its node.
    mm_back = next(e for e in prof.events() if e.name == "AddmmBackward0")
    assert any(c.name.startswith("aten::") for c in mm_back.cpu_children)
    for e in prof.events():
        assert e.cpu_time_total >= 0 and e.self_cpu_time_total >= -1e-3
        assert isinstance(e.thread, int)
    avg = {a.key: a for a in prof.key_averages()}
    assert avg["torch::autograd::AccumulateGrad"].count == 2
    assert avg["aten::matmul"].cpu_time_total >= avg["aten::matmul"].self_cpu_time_total


def test_nothing_recorded_when_off():
    x = torch.ones(3)
    assert not _C._profiler_enabled()
    x + 1  # not recorded by the profile below
    with profile() as prof:
        assert _C._profiler_enabled()
        x * 2
    assert not _C._profiler_enabled()
    x - 1
    assert [e.name for e in prof.events()] == ["aten::mul"]
    assert prof.events()[0].input_shapes == []  # shapes only when asked


def test_record_function_nesting_and_decorator():
    x = torch.ones(2, 2)

    @record_function("helper")
    def helper(t):
        return t.exp()

    with profile(record_shapes=True) as prof:
        with record_function("outer"):
            with record_function("inner"):
                y = x + 1
            helper(y)
            helper(y)
    ev = prof.events()
    outer = next(e for e in ev if e.name == "outer")
    inner = next(e for e in ev if e.name == "inner")
    helpers = [e for e in ev if e.name == "helper"]
    assert inner.cpu_parent is outer and len(helpers) == 2
    assert all(h.cpu_parent is outer for h in helpers)
    add = next(e for e in ev if e.name == "aten::add")
    assert add.cpu_parent is inner
    assert [c.name for c in helpers[0].cpu_children] == ["aten::exp"]
    assert outer.time_range[0] <= inner.time_range[0] <= inner.time_range[1] <= outer.time_range[1]
    assert outer.is_user_annotation and not add.is_user_annotation
    # Without a profiler, ranges are free no-ops.
    with record_function("unused"):
        x + 1


def test_memory_and_table():
    x = torch.ones(64, 64)
    with profile(record_shapes=True, profile_memory=True) as prof:
        for _ in range(3):
            y = x + x
        y.sum()
    add = next(e for e in prof.events() if e.name == "aten::add")
    assert add.cpu_memory_usage >= 64 * 64 * 4
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=1)
    lines = table.splitlines()
    header = lines[1].split()
    for col in ["Name", "Self", "CPU", "%", "total", "avg", "Mem", "Calls"]:
        assert col in header
    assert lines[0].startswith("-") and lines[2].startswith("-")
    rows = lines[3:-2]
    assert len(rows) == 1
    assert lines[-1].startswith("Self CPU time total:")
    by_count = prof.key_averages().table(sort_by="count", row_limit=10).splitlines()[3]
    assert by_count.split()[0] == "aten::add" and by_count.split()[-1] == "3"
    shaped = prof.key_averages(group_by_input_shape=True).table(sort_by="count")
    assert "Input Shapes" in shaped and "[[64, 64], [64, 64]]" in shaped
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="nonsense")


def test_chrome_trace_is_well_formed(tmp_path):
    model, x = _model(), torch.randn(5, 4)
    with profile(record_shapes=True) as prof:
        with record_function("step"):
            _train_step(model, x)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == len(prof.events())
    for e in spans:
        assert isinstance(e["name"], str) and e["cat"] in ("cpu_op", "user_annotation")
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert e["ts"] >= 0 and e["dur"] >= 0
    step = next(e for e in spans if e["name"] == "step")
    for e in spans:
        assert step["ts"] <= e["ts"] and e["ts"] + e["dur"] <= step["ts"] + step["dur"] + 1e-3
    mm = next(e for e in spans if e["name"] == "aten::mm")
    assert mm["args"]["Input Dims"] == [[5, 4], [4, 3]]


def test_threads_are_told_apart():
    x = torch.ones(3)
    with profile() as prof:
        x + 1
        t = threading.Thread(target=lambda: x * 2)
        t.start()
        t.join()
    ev = {e.name: e for e in prof.events()}
    assert ev["aten::add"].thread != ev["aten::mul"].thread


def test_schedule_and_trace_handler(tmp_path):
    fn = schedule(wait=1, warmup=1, active=2, repeat=1)
    assert [fn(i) for i in range(5)] == [
        ProfilerAction.NONE,
        ProfilerAction.WARMUP,
        ProfilerAction.RECORD,
        ProfilerAction.RECORD_AND_SAVE,
        ProfilerAction.NONE,
    ]
    seen = []
    handler = tensorboard_trace_handler(str(tmp_path), worker_name="w", use_gzip=True)

    def ready(p):
        seen.append(sorted({e.name for e in p.events() if e.name.startswith("ProfilerStep")}))
        handler(p)

    x = torch.ones(2)
    with profile(schedule=fn, on_trace_ready=ready) as prof:
        for _ in range(6):
            x + 1
            prof.step()
    assert seen == [["ProfilerStep#2", "ProfilerStep#3"]]
    files = list(tmp_path.glob("w.*.pt.trace.json.gz"))
    assert len(files) == 1
    trace = json.loads(gzip.decompress(files[0].read_bytes()))
    assert sum(e["name"] == "aten::add" for e in trace["traceEvents"]) == 2


def test_misuse():
    with profile():
        with pytest.raises(RuntimeError, match="already active"):
            profile().start()
    with pytest.raises(RuntimeError, match="never ran"):
        profile().events()
    with pytest.raises(TypeError, match="ProfilerActivity"):
        profile(activities=["CPU"])
    with pytest.raises(RuntimeError, match="record_shapes"):
        with profile() as p:
            pass
        p.key_averages(group_by_input_shape=True)


def test_autograd_profiler_spelling():
    from rtorch.autograd import profiler as old

    x = torch.ones(2)
    with old.profile(record_shapes=True) as prof:
        with old.record_function("r"):
            x + 1
    assert [e.name for e in prof.function_events] == ["r", "aten::add"]
    assert "aten::add" in prof.key_averages().table()
    with old.profile(enabled=False) as off:
        x + 1
    assert not _C._profiler_enabled()
    with pytest.raises(RuntimeError, match="never ran"):
        off.events()
