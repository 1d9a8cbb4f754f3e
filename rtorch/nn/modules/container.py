"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from itertools import groupby

import rtorch as torch

from ..parameter import Parameter
from .module import Module
from .utils import _addindent, typename

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _position(idx, size):
    """A checked, non-negative position for integer-like `idx`."""
    pos = operator.index(idx)
    if pos < -size or pos >= size:
        raise IndexError(f"index {idx} is out of range")
    return pos % size


def _uncallable(kind):
    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{kind} should not be called.")

    return __call__


def _as_parameter(value):
    """Plain tensors stored in parameter containers become Parameters."""
    if isinstance(value, Parameter) or not isinstance(value, torch.Tensor):
        return value
    return Parameter(value)


def _key_value_pairs(items, owner, top_name, sort_plain_mappings=False):
    """Pairs for a dict-like update(); messages follow PyTorch's wording."""
    if not isinstance(items, Iterable):
        raise TypeError(
            f"{top_name}.update should be called with an iterable of key/value pairs, "
            f"but got {type(items).__name__}"
        )
    if isinstance(items, (OrderedDict, Mapping, owner)):
        pairs = list(items.items())
        if sort_plain_mappings and not isinstance(items, (OrderedDict, owner)):
            pairs.sort()
        return pairs
    pairs = []
    for n, entry in enumerate(items):
        if not isinstance(entry, Iterable):
            raise TypeError(
                f"{owner.__name__} update sequence element #{n} should be Iterable; "
                f"is{type(entry).__name__}"
            )
        if len(entry) != 2:
            raise ValueError(
                f"{owner.__name__} update sequence element #{n} has length {len(entry)}; "
                "2 is required"
            )
        pairs.append((entry[0], entry[1]))
    return pairs


class _NumberedChildren:
    """List behaviour shared by Sequential and ModuleList, over `_modules` in order."""

    def _key_at(self, idx):
        keys = list(self._modules)
        return keys[_position(idx, len(keys))]

    def _renumber(self):
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def _shift_in(self, index, module):
        # Move later entries up one number, then drop `module` into the gap.
        store = self._modules
        for n in reversed(range(index, len(store))):
            store[str(n + 1)] = store[str(n)]
        store[str(index)] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __setitem__(self, idx, module):
        setattr(self, self._key_at(idx), module)

    def __delitem__(self, idx):
        if isinstance(idx, slice):
            doomed = list(self._modules)[idx]
        else:
            doomed = [self._key_at(idx)]
        for key in doomed:
            delattr(self, key)
        self._renumber()  # numbers stay 0..n-1

    def __dir__(self):
        return [name for name in super().__dir__() if not name.isdigit()]

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key):
        value = self[key]
        del self[key]
        return value


def _repeat_factor(seq, other):
    if not isinstance(other, int):
        raise TypeError(f"unsupported operand type(s) for *: {type(seq)} and {type(other)}")
    if other <= 0:
        raise ValueError(f"Non-positive multiplication factor {other} for {type(seq)}")
    return other


def _require_sequential(other):
    if not isinstance(other, Sequential):
        raise ValueError(
            "add operator supports only objects of Sequential class, but "
            f"{type(other)} is given."
        )
    return other


class Sequential(_NumberedChildren, Module):
    """Chains modules; forward feeds each module's output to the next."""

    def __init__(self, *args):
        super().__init__()
        # A single OrderedDict names the children; otherwise they are numbered.
        named = args[0] if len(args) == 1 else None
        if isinstance(named, OrderedDict):
            entries = named.items()
        else:
            entries = ((str(n), m) for n, m in enumerate(args))
        for key, module in entries:
            self.add_module(key, module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key_at(idx)]

    def __add__(self, other):
        joined = Sequential()
        joined.extend(self)
        return joined.extend(_require_sequential(other))

    def __iadd__(self, other):
        return self.extend(_require_sequential(other))

    def __mul__(self, other):
        repeated = Sequential()
        for _ in range(_repeat_factor(self, other)):
            repeated.extend(self)
        return repeated

    __rmul__ = __mul__

    def __imul__(self, other):
        once = list(self)
        for _ in range(_repeat_factor(self, other) - 1):
            self.extend(once)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        size = len(self)
        if not -size <= index <= size:
            raise IndexError(f"Index out of range: {index}")
        self._shift_in(index + size if index < 0 else index, module)
        return self

    def extend(self, sequential):
        for module in list(sequential):
            self.append(module)
        return self

    def forward(self, input):
        for module in self:
            input = module(input)
        return input


