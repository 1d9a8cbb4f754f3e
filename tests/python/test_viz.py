"""make_dot: the DOT structure of autograd graphs (nodes, edges, labels)."""

import importlib.util
import pathlib
import re
import shutil
import sys

import pytest

import rtorch as torch
from rtorch import nn

pytest.importorskip("graphviz")
from rtorch.utils.viz import make_dot  # noqa: E402


def _parse(dot):
    """(labels by node id, list of (src, dst) edges) from DOT text."""
    labels, edges = {}, []
    for line in dot.source.splitlines():
        m = re.match(r"\s*(\w+) -> (\w+)", line)
        if m:
            edges.append((m.group(1), m.group(2)))
            continue
        m = re.match(r'\s*(\w+) \[label=(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))', line)
        if m:
            label = m.group(2) if m.group(2) is not None else m.group(3)
            labels[m.group(1)] = label.replace("\\n", "\n")
    return labels, edges


def _by_label(labels):
    out = {}
    for node, label in labels.items():
        out.setdefault(label.split("\n")[0], []).append(node)
    return out


def test_linear_relu_graph():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    loss = model(torch.randn(5, 4)).sum()
    labels, edges = _parse(make_dot(loss, params=dict(model.named_parameters())))
    names = _by_label(labels)
    # sum ← relu ← addmm(b, x, W); two leaves with their AccumulateGrad.
    fns = sorted(k for k in names if k.endswith("Backward0"))
    assert fns == ["AddmmBackward0", "ReluBackward0", "SumBackward0"]
    assert len(names["AccumulateGrad"]) == 2
    assert labels[names["0.weight"][0]] == "0.weight\n(3, 4)"
    assert labels[names["0.bias"][0]] == "0.bias\n(3,)"
    assert labels[names["()"][0]] == "()"  # the loss, a scalar output
    # 3 grad_fns + 2 AccumulateGrad + 2 parameters + 1 output.
    assert len(labels) == 8
    edge_names = {(labels[a].split("\n")[0], labels[b].split("\n")[0]) for a, b in edges}
    assert edge_names == {
        ("0.weight", "AccumulateGrad"),
        ("0.bias", "AccumulateGrad"),
        ("AccumulateGrad", "AddmmBackward0"),
        ("AddmmBackward0", "ReluBackward0"),
        ("ReluBackward0", "SumBackward0"),
        ("SumBackward0", "()"),
    }
    assert len(edges) == 7


def test_shared_subgraph_drawn_once():
    x = torch.randn(3, requires_grad=True)
    y = x.exp()
    z = y * y + y
    labels, edges = _parse(make_dot(z))
    names = _by_label(labels)
    assert len(names["ExpBackward0"]) == 1 and len(names["AccumulateGrad"]) == 1
    exp = names["ExpBackward0"][0]
    mul = names["MulBackward0"][0]
    add = names["AddBackward0"][0]
    # One edge per use: exp feeds mul twice and add once.
    assert edges.count((exp, mul)) == 2 and edges.count((exp, add)) == 1
    # The unnamed leaf is labelled by its shape.
    assert "(3,)" in names


