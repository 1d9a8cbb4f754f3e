"""Legacy typed constructors: ``FloatTensor``, ``LongTensor``, … (CPU tensor types).

Each name is a class whose metaclass turns a call into a tensor of the class's dtype:
``FloatTensor(2, 3)`` (sizes, zero-filled), ``FloatTensor(torch.Size([2]))``,
``FloatTensor([1, 2])`` (data), ``FloatTensor(t)`` (a view of a tensor of that dtype), and
makes ``isinstance(t, FloatTensor)`` true for float32 CPU tensors.
"""

import numbers

import numpy as np

from rtorch import _C
from rtorch._size import Size

__all__ = [
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "BFloat16Tensor",
    "ByteTensor",
    "CharTensor",
    "ShortTensor",
    "IntTensor",
    "LongTensor",
    "BoolTensor",
]


def _is_size_arg(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _describe(args):
    return ", ".join(type(a).__name__ for a in args)


class _TensorType(type):
    """Metaclass of the legacy tensor types."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, _C.Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args, device=None):
        if device is not None and _C.device(device).type != "cpu":
            raise RuntimeError(
                f"legacy constructor {cls.__name__} creates CPU tensors; got device {device}"
            )
        name = cls.__name__
        if not args:
            return _C.empty(0, dtype=cls.dtype)
        if all(_is_size_arg(a) for a in args):
            return _zeros(args, cls.dtype)
        if len(args) > 1:
            raise TypeError(f"{name}() received an invalid combination of arguments - got ({_describe(args)})")
        (data,) = args
        if isinstance(data, Size):
            return _zeros(tuple(data), cls.dtype)
        if isinstance(data, _C.Tensor):
            if data.dtype != cls.dtype or data.device.type != "cpu":
                raise TypeError(
                    f"{name}(): expected a CPU tensor of dtype {cls.dtype}, got one of dtype "
                    f"{data.dtype} on {data.device}"
                )
            return data.view(data.shape)
        if isinstance(data, str):
            raise TypeError(f"{name}(): invalid data type 'str'")
        if isinstance(data, (list, tuple, np.ndarray)):
            return _C.tensor(_coerce(data, cls.dtype), dtype=cls.dtype)
        raise TypeError(f"{name}(): data must be a sequence (got {type(data).__name__})")

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"


def _zeros(shape, dtype):
    for s in shape:
        if s < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {s}: {list(shape)}"
            )
    return _C.zeros(tuple(int(s) for s in shape), dtype=dtype)


def _coerce(data, dtype):
    # numpy arrays go in as lists so that the requested dtype, not the array's, decides.
    if isinstance(data, np.ndarray):
        return data.tolist()
    return data


def _make(name, dtype):
    return _TensorType(name, (), {"dtype": dtype, "is_cuda": False, "is_sparse": False, "__module__": "torch"})


FloatTensor = _make("FloatTensor", _C.float32)
DoubleTensor = _make("DoubleTensor", _C.float64)
HalfTensor = _make("HalfTensor", _C.float16)
BFloat16Tensor = _make("BFloat16Tensor", _C.bfloat16)
ByteTensor = _make("ByteTensor", _C.uint8)
CharTensor = _make("CharTensor", _C.int8)
ShortTensor = _make("ShortTensor", _C.int16)
IntTensor = _make("IntTensor", _C.int32)
LongTensor = _make("LongTensor", _C.int64)
BoolTensor = _make("BoolTensor", _C.bool)
