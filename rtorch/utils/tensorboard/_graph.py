"""``SummaryWriter.add_graph``: a TensorBoard ``GraphDef`` of a model's autograd graph.

The model runs once on the example input (inputs that are floating tensors are made to
require gradients, so that they appear in the graph). Each ``grad_fn`` becomes an op node
named after it and placed under the name of the innermost module whose output it produced;
parameters appear under their module path, inputs under ``input/`` and outputs under
``output/``. Edges run in the forward direction, and each node carries its output shape.
"""

from __future__ import annotations

from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef

from .._autograd_graph import flatten_outputs, walk


def _shape_attr(shape, dtype=None):
    attr = {
        "_output_shapes": AttrValue(
            list=AttrValue.ListValue(
                shape=[TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(s)) for s in shape])]
            )
        )
    }
    if dtype is not None:
        attr["dtype"] = AttrValue(s=str(dtype).replace("torch.", "").encode())
    return attr


def _prepare_inputs(input_to_model):
    import rtorch

    if input_to_model is None:
        return ()
    args = input_to_model if isinstance(input_to_model, (tuple, list)) else (input_to_model,)
    out = []
    for a in args:
        if isinstance(a, rtorch.Tensor) and a.is_floating_point() and not a.requires_grad:
            a = a.detach().requires_grad_(True)
        out.append(a)
    return tuple(out)


def graph_def(model, input_to_model=None):
    import rtorch

    args = _prepare_inputs(input_to_model)
    root = type(model).__name__
    scope_of = {}  # grad_fn hash -> module path
    handles = []

    def mark(path):
        def hook(module, inputs, output):
            for t in flatten_outputs(output):
                if t.grad_fn is not None:
                    # Inner modules finish first: the innermost one names the node.
                    scope_of.setdefault(hash(t.grad_fn), path)

        return hook

    for name, m in model.named_modules():
        path = root + ("/" + name.replace(".", "/") if name else "")
        handles.append(m.register_forward_hook(mark(path)))
    try:
        with rtorch.enable_grad():
            outputs = model(*args)
    finally:
        for h in handles:
            h.remove()

    param_names = {p._cdata: n for n, p in model.named_parameters()}
    input_names = {
        a._cdata: f"input/input.{i}" for i, a in enumerate(args) if isinstance(a, rtorch.Tensor)
    }
    roots, nodes = walk(outputs)
    names = {}
    counts = {}
    defs = []
    for key, node in nodes.items():
        if node.kind == "fn":
            base = node.fn.name()
            scope = scope_of.get(hash(node.fn), root)
            n = counts[(scope, base)] = counts.get((scope, base), -1) + 1
            names[key] = f"{scope}/{base}" + (f"_{n}" if n else "")
            meta = node.fn._output_meta
            attr = _shape_attr(*meta) if meta is not None else {}
            defs.append(NodeDef(name=names[key], op=base, attr=attr))
        else:
            v = node.variable
            if v._cdata in input_names:
                names[key] = input_names[v._cdata]
                op = "IO Node"
            elif v._cdata in param_names:
                names[key] = root + "/" + param_names[v._cdata].replace(".", "/")
                op = "Parameter"
            else:
                names[key] = f"{root}/leaf_{len(names)}"
                op = "Leaf"
            defs.append(NodeDef(name=names[key], op=op, attr=_shape_attr(v.shape, v.dtype)))
    by_name = {d.name: d for d in defs}
    for key, node in nodes.items():
        by_name[names[key]].input.extend(names[k] for k in node.inputs)
    for j, (t, key) in enumerate(zip(flatten_outputs(outputs), roots)):
        d = NodeDef(name=f"output/output.{j}", op="IO Node", attr=_shape_attr(t.shape, t.dtype))
        if key is not None:
            d.input.append(names[key])
        defs.append(d)
    return GraphDef(node=defs, versions=VersionDef(producer=22))
