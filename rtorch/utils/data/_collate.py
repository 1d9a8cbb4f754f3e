"""``default_collate`` / ``default_convert`` (``torch.utils.data._utils.collate``)."""

import collections.abc
import copy
import re

import numpy as np

import rtorch as torch

__all__ = ["collate", "default_collate", "default_convert"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def collate_tensor_fn(batch, *, collate_fn_map=None):
    return torch.stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    # Arrays of strings or objects cannot become tensors.
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([torch.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    # Through an array so numpy's dtype (e.g. float32 for np.float32 scalars) is kept.
    return torch.as_tensor(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return torch.tensor(list(batch), dtype=torch.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return torch.tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


_default_collate_fn_map = None


def _get_default_collate_fn_map():
    # Built on first use: rtorch.Tensor may not exist yet while rtorch itself is importing.
    global _default_collate_fn_map
    if _default_collate_fn_map is None:
        _default_collate_fn_map = {
            torch.Tensor: collate_tensor_fn,
            np.ndarray: collate_numpy_array_fn,
            (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
            float: collate_float_fn,
            int: collate_int_fn,
            str: collate_str_fn,
            bytes: collate_str_fn,
        }
    return _default_collate_fn_map


def __getattr__(name):
    if name == "default_collate_fn_map":
        return _get_default_collate_fn_map()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def collate(batch, *, collate_fn_map=None):
    """Collate a list of samples by the type of the first sample (see ``default_collate``)."""
    elem = batch[0]
    elem_type = type(elem)

    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                # Keep the mapping's type and extra attributes.
                clone = copy.copy(elem)
                clone.update(
                    {
                        key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                        for key in elem
                    }
                )
                return clone
            return elem_type(
                {
                    key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                    for key in elem
                }
            )
        except TypeError:
            return {
                key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem
            }
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(
            *(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch))
        )
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))

        if isinstance(elem, tuple):
            # PyTorch returns a list for tuples too.
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = collate(samples, collate_fn_map=collate_fn_map)
                return clone
            return elem_type(
                [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
            )
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]

    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Stack tensors, convert numpy arrays and numbers to tensors, recurse into containers.

    Python floats become float64 tensors and ints int64; strings stay as lists; tuples
    become lists; mappings and namedtuples keep their type.
    """
    return collate(batch, collate_fn_map=_get_default_collate_fn_map())


def default_convert(data):
    """Convert numpy arrays in ``data`` to tensors (used when automatic batching is off)."""
    elem_type = type(data)
    if isinstance(data, torch.Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_"):
        if elem_type.__name__ == "ndarray" and np_str_obj_array_pattern.search(data.dtype.str):
            return data
        return torch.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
