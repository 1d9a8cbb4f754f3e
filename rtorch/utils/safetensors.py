"""safetensors files (no pickle, nothing executes on load).

``save_file``/``load_file``/``save``/``load`` behave like the ``safetensors`` package's
torch functions (flat ``dict[str, Tensor]``). ``save_object``/``load_object`` store whole
nested objects — dicts, lists, tuples, numbers, strings next to the tensors — by keeping
the structure in the file's metadata; other safetensors readers still see the tensors.
"""

import io
import os

from rtorch.serialization import _safetensors

__all__ = ["save_file", "load_file", "save", "load", "save_object", "load_object"]


def _flat_tensors(tensors, what):
    import rtorch

    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, rtorch.Tensor) for k, v in tensors.items()
    ):
        raise TypeError(f"{what} expects a dict of str to Tensor")
    return tensors


def _metadata(metadata, what):
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError(f"{what}: metadata must map str to str")
    return metadata


def save(tensors, metadata=None):
    """The safetensors bytes of ``tensors`` (a dict of str to Tensor)."""
    _flat_tensors(tensors, "safetensors.save")
    return _safetensors.to_bytes(tensors, _metadata(metadata, "safetensors.save"))


def save_file(tensors, filename, metadata=None):
    """Writes ``tensors`` (a dict of str to Tensor) to ``filename``."""
    data = save(tensors, metadata)
    with open(os.fspath(filename), "wb") as fh:
        fh.write(data)


def _as_flat_dict(obj):
    if isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
        return dict(obj)
    raise ValueError("the safetensors file holds a nested object; read it with load_object")


def load(data, device="cpu"):
    """The tensors of safetensors ``data`` (bytes), as a dict."""
    return _as_flat_dict(_safetensors.load(io.BytesIO(bytes(data)), device))


def load_file(filename, device="cpu"):
    """The tensors of the safetensors file ``filename``, as a dict, on ``device``."""
    return _as_flat_dict(_safetensors.load(os.fspath(filename), device))


def save_object(obj, f):
    """Writes ``obj`` (tensors in nested dicts/lists/tuples) to a path or binary file."""
    _safetensors.save(obj, f)


def load_object(f, map_location=None):
    """Reads what :func:`save_object` wrote (or any safetensors file, as a dict)."""
    return _safetensors.load(f, map_location)
