"""Batching rules for reductions and dim-wise ops (softmax, cumsum, sort): a logical dim d is
physical dim d + 1, and "all dims" (dim=None) reduces the flattened example."""

from ._batched import BatchedTensor, _norm, _NoRule, elementwise, is_batched, wrap_tree

_MISSING = object()


def _take(args, kwargs, pos, name, default):
    if len(args) > pos:
        return args[pos], "args"
    if name in kwargs:
        return kwargs[name], "kwargs"
    return default, None


def _put(args, kwargs, pos, name, value, where):
    if where == "args":
        args = args[:pos] + (value,) + args[pos + 1:]
    else:
        kwargs = dict(kwargs)
        kwargs[name] = value
    return args, kwargs


def physical_dims(x, dim):
    """Logical dim (int or sequence) -> physical dim(s)."""
    n = x.dim()
    if isinstance(dim, (tuple, list)):
        return tuple(_norm(d, n) + 1 for d in dim)
    return _norm(dim, n) + 1


def _reduction(name, dim_pos=0, keep_pos=1, all_default=None):
    def rule(self, *args, **kwargs):
        dim, where = _take(args, kwargs, dim_pos, "dim", all_default)
        if name in ("max", "min") and (is_batched(dim) or hasattr(dim, "dtype")):
            return elementwise(lambda a, b: getattr(a, name)(b), self, dim)  # max(other)
        if isinstance(dim, (tuple, list)) and len(dim) == 0:
            dim = None
        if dim is not None:
            if self.dim() == 0:
                raise _NoRule("reduction over a dim of a 0-d tensor")
            args, kwargs = _put(args, kwargs, dim_pos, "dim", physical_dims(self, dim), where)
            return wrap_tree(getattr(self._p, name)(*args, **kwargs))
        # All logical dims: reduce the flattened example along physical dim 1.
        b = self._p.shape[0]
        if b == 0:
            raise _NoRule("empty batch")
        keep, kwhere = _take(args, kwargs, keep_pos, "keepdim", False)
        if kwhere is not None and name in ("max", "min"):
            raise _NoRule("max/min with keepdim but no dim")  # not an overload of PyTorch's
        if where is None and len(args) > dim_pos:
            raise _NoRule("positional arguments after an omitted dim")
        if where is None:
            args = args[:dim_pos] + (None,) * (dim_pos - len(args))
            where = "args"
        args, kwargs = _put(args, kwargs, dim_pos, "dim", 1, where)
        if kwhere is not None:
            args, kwargs = _put(args, kwargs, keep_pos, "keepdim", False, kwhere)
        flat_name = {"max": "amax", "min": "amin"}.get(name, name)  # no dim: values only
        out = getattr(self._p.reshape(b, -1), flat_name)(*args, **kwargs)
        if isinstance(out, tuple):
            raise _NoRule("tuple result of an all-dims reduction")
        if keep:
            out = out.reshape((b,) + (1,) * self.dim())
        return BatchedTensor(out)

    rule.__name__ = name
    return rule


for _name in ("sum", "nansum", "mean", "nanmean", "prod", "max", "min", "argmax", "argmin",
              "all", "any", "logsumexp", "var", "std", "count_nonzero"):
    setattr(BatchedTensor, _name, _reduction(_name))
for _name in ("amax", "amin"):
    setattr(BatchedTensor, _name, _reduction(_name, all_default=()))


def _norm_rule(self, p="fro", dim=None, keepdim=False, dtype=None):
    if not (p == "fro" or isinstance(p, (int, float))):
        raise _NoRule(f"norm with p={p!r}")
    if dim is None and p == "fro":
        p = 2
    kw = {} if dtype is None else {"dtype": dtype}
    return _reduction("norm", dim_pos=1, keep_pos=2)(self, p, dim, keepdim, **kw)


BatchedTensor.norm = _norm_rule


def _dimwise(name, dim_pos=0, default=_MISSING):
    """Ops that keep the shape and work along one dim (softmax, cumsum, sort, ...)."""

    def rule(self, *args, **kwargs):
        dim, where = _take(args, kwargs, dim_pos, "dim", default)
        if dim is _MISSING or dim is None:
            raise _NoRule(f"{name} without an explicit dim")
        if where is None:
            args, kwargs = _put(args, kwargs, dim_pos, "dim", dim, "kwargs")
            where = "kwargs"
        args, kwargs = _put(args, kwargs, dim_pos, "dim", physical_dims(self, dim), where)
        return wrap_tree(getattr(self._p, name)(*args, **kwargs))

    rule.__name__ = name
    return rule


for _name in ("softmax", "log_softmax", "cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"):
    setattr(BatchedTensor, _name, _dimwise(_name))
for _name in ("sort", "argsort"):
    setattr(BatchedTensor, _name, _dimwise(_name, default=-1))
BatchedTensor.topk = _dimwise("topk", dim_pos=1, default=-1)
