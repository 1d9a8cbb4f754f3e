"""Whole objects in the safetensors format (no pickle): ``rtorch.utils.safetensors.save/load``,
and what ``rtorch.load`` uses when it is handed a safetensors file.

File layout (safetensors): an 8-byte little-endian header length, a JSON header
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``
padded with spaces to a multiple of 8, then the raw little-endian tensor bytes.

Python structure around the tensors (dicts with any hashable JSON-able keys, lists,
tuples, numbers, strings, None, OrderedDict, ...) is stored as JSON in
``__metadata__["rtorch.structure"]``; tensors appear there as ``{"__tensor__": name}``.
Tensors are named by their path in the structure, so a plain ``dict[str, Tensor]`` keeps
its own keys as tensor names and stays readable by other safetensors readers. Files
without that metadata load as a dict of tensors. Every occurrence of a tensor is stored
separately (safetensors has no aliasing), so shared storage is not preserved.
"""

import base64
import collections
import json
import math
import os

import rtorch as torch

from ._locations import read_all, restore_location

_STRUCTURE_KEY = "rtorch.structure"

# safetensors dtype code -> (rtorch dtype name, bytes per element)
_CODES = {
    "BOOL": ("bool", 1),
    "U8": ("uint8", 1),
    "I8": ("int8", 1),
    "I16": ("int16", 2),
    "U16": ("uint16", 2),
    "I32": ("int32", 4),
    "U32": ("uint32", 4),
    "I64": ("int64", 8),
    "U64": ("uint64", 8),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "F32": ("float32", 4),
    "F64": ("float64", 8),
}
_NAME_TO_CODE = {name: code for code, (name, _) in _CODES.items()}


# dtype and byte helpers -------------------------------------------------------------


def _dtype_name(dtype):
    """'float32' for ``rtorch.float32`` etc."""
    for name in _NAME_TO_CODE:
        if getattr(torch, name, None) == dtype:
            return name
    raise TypeError(f"rtorch.save: tensors of dtype {dtype} cannot be stored in safetensors")


def _dtype_from_name(name):
    dtype = getattr(torch, name, None)
    if dtype is None:
        raise RuntimeError(f"rtorch.load: dtype {name} is not supported by this build")
    return dtype


def _np_dtype(name):
    import numpy as np

    return np.dtype(name).newbyteorder("<")


def _device_type(t):
    device = t.device
    return getattr(device, "type", str(device).split(":")[0])


def _tensor_to_bytes(t):
    """Contiguous little-endian bytes of ``t``'s elements."""
    to_bytes = getattr(torch._C, "_tensor_to_bytes", None)
    if to_bytes is not None:
        return bytes(to_bytes(t))
    import numpy as np

    t = t.detach()
    if _device_type(t) != "cpu":
        t = t.cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)  # numpy has no bfloat16: move the raw bits
    arr = t.numpy()
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()


def _tensor_from_bytes(data, dtype, shape):
    """A new CPU tensor of ``dtype``/``shape`` holding ``data`` (little-endian)."""
    shape = [int(s) for s in shape]
    from_bytes = getattr(torch._C, "_tensor_from_bytes", None)
    if from_bytes is not None:
        return from_bytes(bytes(data), dtype, shape)
    import numpy as np

    name = _dtype_name(dtype)
    raw_name = "int16" if name == "bfloat16" else name
    arr = np.frombuffer(data, dtype=_np_dtype(raw_name)).astype(raw_name).reshape(shape)
    t = torch.from_numpy(arr.copy())
    return t.view(torch.bfloat16) if name == "bfloat16" else t


# encoding ---------------------------------------------------------------------------


