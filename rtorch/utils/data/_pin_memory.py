"""Page-locking batches for ``DataLoader(pin_memory=True)``: host-to-GPU copies from pinned
memory are faster and can overlap computation."""

import rtorch as torch

from ._collate import NOT_A_CONTAINER, map_container


def pin_memory(data):
    """``data`` with every tensor inside it copied to pinned host memory; containers keep
    their type where they can be rebuilt (tuples come back as lists)."""
    if isinstance(data, torch.Tensor):
        return data.pin_memory()
    pinned = map_container(data, pin_memory)
    if pinned is not NOT_A_CONTAINER:
        return pinned
    if not isinstance(data, (str, bytes)) and hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data
