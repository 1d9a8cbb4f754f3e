"""Pictures of autograd graphs (``make_dot``, in the manner of the torchviz package).

``make_dot(loss, params=dict(model.named_parameters()))`` returns a ``graphviz.Digraph``:
one box per ``grad_fn`` (named as in PyTorch, e.g. ``MmBackward0``), an ``AccumulateGrad``
box per leaf with a box for the leaf itself labelled with its parameter name and shape, and a
box per output with its shape. Edges follow the forward direction (input → consumer). Its
``.source`` is DOT text, usable without Graphviz installed; ``.render(format="svg")`` and
friends need the Graphviz ``dot`` program.
"""

from __future__ import annotations

from ._autograd_graph import flatten_outputs, shape_str, walk

__all__ = ["make_dot", "resize_graph"]

_FN_STYLE = {"fillcolor": "#e4e4e4"}
_LEAF_STYLE = {"fillcolor": "#a9d4f5"}
_OUT_STYLE = {"fillcolor": "#c8e6a0"}
_ACC_STYLE = {"fillcolor": "#f2f2f2"}


def _graphviz():
    try:
        import graphviz
    except ImportError as e:  # pragma: no cover - exercised only without the package
        raise ImportError(
            "rtorch.utils.viz needs the 'graphviz' Python package: pip install 'rtorch[viz]'"
        ) from e
    return graphviz


def _leaf_label(var, names, show_attrs):
    name = names.get(var._cdata, "")
    lines = [name] if name else []
    lines.append(shape_str(var.shape))
    if show_attrs:
        lines.append(str(var.dtype).replace("torch.", ""))
    return "\\n".join(lines)


def _fn_label(fn, show_attrs, max_attr_chars):
    lines = [fn.name()]
    if show_attrs:
        # rtorch's nodes keep their gradient rule's tensors inside compiled closures; what a
        # node exposes by name is its creation order and the metadata of the tensor it made.
        lines.append(f"sequence_nr: {fn._sequence_nr()}")
        meta = fn._output_meta
        if meta is not None:
            shape, dtype = meta
            lines.append(f"output: {shape_str(shape)} {dtype}"[:max_attr_chars])
    return "\\n".join(lines)


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50):
    """The autograd graph that produced ``var`` (a tensor or a tuple/list/dict of tensors).

    ``params`` maps names to tensors (``dict(model.named_parameters())``) to label leaves.
    ``show_attrs=True`` adds each node's sequence number and output shape and dtype.
    ``show_saved=True`` is not supported: rtorch's gradient rules hold their saved tensors
    privately, so a picture of them cannot be drawn faithfully.
    """
    graphviz = _graphviz()
    if show_saved:
        raise NotImplementedError(
            "make_dot(show_saved=True): rtorch's grad_fn nodes do not expose the tensors "
            "their gradient rules saved; use show_attrs=True for each node's output metadata"
        )
    names = {}
    if params is not None:
        items = params.items() if hasattr(params, "items") else params
        for name, p in items:
            names[p._cdata] = name
    dot = graphviz.Digraph(
        node_attr={
            "style": "filled",
            "shape": "box",
            "fontname": "monospace",
            "fontsize": "10",
            "height": "0.2",
        },
        graph_attr={"size": "12,12", "ranksep": "0.15"},
    )
    roots, nodes = walk(var)
    ids = {}
    for i, (key, node) in enumerate(nodes.items()):
        ids[key] = f"n{i}"
        if node.kind == "fn":
            dot.node(ids[key], _fn_label(node.fn, show_attrs, max_attr_chars), **_FN_STYLE)
        elif node.kind == "accumulate":
            dot.node(ids[key], "AccumulateGrad", **_ACC_STYLE)
            dot.node(ids[key] + "v", _leaf_label(node.variable, names, show_attrs), **_LEAF_STYLE)
            dot.edge(ids[key] + "v", ids[key])
        else:  # an output that is itself a leaf
            dot.node(ids[key], _leaf_label(node.variable, names, show_attrs), **_LEAF_STYLE)
    for key, node in nodes.items():
        for src in node.inputs:
            dot.edge(ids[src], ids[key])
    for j, (t, key) in enumerate(zip(flatten_outputs(var), roots)):
        if key is None or nodes[key].kind == "leaf":
            continue
        out = f"o{j}"
        dot.node(out, shape_str(t.shape), **_OUT_STYLE)
        dot.edge(ids[key], out)
    resize_graph(dot)
    return dot


def resize_graph(dot, size_per_element=0.15, min_size=12):
    """Scales the drawing's size attribute with the number of nodes, so large graphs stay
    legible."""
    count = sum(1 for line in dot.body if "label=" in line)
    side = max(min_size, count * size_per_element)
    dot.graph_attr.update(size=f"{side},{side}")
