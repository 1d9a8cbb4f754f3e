"""Batching rules for views (reshape, transpose, indexing with ints/slices/None/Ellipsis,
expand, split) and the matmul family. The physical tensor keeps the batch dim first, so a
logical dim d is physical d + 1 and a logical shape s is physical (B, *s)."""

from ._batched import BatchedTensor, _norm, _NoRule, aligned, elementwise, is_batched
from ._batched_reduce import physical_dims


def _shape_arg(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _B(x):
    return x._p.shape[0]


def _reshape(self, *shape):
    shape = _shape_arg(shape)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        raise _NoRule("reshape to a non-integer shape")
    return BatchedTensor(self._p.reshape((_B(self),) + shape))


def _view(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int)):
        raise _NoRule("view(dtype)")
    # Per-example semantics are the same; only aliasing differs, and writes never reach here.
    return _reshape(self, *shape)


def _flatten(self, start_dim=0, end_dim=-1):
    n = self.dim()
    if n == 0:
        return BatchedTensor(self._p.reshape(_B(self), 1))
    return BatchedTensor(self._p.flatten(_norm(start_dim, n) + 1, _norm(end_dim, n) + 1))


def _unflatten(self, dim, sizes):
    return BatchedTensor(self._p.unflatten(physical_dims(self, dim), sizes))


def _unsqueeze(self, dim):
    return BatchedTensor(self._p.unsqueeze(_norm(dim, self.dim() + 1) + 1))


def _squeeze(self, dim=None):
    shape = tuple(self.shape)
    if dim is None:
        drop = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        if len(shape) == 0:
            return self
        drop = {d for d in (_norm(d, len(shape)) for d in dims) if shape[d] == 1}
    kept = tuple(s for i, s in enumerate(shape) if i not in drop)
    return BatchedTensor(self._p.reshape((_B(self),) + kept))


def _transpose(self, dim0, dim1):
    if self.dim() == 0:
        raise _NoRule("transpose of a 0-d tensor")
    return BatchedTensor(self._p.transpose(physical_dims(self, dim0), physical_dims(self, dim1)))


def _t(self):
    if self.dim() < 2:
        return self
    if self.dim() > 2:
        raise _NoRule("t() of a tensor with more than 2 dims")
    return BatchedTensor(self._p.transpose(1, 2))


def _permute(self, *dims):
    dims = _shape_arg(dims)
    if len(dims) != self.dim():
        raise _NoRule("permute with the wrong number of dims")
    return BatchedTensor(self._p.permute((0,) + physical_dims(self, dims)))


def _movedim(self, source, destination):
    return BatchedTensor(self._p.movedim(physical_dims(self, source), physical_dims(self, destination)))


def _expand(self, *sizes):
    sizes = _shape_arg(sizes)
    k = len(sizes) - self.dim()
    if k < 0 or any(s == -1 for s in sizes[:k]):
        raise _NoRule("expand to fewer dims")
    return BatchedTensor(aligned(self, len(sizes)).expand((_B(self),) + sizes))


def _narrow(self, dim, start, length):
    if not isinstance(start, int):
        raise _NoRule("narrow with a tensor start")
    return BatchedTensor(self._p.narrow(physical_dims(self, dim), start, length))


def _select(self, dim, index):
    if not isinstance(index, int) or isinstance(index, bool):
        raise _NoRule("select with a tensor index")
    return BatchedTensor(self._p.select(physical_dims(self, dim), index))


def _getitem(self, index):
    idx = index if isinstance(index, tuple) else (index,)
    for i in idx:
        ok = (i is None or i is Ellipsis or (isinstance(i, int) and not isinstance(i, bool))
              or (isinstance(i, slice) and all(v is None or (isinstance(v, int) and not isinstance(v, bool))
                                               for v in (i.start, i.stop, i.step))))
        if not ok:
            raise _NoRule("advanced (tensor, list or bool) indexing")
    return BatchedTensor(self._p[(slice(None),) + idx])


def _pieces(name):
    def rule(self, arg, dim=0):
        return tuple(BatchedTensor(t) for t in getattr(self._p, name)(arg, physical_dims(self, dim)))

    rule.__name__ = name
    return rule


def _unbind(self, dim=0):
    return tuple(BatchedTensor(t) for t in self._p.unbind(physical_dims(self, dim)))


def _flip(self, *dims):
    return BatchedTensor(self._p.flip(physical_dims(self, _shape_arg(dims))))


