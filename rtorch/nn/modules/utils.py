"""Small helpers shared by the module and functional code."""

import collections.abc
from itertools import chain, repeat

import rtorch as torch

__all__ = ["_single", "_pair", "_triple", "_ntuple", "_reverse_repeat_tuple", "typename"]


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """Reverse `t` and repeat each element `n` times (F.pad order)."""
    return tuple(chain.from_iterable(repeat(x, n) for x in reversed(t)))


_LEGACY_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
}


def _tensor_type_name(t):
    name = _LEGACY_NAMES.get(str(t.dtype).replace("torch.", ""), "Float")
    dev = getattr(getattr(t, "device", None), "type", "cpu")
    return f"torch.cuda.{name}Tensor" if dev == "cuda" else f"torch.{name}Tensor"


def typename(obj):
    """`torch.typename`: 'torch.FloatTensor' for tensors, qualified names otherwise."""
    if isinstance(obj, torch.Tensor):
        return _tensor_type_name(obj)
    # Classes and functions name themselves; any other object is named by its class.
    named = obj if hasattr(obj, "__qualname__") or hasattr(obj, "__name__") else type(obj)
    module = getattr(named, "__module__", None) or ""
    qualname = getattr(named, "__qualname__", None) or named.__name__
    if module in ("", "builtins"):
        return qualname
    return f"{module}.{qualname}"


def _addindent(s, num_spaces):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * num_spaces + line for line in lines)


def _is_float_or_complex(t):
    dt = t.dtype
    return bool(getattr(dt, "is_floating_point", False) or getattr(dt, "is_complex", False))


def _parse_to(*args, **kwargs):
    """Split Module.to's arguments into (device, dtype, non_blocking)."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: {list(kwargs)}")
    rest = []
    for a in args:
        if isinstance(a, torch.dtype):
            dtype = a
        elif isinstance(a, torch.Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, (str, torch.device)) or (isinstance(a, int) and not isinstance(a, bool)):
            device = a
        else:
            rest.append(a)
    if rest:
        if isinstance(rest[0], bool):
            non_blocking = rest[0]
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {rest}")
    if isinstance(device, int):
        device = f"cuda:{device}"
    if device is not None and not isinstance(device, torch.device):
        device = torch.device(device)
    return device, dtype, non_blocking


def _replace_data(param, applied):
    """Point `param` at `applied`'s data in place (keeps optimizer references valid).

    Returns the parameter, or None when the core cannot swap data in place.
    """
    try:
        param.data = applied
    except (AttributeError, TypeError, NotImplementedError, RuntimeError):
        return None
    return param