def test_attrs_multiple_outputs_and_leaf_output():
    a = torch.randn(2, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    out1 = a * 2
    out2 = (a + b).sum(0)
    dot = make_dot((out1, out2, b), params={"a": a, "b": b}, show_attrs=True)
    labels, edges = _parse(dot)
    names = _by_label(labels)
    mul = labels[names["MulBackward0"][0]]
    assert "sequence_nr:" in mul and "output: (2, 3) float32" in mul
    # The rule's scalar arguments: a*2 saved the number 2 as `other`; sum(0) its dim.
    assert "other: 2" in mul.split("\n")
    summ = labels[names["SumBackward1"][0]].split("\n")
    assert "dim: (0,)" in summ and "keepdim: False" in summ and "self_sym_sizes: (2, 3)" in summ
    assert "(2, 3)" in names and "(3,)" in names  # both outputs
    assert labels[names["b"][0]] == "b\n(3,)\nfloat32"
    assert len(names["b"]) == 1  # the leaf output is the parameter node itself
    # Values are cut to max_attr_chars.
    labels, _ = _parse(make_dot(out2, show_attrs=True, max_attr_chars=5))
    summ = labels[_by_label(labels)["SumBackward1"][0]].split("\n")
    assert "self_sym_sizes: (2..." in summ


def test_saved_tensors_drawn_like_torchviz():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    x = torch.randn(5, 4)
    loss = model(x).exp().sum()
    dot = make_dot(loss, params=dict(model.named_parameters()), show_saved=True)
    labels, edges = _parse(dot)
    saved = {n for n in labels if "fillcolor=orange" in _node_line(dot, n)}
    # addmm saved mat1 (x) and mat2 (weight.t()); tanh and exp their results.
    got = sorted(labels[n] for n in saved)
    assert got == ["mat1\n(5, 4)", "mat2\n(4, 3)", "result\n(5, 3)", "result\n(5, 3)"]
    # Each joins its node with an undirected edge.
    undirected = [(a, b) for a, b in edges if a in saved]
    assert len(undirected) == 4
    assert all("dir=none" in _edge_line(dot, a, b) for a, b in undirected)
    owners = sorted(labels[b] for _, b in undirected)
    assert owners == ["AddmmBackward0", "AddmmBackward0", "ExpBackward0", "TanhBackward0"]
    # Without the flag nothing orange is drawn.
    assert "orange" not in make_dot(loss).source


def test_saved_tensor_shared_by_nodes_drawn_once_and_freed_after_backward():
    x = torch.randn(3, requires_grad=True)
    y = x.sigmoid()
    z = y * y  # mul saves y (as self and other); sigmoid saves y as its result
    dot = make_dot(z, show_saved=True)
    labels, edges = _parse(dot)
    saved = [n for n in labels if "fillcolor=orange" in _node_line(dot, n)]
    assert len(saved) == 1  # one tensor, three uses
    assert sum(a == saved[0] for a, _ in edges) == 3
    z.sum().backward()
    labels, _ = _parse(make_dot(z, show_saved=True))
    assert sorted(v for v in labels.values() if "freed" in v) == [
        "other\n(freed)", "result\n(freed)", "self\n(freed)"
    ]


def _node_line(dot, node):
    return next(line for line in dot.body if line.strip().startswith(node + " ["))


def _edge_line(dot, a, b):
    return next(line for line in dot.body if line.strip().startswith(f"{a} -> {b}"))


def test_ten_thousand_nodes_without_recursion():
    x = torch.ones(2, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        labels, edges = _parse(make_dot(y))
    finally:
        sys.setrecursionlimit(limit)
    names = _by_label(labels)
    assert len(names["MulBackward0"]) == 10_000
    assert len(labels) == 10_000 + 3 and len(edges) == 10_000 + 2


def _cnn_example():
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "draw_cnn_graph.py"
    spec = importlib.util.spec_from_file_location("draw_cnn_graph", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cnn_example(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)  # DOT text only
    dot = _cnn_example().main(["--output", str(tmp_path / "g")])
    text = (tmp_path / "g.dot").read_text()
    assert text == dot.source
    labels, edges = _parse(dot)
    names = _by_label(labels)
    # Each conv2d is one ConvolutionBackward0 node, as in PyTorch; every parameter has its leaf.
    assert len(names["ConvolutionBackward0"]) == 2
    for name in ["MaxPool2DWithIndicesBackward0", "LogSoftmaxBackward0"]:
        assert len(names[name]) == 1
    assert len(names["ReluBackward0"]) == 2 and len(names["AccumulateGrad"]) == 6
    assert labels[names["0.weight"][0]] == "0.weight\n(8, 1, 3, 3)"
    assert labels[names["6.bias"][0]] == "6.bias\n(10,)"
    assert all(a in labels and b in labels for a, b in edges)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_render_svg(tmp_path):
    _cnn_example().main(["--output", str(tmp_path / "g"), "--format", "svg"])
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "ConvolutionBackward0" in svg and "0.weight" in svg


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    x = torch.ones(1, requires_grad=True)
    with pytest.raises(ImportError, match=r"rtorch\[viz\]"):
        make_dot(x * 2)