class _Encoder:
    def __init__(self):
        self.tensors = []  # (name, tensor)
        self.used = {"__metadata__"}

    def name_for(self, path):
        base = ".".join(path) if path else "tensor"
        name, n = base, 0
        while name in self.used:
            n += 1
            name = f"{base}#{n}"
        self.used.add(name)
        return name

    def key(self, k):
        if torch.is_tensor(k):
            raise TypeError("rtorch.save: tensors cannot be used as dict keys")
        return self.encode(k, None)

    def pairs(self, mapping, path):
        return [[self.key(k), self.encode(v, path + [str(k)])] for k, v in mapping.items()]

    def encode(self, obj, path):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            # JSON has no inf/nan; tag them (repr round-trips every float).
            return float(obj) if math.isfinite(obj) else {"__float__": repr(float(obj))}
        if torch.is_tensor(obj):
            if path is None:
                raise TypeError("rtorch.save: tensors cannot be used as dict keys")
            name = self.name_for(path)
            self.tensors.append((name, obj))
            node = {"__tensor__": name}
            if obj.requires_grad:
                node["requires_grad"] = True
            if type(obj).__name__ == "Parameter":
                node["parameter"] = True
            if _device_type(obj) != "cpu":
                node["device"] = str(obj.device)
            return node
        path = path if path is not None else []
        if type(obj) is type(torch.float32):
            return {"__dtype__": _dtype_name(obj)}
        device_cls = getattr(torch, "device", None)
        if isinstance(device_cls, type) and isinstance(obj, device_cls):
            return {"__device__": str(obj)}
        if type(obj).__name__ == "Size" and isinstance(obj, tuple):
            return {"__size__": [int(s) for s in obj]}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]
        if isinstance(obj, collections.Counter):
            return {"__counter__": self.pairs(obj, path)}
        if isinstance(obj, collections.OrderedDict):
            return {"__odict__": self.pairs(obj, path)}
        if isinstance(obj, dict):
            return {"__dict__": self.pairs(obj, path)}
        if isinstance(obj, bytes):
            return {"__bytes__": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, complex):
            return {"__complex__": [self.encode(obj.real, path), self.encode(obj.imag, path)]}
        if type(obj).__module__ == "numpy" and getattr(obj, "shape", None) == ():
            return self.encode(obj.item(), path)  # numpy scalar
        raise TypeError(
            f"rtorch.save cannot store an object of type {type(obj).__module__}."
            f"{type(obj).__qualname__}: only tensors, numbers, strings, bytes, None, and "
            "lists/tuples/dicts of them are supported (no pickle)"
        )