class ModuleList(_NumberedChildren, Module):
    """Holds submodules in a list; registered so parameters are visible."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[self._key_at(idx)]

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        joined = ModuleList()
        joined.extend(self)
        return joined.extend(other)

    def __repr__(self):
        # Runs of identical children print once, as "(first-last): count x repr".
        lines = []
        pairs = enumerate(repr(m) for m in self)
        for text, run in groupby(pairs, key=operator.itemgetter(1)):
            where = [n for n, _ in run]
            if len(where) == 1:
                lines.append(_addindent(f"({where[0]}): {text}", 2))
            else:
                label = f"({where[0]}-{where[-1]}): {len(where)} x {text}"
                lines.append(_addindent(label, 2))
        if not lines:
            return f"{self._get_name()}()"
        return self._get_name() + "(" + "".join(f"\n  {line}" for line in lines) + "\n)"

    def insert(self, index, module):
        self._shift_in(index, module)

    def extend(self, modules):
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleList.extend should be called with an iterable, but got "
                + type(modules).__name__
            )
        for module in list(modules):
            self.append(module)
        return self


class ModuleDict(Module):
    """Holds submodules in an ordered dict."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        for key, module in _key_value_pairs(modules, ModuleDict, "ModuleDict"):
            self[key] = module


def _entry_line(key, value, describe_dtype):
    """One line of a parameter container's repr."""
    if not isinstance(value, torch.Tensor):
        return f"  ({key}): Object of type: {type(value).__name__}"
    kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
    size = "x".join(str(n) for n in value.size())
    where = "" if value.device.type == "cpu" else f" ({value.device})"
    return f"  ({key}): {kind} containing: [{describe_dtype(value)} of size {size}{where}]"


class ParameterList(Module):
    """Holds parameters in a list; plain tensors are wrapped in Parameter."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[n] for n in range(len(self))[idx]])
        return getattr(self, str(_position(idx, len(self))))

    def __setitem__(self, idx, param):
        setattr(self, str(_position(idx, len(self))), _as_parameter(param))

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[n] for n in range(len(self)))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def __dir__(self):
        return [name for name in super().__dir__() if not name.isdigit()]

    def append(self, value):
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        if isinstance(values, torch.Tensor) or not isinstance(values, Iterable):
            raise TypeError(
                "ParameterList.extend should be called with an iterable, but got "
                + type(values).__name__
            )
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(_entry_line(n, p, lambda t: t.dtype) for n, p in enumerate(self))

    __call__ = _uncallable("ParameterList")


class ParameterDict(Module):
    """Holds parameters in an ordered dict; plain tensors are wrapped in Parameter."""

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}  # insertion order of the entries
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _key_to_attr(key):
        if isinstance(key, str):
            return key
        raise TypeError(
            "Index given to ParameterDict cannot be used as a key as it is not a string "
            f"(type is '{type(key).__name__}'). Open an issue on github if you need "
            "non-string keys."
        )

    def __getitem__(self, key):
        return getattr(self, self._key_to_attr(key))

    def __setitem__(self, key, value):
        attr = self._key_to_attr(key)
        self._keys[key] = None
        setattr(self, attr, _as_parameter(value))

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, self._key_to_attr(key))

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key):
        return key in self._keys

    def __or__(self, other):
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other):
        merged = other.copy()
        merged.update(self)
        return merged

    def __ior__(self, other):
        self.update(other)
        return self

    def copy(self):
        return ParameterDict(OrderedDict(self.items()))

    @classmethod
    def fromkeys(cls, keys, default=None):
        return ParameterDict([(k, default) for k in keys])

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        if not self._keys:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def keys(self):
        return self._keys.keys()

    def items(self):
        return zip(self.keys(), self.values())

    def values(self):
        return (self[k] for k in self._keys)

    def update(self, parameters):
        pairs = _key_value_pairs(
            parameters, ParameterDict, "ParametersDict", sort_plain_mappings=True
        )
        for key, value in pairs:
            self[key] = value

    def extra_repr(self):
        return "\n".join(_entry_line(k, p, typename) for k, p in self.items())

    __call__ = _uncallable("ParameterDict")