def _last_two(name):
    def rule(self, *args, **kwargs):
        if self.dim() < 2:
            raise _NoRule(f"{name} needs a matrix")
        return BatchedTensor(getattr(self._p, name)(*args, **kwargs))

    rule.__name__ = name
    return rule


def _diagonal(self, offset=0, dim1=0, dim2=1):
    return BatchedTensor(self._p.diagonal(offset, physical_dims(self, dim1), physical_dims(self, dim2)))


def _repeat(self, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < self.dim():
        raise _NoRule("repeat with fewer sizes than dims")
    return BatchedTensor(aligned(self, len(sizes)).repeat((1,) + sizes))


for _name, _rule in {
    "reshape": _reshape, "view": _view, "flatten": _flatten, "ravel": lambda self: _flatten(self),
    "unflatten": _unflatten, "unsqueeze": _unsqueeze, "squeeze": _squeeze,
    "transpose": _transpose, "swapaxes": _transpose, "swapdims": _transpose, "t": _t,
    "permute": _permute, "movedim": _movedim, "moveaxis": _movedim, "expand": _expand,
    "broadcast_to": _expand, "narrow": _narrow, "select": _select, "__getitem__": _getitem,
    "chunk": _pieces("chunk"), "split": _pieces("split"), "unbind": _unbind, "flip": _flip,
    "tril": _last_two("tril"), "triu": _last_two("triu"), "diagonal": _diagonal, "repeat": _repeat,
    "reshape_as": lambda self, other: _reshape(self, tuple(other.shape)),
    "view_as": lambda self, other: _reshape(self, tuple(other.shape)),
    "expand_as": lambda self, other: _expand(self, tuple(other.shape)),
}.items():
    setattr(BatchedTensor, _name, _rule)

BatchedTensor.T = property(lambda self: _permute(self, tuple(range(self.dim() - 1, -1, -1))))


def _mT(self):
    if self.dim() < 2:
        raise _NoRule("mT of a tensor with fewer than 2 dims")
    return _transpose(self, -2, -1)


BatchedTensor.mT = property(_mT)


# ---- matmul family -------------------------------------------------------------------
def matmul(a, b):
    """Logical torch.matmul for any mix of batched and plain operands."""
    if not (is_batched(a) or is_batched(b)):
        raise _NoRule("matmul without a batched operand")
    if not hasattr(b, "dim") or not hasattr(a, "dim"):
        raise _NoRule("matmul with a non-tensor")
    if a.dim() == 0 or b.dim() == 0 or a.dtype != b.dtype:
        raise _NoRule("matmul of a 0-d tensor or of mixed dtypes")
    vec_a, vec_b = a.dim() == 1, b.dim() == 1
    a2 = a.unsqueeze(0) if vec_a else a
    b2 = b.unsqueeze(-1) if vec_b else b
    rank = max(a2.dim(), b2.dim())
    pa = aligned(a2, rank) if is_batched(a2) else a2
    pb = aligned(b2, rank) if is_batched(b2) else b2
    out = pa.matmul(pb)
    if vec_b:
        out = out.squeeze(-1)
    if vec_a:
        out = out.squeeze(-1 if vec_b else -2)
    return BatchedTensor(out)


def _ranked(name, ra, rb):
    def rule(a, b):
        if a.dim() != ra or getattr(b, "dim", lambda: -1)() != rb:
            raise _NoRule(f"{name} with operands of the wrong rank")
        if name == "bmm" and a.shape[0] != b.shape[0]:
            raise _NoRule("bmm batch mismatch")
        return matmul(a, b)

    rule.__name__ = name
    return rule


def outer(a, b):
    if a.dim() != 1 or b.dim() != 1:
        raise _NoRule("outer of non-vectors")
    return elementwise(lambda x, y: x * y, a.unsqueeze(-1), b.unsqueeze(0))


MATMUL_RULES = {
    "matmul": matmul, "mm": _ranked("mm", 2, 2), "bmm": _ranked("bmm", 3, 3),
    "mv": _ranked("mv", 2, 1), "dot": _ranked("dot", 1, 1), "outer": outer, "ger": outer,
}
for _name, _rule in MATMUL_RULES.items():
    setattr(BatchedTensor, _name, _rule)
BatchedTensor.__matmul__ = matmul
BatchedTensor.__rmatmul__ = lambda self, other: matmul(other, self)