def _build_file(obj, metadata=None):
    encoder = _Encoder()
    structure = encoder.encode(obj, [])
    header = {}
    chunks = []
    offset = 0
    for name, t in encoder.tensors:
        data = _tensor_to_bytes(t)
        header[name] = {
            "dtype": _NAME_TO_CODE[_dtype_name(t.dtype)],
            "shape": [int(s) for s in t.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {
        **(metadata or {}),
        "format": "pt",
        _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False),
    }
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # safetensors aligns data to 8 bytes
    return [len(header_bytes).to_bytes(8, "little"), header_bytes, *chunks]


def to_bytes(obj, metadata=None):
    """The safetensors file for ``obj`` as bytes."""
    return b"".join(_build_file(obj, metadata))


def save(obj, f):
    """Save ``obj`` (tensors in nested dicts/lists/tuples) to a path or binary file."""
    parts = _build_file(obj)
    if isinstance(f, (str, os.PathLike)):
        with open(os.fspath(f), "wb") as fh:
            for part in parts:
                fh.write(part)
    elif hasattr(f, "write"):
        for part in parts:
            f.write(part)
    else:
        raise TypeError(
            f"rtorch.save: f must be a path or a binary file object, got {type(f).__name__}"
        )


# decoding ---------------------------------------------------------------------------


def _fail(msg):
    raise RuntimeError(f"rtorch.load: invalid safetensors file: {msg}")


def _parse_header(data):
    if len(data) < 8:
        _fail(f"{len(data)} bytes is too small to hold the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        _fail(f"header length {n} exceeds the file size ({len(data)} bytes)")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        _fail(f"header is not valid UTF-8 JSON ({e})")
    if not isinstance(header, dict):
        _fail("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        _fail("__metadata__ must map strings to strings")
    return header, metadata, memoryview(data)[8 + n :]


def _read_tensors(header, buffer):
    tensors = {}
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
            _fail(f"entry {name!r} needs 'dtype', 'shape' and 'data_offsets'")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _CODES:
            _fail(f"tensor {name!r} has unsupported dtype {code!r}")
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            _fail(f"tensor {name!r} has an invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= len(buffer)
        ):
            _fail(
                f"tensor {name!r} has data_offsets {offsets!r} outside the data section "
                f"({len(buffer)} bytes)"
            )
        dtype_name, itemsize = _CODES[code]
        expected = math.prod(shape) * itemsize
        if offsets[1] - offsets[0] != expected:
            _fail(
                f"tensor {name!r} of dtype {code} and shape {shape} needs {expected} bytes, "
                f"but data_offsets {offsets} span {offsets[1] - offsets[0]}"
            )
        entries.append((offsets[0], name, dtype_name, shape, offsets))
    for _, name, dtype_name, shape, (begin, end) in sorted(entries):
        tensors[name] = _tensor_from_bytes(buffer[begin:end], _dtype_from_name(dtype_name), shape)
    return tensors


class _Decoder:
    def __init__(self, tensors, map_location):
        self.tensors = tensors
        self.map_location = map_location

    def pairs(self, items):
        if not isinstance(items, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in items
        ):
            _fail("corrupt structure metadata (bad mapping entries)")
        return [(self.decode(k), self.decode(v)) for k, v in items]

    def tensor(self, node):
        name = node["__tensor__"]
        if name not in self.tensors:
            _fail(f"structure refers to a missing tensor {name!r}")
        t = restore_location(self.tensors[name], node.get("device", "cpu"), self.map_location)
        if node.get("parameter") and hasattr(getattr(torch, "nn", None), "Parameter"):
            return torch.nn.Parameter(t, requires_grad=bool(node.get("requires_grad", False)))
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t

    def decode(self, node):
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            return self.tensor(node)
        if len(node) != 1:
            _fail(f"corrupt structure metadata (unknown node {sorted(node)})")
        ((tag, value),) = node.items()
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in value)
        if tag == "__dict__":
            return dict(self.pairs(value))
        if tag == "__odict__":
            return collections.OrderedDict(self.pairs(value))
        if tag == "__counter__":
            return collections.Counter(dict(self.pairs(value)))
        if tag == "__float__":
            return float(value)
        if tag == "__dtype__":
            return _dtype_from_name(value)
        if tag == "__device__":
            return torch.device(value)
        if tag == "__size__":
            return torch.Size(value) if hasattr(torch, "Size") else tuple(value)
        if tag == "__bytes__":
            return base64.b64decode(value)
        if tag == "__complex__":
            return complex(self.decode(value[0]), self.decode(value[1]))
        _fail(f"corrupt structure metadata (unknown tag {tag!r})")


def looks_like_safetensors(head):
    """True when ``head`` (the file's first bytes) starts a safetensors header."""
    return len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 0


def load(f, map_location=None):
    """Load an object saved by :func:`save`, or any safetensors file (as a dict of tensors).

    ``map_location`` may be None (saved devices), a device or string, a dict mapping saved
    locations to new ones, or a callable ``(tensor, location) -> tensor``.
    """
    data = read_all(f)
    header, metadata, buffer = _parse_header(data)
    tensors = _read_tensors(header, buffer)
    structure = metadata.get(_STRUCTURE_KEY)
    decoder = _Decoder(tensors, map_location)
    if structure is None:
        # A plain safetensors file: its tensors in file order.
        return {name: decoder.tensor({"__tensor__": name}) for name in tensors}
    try:
        structure = json.loads(structure)
    except ValueError as e:
        _fail(f"structure metadata is not valid JSON ({e})")
    return decoder.decode(structure)
