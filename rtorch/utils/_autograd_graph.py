"""Walking an autograd graph backwards from its outputs.

The walk is iterative (an explicit stack), so graphs of any depth work, and visits each node
once, so a subgraph shared by several consumers appears once. ``make_dot`` and
``SummaryWriter.add_graph`` both draw what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    """One node of the walked graph.

    ``kind`` is ``"fn"`` (a ``grad_fn``), ``"accumulate"`` (the AccumulateGrad of a leaf) or
    ``"leaf"`` (an output that is itself a leaf tensor).
    """

    key: tuple
    kind: str
    fn: object = None
    variable: object = None
    # Keys of the nodes this one sends gradients to (its ``next_functions``), in order.
    inputs: list = field(default_factory=list)


def _key(fn):
    if hasattr(fn, "variable"):
        return ("accumulate", fn.variable._cdata)
    # A grad_fn hashes to its slot in the graph arena: unique while it is alive, and the walk
    # keeps every node it has seen alive.
    return ("fn", hash(fn))


def flatten_outputs(outputs):
    """The tensors in ``outputs`` (a tensor, or nested tuples/lists/dicts of them)."""
    from rtorch import Tensor

    found, stack = [], [outputs]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            found.append(o)
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))
        elif isinstance(o, (tuple, list)):
            stack.extend(reversed(o))
    return found


def walk(outputs):
    """Returns ``(roots, nodes)``: for each output tensor the key of its node (None when it
    takes no part in autograd), and every reachable node by key, in discovery order."""
    nodes = {}
    roots = []
    stack = []
    for t in flatten_outputs(outputs):
        fn = t.grad_fn
        if fn is not None:
            k = _key(fn)
            if k not in nodes:
                nodes[k] = Node(k, "fn", fn=fn)
                stack.append(nodes[k])
            roots.append(k)
        elif t.requires_grad:
            k = ("accumulate", t._cdata)
            if k not in nodes:
                nodes[k] = Node(k, "leaf", variable=t)
            roots.append(k)
        else:
            roots.append(None)
    while stack:
        node = stack.pop()
        for nxt, _ in node.fn.next_functions:
            if nxt is None:
                continue
            k = _key(nxt)
            node.inputs.append(k)
            if k in nodes:
                continue
            if hasattr(nxt, "variable"):
                nodes[k] = Node(k, "accumulate", fn=nxt, variable=nxt.variable)
            else:
                nodes[k] = Node(k, "fn", fn=nxt)
                stack.append(nodes[k])
    return roots, nodes


def shape_str(shape):
    """``(2, 3)``-style text for a shape (``()`` for a scalar)."""
    dims = tuple(int(s) for s in shape)
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
