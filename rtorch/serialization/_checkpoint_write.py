"""Writing PyTorch's checkpoint format: a zip archive (stored, not compressed) holding
``data.pkl`` (protocol-2 pickle; tensors refer to storages by persistent id), one
``data/<key>`` record of raw little-endian bytes per storage, and ``version``/``byteorder``
records. Storage records start on 64-byte boundaries so readers can memory-map them.
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import rtorch as torch

from ._names import STORAGE_CLASS, TorchName, dtype_name

ALIGNMENT = 64
_PAD_TAG = 0x5452  # our id for the padding extra field (any unused id works for readers)


class _StorageTable:
    """One record per distinct storage: tensors that share memory share the record."""

    def __init__(self):
        self.records = []  # (key, flat tensor over the whole storage)
        self._by_identity = {}

    def persistent_ref(self, t):
        numel = t._storage_numel()
        identity = (t.untyped_storage_ptr(), str(t.device))
        key = self._by_identity.get(identity) if numel and identity[0] else None
        if key is None:
            key = str(len(self.records))
            flat = t.detach().as_strided((numel,), (1,), 0)
            self.records.append((key, flat))
            if numel and identity[0]:
                self._by_identity[identity] = key
        name = dtype_name(t.dtype)
        location = "cpu" if t.device.type == "cpu" else str(t.device)
        if name in STORAGE_CLASS:
            kind, count = TorchName("torch", STORAGE_CLASS[name]), numel
        else:
            kind, count = TorchName("torch.storage", "UntypedStorage"), numel * t.element_size()
        return ("storage", kind, key, location, count)


class _StorageMarker:
    """Stands in the pickle for a storage; ``persistent_id`` turns it into its reference."""

    __slots__ = ("ref",)

    def __init__(self, ref):
        self.ref = ref


def _write_global(pickler, obj):
    pickler.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
    pickler.memoize(obj)


class _CheckpointPickler(pickle._Pickler):
    """The pure-Python pickler, so that globals can be written by PyTorch's names."""

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[TorchName] = _write_global

    def __init__(self, file, protocol, table):
        super().__init__(file, protocol)
        self._table = table
        # dtypes and devices are written as ``torch.float32`` / ``torch.device('cpu')``.
        self.dispatch = dict(self.dispatch)
        self.dispatch[torch.dtype] = lambda p, d: p.save(TorchName("torch", dtype_name(d)))

    def persistent_id(self, obj):
        return obj.ref if type(obj) is _StorageMarker else None

    def reducer_override(self, obj):
        if isinstance(obj, torch.Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, torch.Size):
            return TorchName("torch", "Size"), (tuple(int(s) for s in obj),)
        if isinstance(obj, torch.device):
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return TorchName("torch", "device"), args
        return NotImplemented

    def _reduce_tensor(self, t):
        if isinstance(t, torch.nn.Parameter):
            data = t.detach()
            hooks = collections.OrderedDict()
            return TorchName("torch._utils", "_rebuild_parameter"), (data, t.requires_grad, hooks)
        ref = _StorageMarker(self._table.persistent_ref(t))
        geometry = (t.storage_offset(), tuple(t.shape), tuple(t.stride()))
        common = (ref, *geometry, t.requires_grad, collections.OrderedDict())
        if ref.ref[1].name == "UntypedStorage":
            dtype = TorchName("torch", dtype_name(t.dtype))
            return TorchName("torch._utils", "_rebuild_tensor_v3"), (*common, dtype)
        return TorchName("torch._utils", "_rebuild_tensor_v2"), common


def _padding_extra(offset, name):
    """A local-header extra field that moves the record's data to the next aligned offset."""
    header_end = offset + 30 + len(name.encode("utf-8")) + 4
    pad = -header_end % ALIGNMENT
    return struct.pack("<HH", _PAD_TAG, pad) + b"\0" * pad


def _add_record(archive, name, data):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    # zipfile adds a 20-byte zip64 field before ours for records over 4 GiB.
    zip64 = 20 if len(data) > zipfile.ZIP64_LIMIT else 0
    info.extra = _padding_extra(archive.fp.tell() + zip64, name)
    archive.writestr(info, data)


def write_checkpoint(obj, f, protocol=2):
    """Writes ``obj`` to ``f`` (a path or a binary file) in PyTorch's zip format."""
    table = _StorageTable()
    pickled = io.BytesIO()
    _CheckpointPickler(pickled, protocol, table).dump(obj)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        _add_record(archive, "archive/data.pkl", pickled.getvalue())
        _add_record(archive, "archive/.format_version", b"1")
        _add_record(archive, "archive/.storage_alignment", str(ALIGNMENT).encode())
        _add_record(archive, "archive/byteorder", b"little")
        for key, flat in table.records:
            _add_record(archive, f"archive/data/{key}", bytes(torch._C._tensor_to_bytes(flat)))
        _add_record(archive, "archive/version", b"3\n")
    _write_out(f, buffer.getbuffer())


def _write_out(f, data):
    if isinstance(f, (str, os.PathLike)):
        with open(os.fspath(f), "wb") as fh:
            fh.write(data)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(
            f"rtorch.save: f must be a path or a binary file object, got {type(f).__name__}"
        )
