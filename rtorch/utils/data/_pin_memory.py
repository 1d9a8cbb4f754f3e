"""Page-locking batches for ``DataLoader(pin_memory=True)``: host-to-GPU copies from pinned
memory are faster and can overlap computation."""

import collections.abc
import copy

import rtorch as torch


def pin_memory(data):
    """``data`` with every tensor inside it copied to pinned host memory; containers keep
    their type where they can be rebuilt (tuples come back as lists, as in PyTorch)."""
    if isinstance(data, torch.Tensor):
        return data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        pinned = {k: pin_memory(v) for k, v in data.items()}
        try:
            clone = copy.copy(data)
            clone.update(pinned)
            return clone
        except (TypeError, AttributeError):
            return pinned
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(pin_memory(x) for x in data))
    if isinstance(data, tuple):
        return [pin_memory(x) for x in data]
    if isinstance(data, collections.abc.Sequence):
        pinned = [pin_memory(x) for x in data]
        try:
            clone = copy.copy(data)
            for i, x in enumerate(pinned):
                clone[i] = x
            return clone
        except TypeError:
            return pinned
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data
