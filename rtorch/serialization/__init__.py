"""``rtorch.save`` / ``rtorch.load`` in PyTorch's checkpoint format.

``save`` writes the zip archive PyTorch writes (``data.pkl`` plus one raw record per
storage), so ``torch.load(f, weights_only=True)`` reads rtorch's state_dicts, and ``load``
reads files written by ``torch.save`` — zip archives, the older pickle-stream format, and
safetensors files. Loading is restricted by default (``weights_only=True``): only tensors,
containers, numbers, strings and explicitly allowed globals are rebuilt; nothing else runs.
"""

import io
import mmap as _mmap
import os
import pickle

from . import _safetensors
from ._allowlist import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals
from ._checkpoint_read import read_legacy_checkpoint, read_zip_checkpoint
from ._checkpoint_write import write_checkpoint
from ._locations import read_all

__all__ = [
    "save",
    "load",
    "add_safe_globals",
    "get_safe_globals",
    "clear_safe_globals",
    "safe_globals",
    "DEFAULT_PROTOCOL",
]

DEFAULT_PROTOCOL = 2
_ZIP_MAGIC = b"PK\x03\x04"


def save(
    obj,
    f,
    pickle_module=pickle,
    pickle_protocol=DEFAULT_PROTOCOL,
    _use_new_zipfile_serialization=True,
    _disable_byteorder_record=False,
):
    """Saves ``obj`` (tensors, modules' state_dicts, optimizer states, nested containers) to
    a path or binary file in PyTorch's zip checkpoint format."""
    if pickle_module is not pickle:
        raise ValueError("rtorch.save: only the standard pickle module is supported")
    if not _use_new_zipfile_serialization:
        raise ValueError(
            "rtorch.save: the legacy (pre-1.6) format can be read but not written; "
            "use the default zip format"
        )
    if not isinstance(pickle_protocol, int) or not 2 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL:
        raise ValueError(f"rtorch.save: unsupported pickle_protocol {pickle_protocol!r}")
    write_checkpoint(obj, f, pickle_protocol)


def _default_weights_only():
    if os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0") not in ("", "0"):
        return False
    return True


class _MappedFile(io.RawIOBase):
    """A read-only, seekable file over a memory map (zip records are read in place)."""

    def __init__(self, mapped):
        super().__init__()
        self._map, self._pos = mapped, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        chunk = self._map[self._pos : self._pos + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._map)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self):
        return self._pos

    def __getitem__(self, index):
        return self._map[index]


def _open_source(f, use_mmap):
    """(file-like with random access, first bytes) for a path, bytes or file object."""
    if use_mmap:
        if not isinstance(f, (str, os.PathLike)):
            raise ValueError("rtorch.load: mmap=True needs a file path")
        with open(os.fspath(f), "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if not size:
                return b""
            return _MappedFile(_mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ))
    return read_all(f)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **kwargs):
    """Loads what :func:`save` or ``torch.save`` wrote, or a safetensors file.

    ``weights_only=True`` (the default) rebuilds only tensors, containers, numbers, strings
    and globals allowed through :func:`add_safe_globals`; ``weights_only=False`` unpickles
    anything, for files you trust. ``map_location`` may be None (the saved devices), a
    device or string, a dict from saved locations to new ones, or a callable
    ``(storage, location)``. ``mmap=True`` reads the file through a memory map (tensors are
    still copied into rtorch's memory).
    """
    if weights_only is None:
        weights_only = pickle_module is None and _default_weights_only()
    if weights_only and pickle_module not in (None, pickle):
        raise RuntimeError(
            "rtorch.load: cannot load safely with weights_only=True when an explicit "
            "pickle_module is given"
        )
    if pickle_module not in (None, pickle):
        raise ValueError("rtorch.load: only the standard pickle module is supported")
    unknown = set(kwargs) - {"encoding"}
    if unknown:
        raise TypeError(f"rtorch.load got unexpected keyword arguments {sorted(unknown)}")
    data = _open_source(f, bool(mmap))
    head = bytes(data[:16])
    if head.startswith(_ZIP_MAGIC):
        return read_zip_checkpoint(io.BytesIO(data) if isinstance(data, bytes) else data,
                                   map_location, weights_only)
    if _safetensors.looks_like_safetensors(head):
        return _safetensors.load(bytes(data), map_location)
    if head[:1] == b"\x80":
        return read_legacy_checkpoint(bytes(data), map_location, weights_only)
    raise RuntimeError(
        "rtorch.load: the file is neither a PyTorch checkpoint (zip or legacy pickle) nor a "
        f"safetensors file (it starts with {head[:8]!r})"
    )
