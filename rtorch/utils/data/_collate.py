"""``default_collate`` / ``default_convert`` (``torch.utils.data._utils.collate``).

Both walk nested containers; :func:`rebuild_like` puts converted members back into a
container of the original kind, and is shared with the pin-memory helper.
"""

import collections.abc as abc
import copy

import numpy as np

import rtorch as torch

__all__ = ["collate", "default_collate", "default_convert"]

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)

# numpy dtype kinds with no tensor counterpart: bytes, unicode, Python objects.
_TEXT_OR_OBJECT_KINDS = frozenset("SUO")

NOT_A_CONTAINER = object()


def rebuild_like(template, members):
    """``members`` (a dict for mappings, a list otherwise) in the container kind of
    ``template``: namedtuples keep their type and plain tuples become lists; mutable
    containers are shallow-copied and refilled so subclasses keep extra state; others are
    rebuilt from ``members``, or ``members`` itself when their type cannot be."""
    if isinstance(template, tuple):
        if hasattr(template, "_fields"):
            return type(template)(*members)
        return list(members)
    try:
        if isinstance(template, abc.MutableMapping):
            out = copy.copy(template)
            out.update(members)
            return out
        if isinstance(template, abc.MutableSequence):
            out = copy.copy(template)
            for slot, value in enumerate(members):
                out[slot] = value
            return out
        return type(template)(members)
    except TypeError:
        return members


def map_container(data, fn):
    """Apply ``fn`` to each member of a mapping or (non-text) sequence and rebuild it;
    ``NOT_A_CONTAINER`` for anything else."""
    if isinstance(data, abc.Mapping):
        return rebuild_like(data, {key: fn(value) for key, value in data.items()})
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        return rebuild_like(data, [fn(value) for value in data])
    return NOT_A_CONTAINER


# ---- per-type collate functions (the default dispatch table) --------------------------


def collate_tensor_fn(batch, *, collate_fn_map=None):
    return torch.stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    dtype = batch[0].dtype
    if dtype.kind in _TEXT_OR_OBJECT_KINDS:
        raise TypeError(default_collate_err_msg_format.format(dtype))
    tensors = [torch.as_tensor(array) for array in batch]
    return collate(tensors, collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    # Through one array so numpy's dtype (e.g. float32 for np.float32 scalars) is kept.
    return torch.as_tensor(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return torch.tensor(list(batch), dtype=torch.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return torch.tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


# The dispatch table of default_collate; a custom table may extend a copy of it.
default_collate_fn_map = {
    torch.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def _lookup(table, sample):
    """The handler for ``sample``: its exact type first, then the first key it is an
    instance of (keys may be tuples of types), in table order."""
    handler = table.get(type(sample))
    if handler is not None:
        return handler
    for key, candidate in table.items():
        if isinstance(sample, key):
            return candidate
    return None


def collate(batch, *, collate_fn_map=None):
    """Collate a list of samples by the type of the first sample (see ``default_collate``)."""
    first = batch[0]
    if collate_fn_map is not None:
        handler = _lookup(collate_fn_map, first)
        if handler is not None:
            return handler(batch, collate_fn_map=collate_fn_map)

    def again(column):
        return collate(column, collate_fn_map=collate_fn_map)

    if isinstance(first, abc.Mapping):
        return rebuild_like(first, {key: again([sample[key] for sample in batch]) for key in first})
    if isinstance(first, abc.Sequence):
        if len({len(sample) for sample in batch}) != 1:
            raise RuntimeError("each element in list of batch should be of equal size")
        return rebuild_like(first, [again(column) for column in zip(*batch)])
    raise TypeError(default_collate_err_msg_format.format(type(first)))


def default_collate(batch):
    """Stack tensors, convert numpy arrays and numbers to tensors, recurse into containers.

    Python floats become float64 tensors and ints int64; strings stay as lists; tuples
    become lists; mappings and namedtuples keep their type.
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Convert numpy arrays and scalars in ``data`` to tensors (used when automatic batching
    is off); containers are walked, everything else is returned as is."""
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in _TEXT_OR_OBJECT_KINDS else torch.as_tensor(data)
    if isinstance(data, np.generic):
        return data if isinstance(data, (np.str_, np.bytes_)) else torch.as_tensor(data)
    converted = map_container(data, default_convert)
    return data if converted is NOT_A_CONTAINER else converted
