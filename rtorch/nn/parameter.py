"""Parameter and Buffer: tensor subclasses that modules register automatically."""

import inspect

import rtorch as torch

__all__ = [
    "Parameter",
    "UninitializedParameter",
    "is_lazy",
    "Buffer",
    "UninitializedBuffer",
    "UninitializedTensorMixin",
]

# Ops on a Parameter should return plain tensors (PyTorch disables the subclass
# dispatch for Parameter); reuse the core's helper when it exists.
_disabled_tf = getattr(getattr(torch, "_C", None), "_disabled_torch_function_impl", None)


def _as_subclass(cls, data, requires_grad):
    return torch.Tensor._make_subclass(cls, data, requires_grad)


class Parameter(torch.Tensor):
    """A tensor that is a module parameter (a leaf that requires grad by default)."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = torch.empty(0)
        if not isinstance(data, torch.Tensor):
            raise TypeError(f"Parameter data must be a Tensor, got {type(data).__name__}")
        return _as_subclass(cls, data.detach(), requires_grad)

    def __init__(self, *args, **kwargs):
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __repr__(self):
        text = super().__repr__()
        # The core's tensor repr may already name the Parameter itself.
        if text.startswith("Parameter containing:"):
            return text
        return "Parameter containing:\n" + text

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.detach(), self.requires_grad))

    if _disabled_tf is not None:
        __torch_function__ = _disabled_tf


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


class Buffer(torch.Tensor):
    """A tensor that a module registers as a buffer when assigned as an attribute."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = torch.empty(0)
        t = _as_subclass(cls, data.detach(), data.requires_grad)
        t.persistent = persistent
        return t

    def __init__(self, *args, **kwargs):
        pass

    if _disabled_tf is not None:
        __torch_function__ = _disabled_tf


# ---------------------------------------------------------------------------- placeholders
_PLACEHOLDER_USE = (
    "Attempted to use an uninitialized parameter in {}. This error happens when you are "
    "using a `LazyModule` or explicitly manipulating `torch.nn.parameter.UninitializedParameter` "
    "objects. When using LazyModules Call `forward` with a dummy batch to initialize the "
    "parameters before calling torch functions"
)
_PLACEHOLDER_SHAPE = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually "
    "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
    "initialized one. Call `forward` to initialize the parameters before accessing their "
    "attributes."
)
# What a placeholder still answers: queries about its (empty) data, plus conversions,
# which give back a placeholder with the new dtype/device so Module.to() works early.
_PLACEHOLDER_QUERIES = frozenset({"size", "copy_", "is_complex", "is_floating_point", "get_device"})
_PLACEHOLDER_CONVERSIONS = (
    "to", "cpu", "cuda", "half", "float", "double", "char", "short", "int", "long"
)  # fmt: skip
# Python's object protocol, which a placeholder keeps (identity hashing, pickling, repr).
_OBJECT_PROTOCOL = frozenset(
    {
        "__array_priority__", "__class__", "__deepcopy__", "__delattr__", "__dict__",
        "__dir__", "__doc__", "__format__", "__getattribute__", "__getstate__", "__hash__",
        "__init__", "__init_subclass__", "__module__", "__new__", "__reduce__",
        "__reduce_ex__", "__repr__", "__setattr__", "__setstate__", "__sizeof__", "__str__",
        "__subclasshook__",
    }
)  # fmt: skip
_blocked_cache = []


def _blocked_names():
    """Public Tensor methods a placeholder refuses (computed once Tensor is complete)."""
    if not _blocked_cache:
        allowed = _PLACEHOLDER_QUERIES | set(_PLACEHOLDER_CONVERSIONS) | _OBJECT_PROTOCOL
        names = set()
        for name in dir(torch.Tensor):
            private = name.startswith("_") and not name.startswith("__")
            if private or name in allowed:
                continue
            if callable(inspect.getattr_static(torch.Tensor, name, None)):
                names.add(name)
        _blocked_cache.append(frozenset(names))
    return _blocked_cache[0]


def _refusal(name):
    target = getattr(torch.Tensor, name, name)

    def refuse(*args, **kwargs):
        raise ValueError(_PLACEHOLDER_USE.format(target))

    return refuse


def _refusing_operator(name):
    def operator(self, *args, **kwargs):
        raise ValueError(_PLACEHOLDER_USE.format(getattr(torch.Tensor, name)))

    operator.__name__ = name
    return operator


def _converting(name):
    def convert(self, *args, **kwargs):
        data = getattr(torch.Tensor, name)(self, *args, **kwargs)
        if data is self:
            return self
        return _as_subclass(type(self), data.detach(), self.requires_grad)

    convert.__name__ = name
    return convert


class UninitializedTensorMixin:
    """A tensor without a shape yet: refuses math until `materialize(shape)` gives it one.

    Operators are refused at class level (Python looks them up on the type), named methods
    through attribute lookup, so `torch.add(p, 1)` and `F.linear(x, p)` are refused too.
    """

    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Give this object real (uninitialised) storage of `shape`; its class becomes
        `cls_to_become`, so every reference to it now holds a plain Parameter/Tensor."""
        if isinstance(shape, int):
            shape = (shape,)
        where = {
            "device": self.device if device is None else device,
            "dtype": self.dtype if dtype is None else dtype,
        }
        torch.Tensor._become(self, torch.empty(tuple(shape), **where))
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_PLACEHOLDER_SHAPE)

    def __getattribute__(self, name):
        if name in _blocked_names():
            return _refusal(name)
        return super().__getattribute__(name)

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__
    __hash__ = torch.Tensor.__hash__

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, self.device, self.dtype)
        return memo[id(self)]

    def __reduce_ex__(self, proto):
        # dtype and device travel as names (the core's dtype objects do not pickle).
        dtype = str(self.dtype).rpartition(".")[2]
        return (_rebuild_placeholder, (type(self), self.requires_grad, str(self.device), dtype))


for _name in vars(torch.Tensor):
    if _name.startswith("__") and _name not in _OBJECT_PROTOCOL:
        setattr(UninitializedTensorMixin, _name, _refusing_operator(_name))
for _name in _PLACEHOLDER_CONVERSIONS:
    setattr(UninitializedTensorMixin, _name, _converting(_name))
del _name


def _rebuild_placeholder(cls, requires_grad, device, dtype):
    return cls(requires_grad, device, getattr(torch, dtype))


def _placeholder(cls, requires_grad, device, dtype):
    return _as_subclass(cls, torch.empty(0, device=device, dtype=dtype), requires_grad)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is decided later (by a lazy module's first input)."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return _placeholder(cls, requires_grad, device, dtype)


class UninitializedBuffer(UninitializedTensorMixin, torch.Tensor):
    """A buffer whose shape is decided later; materialises into a plain Tensor."""

    cls_to_become = torch.Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        return _placeholder(cls, requires_grad, device, dtype)

    def __init__(self, *args, **kwargs):
        pass


def is_lazy(param):
    """True for a parameter or buffer that has not been materialised yet."""
    return isinstance(param, UninitializedTensorMixin)
