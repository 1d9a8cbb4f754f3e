"""Where loaded tensors go (``map_location``) and how a checkpoint's bytes are read."""

import os

import rtorch as torch


def read_all(f):
    """The whole content of a path, a bytes-like object or a binary file object."""
    if isinstance(f, (str, os.PathLike)):
        with open(os.fspath(f), "rb") as fh:
            return fh.read()
    if isinstance(f, (bytes, bytearray, memoryview)):
        return bytes(f)
    if hasattr(f, "read"):
        data = f.read()
        if isinstance(data, str):
            raise TypeError("rtorch.load: file must be opened in binary mode ('rb')")
        return data
    raise TypeError(
        f"rtorch.load: f must be a path or a binary file object, got {type(f).__name__}"
    )


def _target_name(target):
    return target if isinstance(target, str) else str(target)


def restore_location(t, saved_location, map_location):
    """``t`` (loaded on the CPU) moved to where ``map_location`` sends ``saved_location``.

    ``map_location`` may be None (the saved device), a device or string, a dict from saved
    locations to new ones, or a callable ``(tensor, location)`` whose None result keeps the
    tensor where the checkpoint put it.
    """
    if callable(map_location) and not isinstance(map_location, (str, dict, torch.device)):
        result = map_location(t, saved_location)
        if result is not None:
            return result
        target = saved_location
    elif map_location is None:
        target = saved_location
    elif isinstance(map_location, dict):
        target = map_location.get(saved_location, saved_location)
    else:
        target = map_location
    kind = _target_name(target).split(":")[0]
    if kind == "cpu":
        return t
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "Attempting to deserialize object on a CUDA device but "
            "torch.cuda.is_available() is False. If you are running on a CPU-only machine, "
            "please use torch.load with map_location=torch.device('cpu') to map your "
            "storages to the CPU."
        )
    if kind not in ("cuda",):
        raise RuntimeError(f"rtorch.load: don't know how to restore data location {target!r}")
    return t.to(_target_name(target))
