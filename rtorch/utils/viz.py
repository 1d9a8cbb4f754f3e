"""Pictures of autograd graphs (``make_dot``, in the manner of the torchviz package).

``make_dot(loss, params=dict(model.named_parameters()))`` returns a ``graphviz.Digraph``:
one box per ``grad_fn`` (named as in PyTorch, e.g. ``MmBackward0``), an ``AccumulateGrad``
box per leaf with a box for the leaf itself labelled with its parameter name and shape, and a
box per output with its shape; on request, the tensors each gradient rule saved (orange) and
the scalar arguments it was built with. Edges follow the forward direction (input →
consumer). Its ``.source`` is DOT text, usable without Graphviz installed;
``.render(format="svg")`` and friends need the Graphviz ``dot`` program.
"""

from __future__ import annotations

from ._autograd_graph import flatten_outputs, shape_str, walk

__all__ = ["make_dot", "resize_graph"]

_FN_STYLE = {"fillcolor": "#e4e4e4"}
_LEAF_STYLE = {"fillcolor": "#a9d4f5"}
_OUT_STYLE = {"fillcolor": "#c8e6a0"}
_ACC_STYLE = {"fillcolor": "#f2f2f2"}
_SAVED_STYLE = {"fillcolor": "orange"}


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


def _attr_text(value, max_attr_chars):
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > max_attr_chars:
        text = text[: max(max_attr_chars - 3, 0)] + "..."
    return text


def _fn_label(fn, show_attrs, max_attr_chars):
    lines = [fn.name()]
    if show_attrs:
        # The scalar arguments the gradient rule was built with (PyTorch's `_saved_*`
        # attributes that are not tensors), then rtorch's own node metadata.
        for name, is_tensor in sorted(fn._describe_saved()):
            if not is_tensor:
                value = getattr(fn, "_saved_" + name)
                lines.append(f"{name}: {_attr_text(value, max_attr_chars)}")
        lines.append(f"sequence_nr: {fn._sequence_nr()}")
        meta = fn._output_meta
        if meta is not None:
            shape, dtype = meta
            lines.append(f"output: {shape_str(shape)} {dtype}"[:max_attr_chars])
    return "\\n".join(lines)


def _saved_tensors(fn):
    """``(label, tensor or None)`` for each tensor the node's rule saved; None once backward
    has freed it."""
    found = []
    for name, is_tensor in sorted(fn._describe_saved()):
        if not is_tensor:
            continue
        try:
            value = getattr(fn, "_saved_" + name)
        except RuntimeError:  # released by backward (retain_graph=False)
            found.append((name, None))
            continue
        if isinstance(value, tuple):
            found.extend((f"{name}[{i}]", t) for i, t in enumerate(value) if t is not None)
        else:
            found.append((name, value))
    return found


def _tensor_key(t):
    # Saved handles of one tensor are distinct Python objects: the memory they view (address,
    # geometry, dtype) identifies them.
    return (t.data_ptr(), tuple(t.shape), tuple(t.stride()), str(t.dtype))


def _draw_saved(dot, fn_id, fn, names, seen):
    for label, t in _saved_tensors(fn):
        if t is None:
            sid = f"{fn_id}s{len(seen)}"
            seen[("freed", sid)] = sid
            dot.node(sid, f"{label}\\n(freed)", **_SAVED_STYLE)
            dot.edge(sid, fn_id, dir="none")
            continue
        key = _tensor_key(t)
        sid = seen.get(key)
        if sid is None:
            sid = seen[key] = f"s{len(seen)}"
            lines = [label]
            if t._cdata in names:
                lines.append(names[t._cdata])
            lines.append(shape_str(t.shape))
            dot.node(sid, "\\n".join(lines), **_SAVED_STYLE)
        dot.edge(sid, fn_id, dir="none")


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50):
    """The autograd graph that produced ``var`` (a tensor or a tuple/list/dict of tensors).

    ``params`` maps names to tensors (``dict(model.named_parameters())``) to label leaves.
    ``show_attrs=True`` lists in each node the scalar arguments its gradient rule saved
    (``dim``, ``keepdim``, sizes...; values cut to ``max_attr_chars``), its sequence number and
    its output's shape and dtype. ``show_saved=True`` draws each tensor a rule saved
    (``grad_fn._saved_*``) as an orange box joined to the node by an undirected edge; a tensor
    saved by several nodes is drawn once, and one already freed by ``backward()`` is drawn as
    ``(freed)``.
    """
    graphviz = _graphviz()
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
    saved_seen = {}
    for i, (key, node) in enumerate(nodes.items()):
        ids[key] = f"n{i}"
        if node.kind == "fn":
            dot.node(ids[key], _fn_label(node.fn, show_attrs, max_attr_chars), **_FN_STYLE)
            if show_saved:
                _draw_saved(dot, ids[key], node.fn, names, saved_seen)
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
