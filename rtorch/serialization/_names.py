"""The PyTorch names a checkpoint's pickle refers to, and their meaning in rtorch.

Checkpoints name PyTorch's globals (``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``
…) so that PyTorch reads them; rtorch writes and reads those same names.
"""

import rtorch as torch

# dtype name -> the legacy typed-storage class PyTorch pickles for it.
STORAGE_CLASS = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "int16": "ShortStorage",
    "int8": "CharStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}
STORAGE_DTYPE = {cls: name for name, cls in STORAGE_CLASS.items()}

# dtype names PyTorch pickles as ``torch.<name>`` that rtorch has no tensors for.
FOREIGN_DTYPES = (
    "complex32 complex64 complex128 float8_e4m3fn float8_e5m2 float8_e4m3fnuz "
    "float8_e5m2fnuz qint8 quint8 qint32 quint4x2 uint16 uint32 uint64"
).split()


def dtype_name(dtype):
    """'float32' for ``rtorch.float32``."""
    return str(dtype).rsplit(".", 1)[-1]


def itemsize(dtype):
    return torch.empty((), dtype=dtype).element_size()


class TorchName:
    """A global written into the pickle by its PyTorch module and name."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __repr__(self):
        return f"{self.module}.{self.name}"

    def __call__(self, *args):  # pickle requires reduce callables to be callable
        raise TypeError(f"{self!r} is only a name written into checkpoints")


class StorageKind:
    """What a storage class named in a checkpoint stands for: its dtype (None: raw bytes)."""

    __slots__ = ("qualified", "dtype")

    def __init__(self, qualified, dtype):
        self.qualified, self.dtype = qualified, dtype

    def __repr__(self):
        return self.qualified
