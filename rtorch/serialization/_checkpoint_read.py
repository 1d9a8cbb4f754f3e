"""Reading PyTorch checkpoints: the zip format (PyTorch ≥ 1.6) and the older stream of
pickles. Storages become flat rtorch tensors; every tensor in the pickle is a strided view
of its storage, so tensors that shared memory when saved share it again.
"""

import importlib
import io
import pickle
import sys
import zipfile

import rtorch as torch

from . import _allowlist
from ._locations import restore_location
from ._names import FOREIGN_DTYPES, STORAGE_DTYPE, StorageKind, itemsize

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


def _corrupt(msg):
    return pickle.UnpicklingError(f"rtorch.load: corrupt checkpoint: {msg}")


class _Storage:
    """One storage of the checkpoint: raw bytes, turned into flat tensors on demand."""

    def __init__(self, kind, numel, location, map_location):
        self.kind, self.numel, self.location = kind, numel, location
        self.map_location = map_location
        self.data = None
        self.deferred = False
        self._flat = {}

    def flat(self, dtype):
        """The whole storage as a 1-D tensor of ``dtype`` (one per dtype, then shared)."""
        flat = self._flat.get(dtype)
        if flat is not None:
            return flat
        if self.data is None:
            if not self.deferred or dtype != self.kind.dtype:
                raise _corrupt("a tensor refers to a storage whose data was never read")
            # Legacy files put the bytes after the pickle: views are made now, filled later.
            flat = torch.zeros(self.numel, dtype=dtype)
        else:
            size = itemsize(dtype)
            if len(self.data) % size:
                raise RuntimeError(
                    f"rtorch.load: a storage of {len(self.data)} bytes cannot hold "
                    f"elements of {dtype} ({size} bytes each)"
                )
            flat = torch._C._tensor_from_bytes(self.data, dtype, [len(self.data) // size])
        flat = restore_location(flat, self.location, self.map_location)
        self._flat[dtype] = flat
        return flat

    def fill(self, data):
        """Sets the bytes of a deferred storage, writing them into the views already made."""
        self.data = data
        flat = self._flat.get(self.kind.dtype)
        if flat is not None:
            with torch.no_grad():
                flat.copy_(torch._C._tensor_from_bytes(data, self.kind.dtype, [self.numel]))


def _int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise _corrupt(f"tensor {what} must be a tuple of ints, got {value!r}")
    return tuple(value)


def _rebuild(storage, offset, size, stride, requires_grad, dtype=None):
    if not isinstance(storage, _Storage):
        raise _corrupt(f"expected a storage reference, got {type(storage).__name__}")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise _corrupt(f"storage offset must be an int, got {offset!r}")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    dtype = dtype if dtype is not None else storage.kind.dtype
    if not isinstance(dtype, torch.dtype):
        raise _corrupt("an untyped storage needs the tensor's dtype")
    t = storage.flat(dtype).as_strided(size, stride, offset)
    if requires_grad:
        t.requires_grad_(True)
    return t


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks=None, metadata=None):
    return _rebuild(storage, offset, size, stride, bool(requires_grad))


def rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
    return _rebuild(storage, offset, size, stride, bool(requires_grad), dtype)


def rebuild_tensor(storage, offset, size, stride):
    return _rebuild(storage, offset, size, stride, False)


def rebuild_parameter(data, requires_grad, hooks=None):
    if not isinstance(data, torch.Tensor):
        raise _corrupt(f"a Parameter must wrap a tensor, got {type(data).__name__}")
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def rebuild_parameter_with_state(data, requires_grad, hooks, state):
    param = rebuild_parameter(data, requires_grad)
    if isinstance(state, dict):
        for name, value in state.items():
            setattr(param, name, value)
    return param


def _known_names():
    names = {
        "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": rebuild_tensor_v3,
        "torch._utils._rebuild_tensor": rebuild_tensor,
        "torch._utils._rebuild_parameter": rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": rebuild_parameter_with_state,
        "torch.Size": torch.Size,
        "torch.device": torch.device,
        "torch.storage.UntypedStorage": StorageKind("torch.storage.UntypedStorage", None),
        "torch.UntypedStorage": StorageKind("torch.UntypedStorage", None),
    }
    names.update(_allowlist.BUILTINS)
    for cls, name in STORAGE_DTYPE.items():
        dtype = getattr(torch, name)
        names[f"torch.{cls}"] = StorageKind(f"torch.{cls}", dtype)
    for name in ("float32 float64 float16 bfloat16 int64 int32 int16 int8 uint8 bool "
                 "uint16 uint32 uint64").split():
        dtype = getattr(torch, name, None)
        if isinstance(dtype, torch.dtype):
            names[f"torch.{name}"] = dtype
    return names


_KNOWN = _known_names()


def _unsupported_dtype(qualified):
    name = qualified.split(".", 1)[1]
    return RuntimeError(f"rtorch.load: the checkpoint holds tensors of dtype torch.{name}, "
                        "which rtorch does not support")


class _CheckpointUnpickler(pickle.Unpickler):
    """Resolves PyTorch's names to rtorch's; with ``restricted`` only the allow-list."""

    def __init__(self, file, storages, restricted):
        super().__init__(file, encoding="utf-8")
        self._storages, self._restricted = storages, restricted

    def find_class(self, module, name):
        module = _PY2_MODULES.get(module, module)  # protocol-2 pickles may use Python 2 names
        qualified = f"{module}.{name}"
        found = _KNOWN.get(qualified)
        if found is None:
            found = _allowlist.user_allowed(qualified)
        if found is not None:
            return found
        if module == "torch" and name in FOREIGN_DTYPES:
            raise _unsupported_dtype(qualified)
        if self._restricted:
            raise pickle.UnpicklingError(
                f"rtorch.load with weights_only=True refused the global {qualified}: it is not "
                "on the allow-list of tensors, containers and numbers. If you trust this "
                f"file, allow it with rtorch.serialization.add_safe_globals([{qualified}]) or "
                f"the rtorch.serialization.safe_globals([{qualified}]) context manager, or "
                "load it with weights_only=False (which can run arbitrary code)."
            )
        if module == "torch" or module.startswith("torch."):
            return _resolve_torch_name(module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return self._storages(pid)


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _lookup(module, name):
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _resolve_torch_name(module, name):
    """A PyTorch global of a trusted checkpoint, as rtorch's object of the same path; layers
    that rtorch keeps in another file of ``nn.modules`` are found through ``rtorch.nn``."""
    candidates = [("r" + module, name)]
    if module.startswith("torch.nn.modules."):
        candidates.append(("rtorch.nn", name))
    for path, attr in candidates:
        try:
            return _lookup(path, attr)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(
        f"rtorch.load: the checkpoint needs {module}.{name}, which rtorch does not provide"
    )


def _storage_reference(pid):
    """Checks a persistent id ``('storage', kind, key, location, numel[, view])``."""
    if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
        raise _corrupt(f"unknown persistent id {pid!r:.200}")
    _, kind, key, location, numel = pid[:5]
    if not isinstance(kind, StorageKind):
        raise _corrupt(f"storage type {kind!r:.100} is not a storage class")
    if not isinstance(key, str) or not isinstance(location, str):
        raise _corrupt("storage key and location must be strings")
    if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
        raise _corrupt(f"storage size {numel!r:.100} is not a count")
    return kind, key, location, numel


def _unpickle(data, storages, weights_only):
    try:
        return _CheckpointUnpickler(io.BytesIO(data), storages, weights_only).load()
    except (RuntimeError, TypeError):
        raise
    except Exception as e:  # malformed opcodes surface as many exception types
        if str(e).startswith("rtorch.load"):
            raise
        raise _corrupt(f"{type(e).__name__}: {e}") from None


def _record(archive, name):
    try:
        return archive.read(name)
    except KeyError:
        raise RuntimeError(f"rtorch.load: the checkpoint has no record {name!r}") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise RuntimeError(f"rtorch.load: cannot read record {name!r}: {e}") from None


def _byte_order_fix(data, dtype, order):
    if order == sys.byteorder or itemsize(dtype) == 1:
        return data
    import numpy as np

    raw = np.frombuffer(data, dtype=f"u{itemsize(dtype)}")
    return raw.byteswap().tobytes()


def read_zip_checkpoint(source, map_location, weights_only):
    try:
        archive = zipfile.ZipFile(source)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise RuntimeError(f"rtorch.load: not a valid checkpoint archive ({e})") from None
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if not pickles:
        raise RuntimeError("rtorch.load: the archive has no <name>/data.pkl record; is it a "
                           "PyTorch checkpoint?")
    prefix = pickles[0][: -len("data.pkl")]
    order = "little"
    if prefix + "byteorder" in names:
        order = _record(archive, prefix + "byteorder").decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise RuntimeError(f"rtorch.load: unknown byte order {order!r}")
    loaded = {}

    def storage(pid):
        kind, key, location, numel = _storage_reference(pid)
        found = loaded.get(key)
        if found is None:
            found = _Storage(kind, numel, location, map_location)
            data = _record(archive, f"{prefix}data/{key}")
            unit = 1 if kind.dtype is None else itemsize(kind.dtype)
            if len(data) != numel * unit:
                raise RuntimeError(
                    f"rtorch.load: storage data/{key} holds {len(data)} bytes, but the "
                    f"checkpoint declares {numel} elements of {unit} bytes"
                )
            found.data = data if kind.dtype is None else _byte_order_fix(data, kind.dtype, order)
            loaded[key] = found
        return found

    return _unpickle(_record(archive, prefix + "data.pkl"), storage, weights_only)


def read_legacy_checkpoint(data, map_location, weights_only):
    """The pre-zip format: magic, protocol and system-info pickles, the object's pickle,
    the list of storage keys, then each storage as an element count and its bytes."""
    stream = io.BytesIO(data)
    header = []
    for _ in range(3):
        header.append(_unpickle_plain(stream))
    magic, protocol, info = header
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL or not isinstance(info, dict):
        raise RuntimeError("rtorch.load: not a PyTorch checkpoint (bad magic number)")
    order = "little" if info.get("little_endian", True) else "big"
    storages = {}
    budget = len(data) - stream.tell()

    def storage(pid):
        kind, key, location, numel = _storage_reference(pid)
        if kind.dtype is None:
            raise _corrupt("untyped storages do not occur in the legacy format")
        if len(pid) == 6 and pid[5] is not None:
            raise RuntimeError("rtorch.load: storage views of the pre-1.0 format are not "
                               "supported")
        found = storages.get(key)
        if found is None:
            if numel * itemsize(kind.dtype) > budget:
                raise RuntimeError(f"rtorch.load: storage {key!r} declares {numel} elements, "
                                   "more than the file holds")
            found = storages[key] = _Storage(kind, numel, location, map_location)
            found.deferred = True
        return found

    try:
        result = _CheckpointUnpickler(stream, storage, weights_only).load()
        keys = _CheckpointUnpickler(stream, _no_storage, True).load()
    except (pickle.UnpicklingError, RuntimeError, TypeError):
        raise
    except Exception as e:
        raise _corrupt(f"{type(e).__name__}: {e}") from None
    if not isinstance(keys, list):
        raise _corrupt("storage key list missing")
    for key in keys:
        found = storages.get(key)
        count = stream.read(8)
        if found is None or len(count) != 8:
            raise _corrupt(f"storage {key!r} is unknown or truncated")
        unit = itemsize(found.kind.dtype)
        numel = int.from_bytes(count, order)
        body = stream.read(numel * unit) if numel == found.numel else b""
        if numel != found.numel or len(body) != numel * unit:
            raise RuntimeError(f"rtorch.load: storage {key!r} is truncated or its size lies")
        found.fill(_byte_order_fix(body, found.kind.dtype, order))
    return result


def _unpickle_plain(stream):
    try:
        return _CheckpointUnpickler(stream, _no_storage, True).load()
    except Exception as e:
        raise RuntimeError(f"rtorch.load: not a valid checkpoint ({type(e).__name__}: {e})") \
            from None


def _no_storage(pid):
    raise _corrupt("unexpected storage reference in a header pickle")
