"""Minimal pytrees for the function transforms: tuples, lists and dicts of tensors (any
nesting); every other value is a leaf."""

from rtorch import _C


def flatten(tree):
    """(leaves, spec) with `unflatten(leaves, spec) == tree`."""
    leaves = []

    def walk(x):
        if isinstance(x, (tuple, list)):
            return (type(x), [walk(v) for v in x])
        if isinstance(x, dict):
            return (dict, [(k, walk(v)) for k, v in x.items()])
        leaves.append(x)
        return None

    return leaves, walk(tree)


def unflatten(leaves, spec):
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        kind, items = s
        if kind is dict:
            return {k: build(v) for k, v in items}
        vals = [build(v) for v in items]
        if kind is tuple or kind is list:
            return kind(vals)
        return kind._make(vals) if hasattr(kind, "_make") else kind(*vals)  # named tuples

    return build(spec)


def tensors_of(tree):
    return [x for x in flatten(tree)[0] if isinstance(x, _C.Tensor)]


def map_tensors(fn, tree):
    leaves, spec = flatten(tree)
    return unflatten([fn(x) if isinstance(x, _C.Tensor) else x for x in leaves], spec)
