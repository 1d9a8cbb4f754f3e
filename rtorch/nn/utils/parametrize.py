"""Parametrizations: express a module's tensor as a function of other tensors.

After ``register_parametrization(module, "weight", p)`` the module keeps the unconstrained
tensor(s) under ``module.parametrizations.weight.original`` (or ``original0``, ``original1``
... when ``p.right_inverse`` returns a sequence) and ``module.weight`` is recomputed as
``p(original)`` on every read. The module's class is swapped for a generated subclass
(``Parametrized<Name>``) that carries one property per parametrized name.
"""

import contextlib
import copy

import rtorch as torch

from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter

__all__ = [
    "cached",
    "ParametrizationList",
    "register_parametrization",
    "is_parametrized",
    "remove_parametrizations",
    "type_before_parametrizations",
    "transfer_parametrizations_and_params",
]

# Active while inside `cached()`: (module id, tensor name) -> computed tensor.
_cache = {"depth": 0, "values": {}}


@contextlib.contextmanager
def cached():
    """Compute each parametrized tensor once inside the block and reuse it."""
    _cache["depth"] += 1
    try:
        yield
    finally:
        _cache["depth"] -= 1
        if _cache["depth"] == 0:
            _cache["values"].clear()


def _same_kind(value, like):
    """Wrap `value` as `like` was stored: a Parameter keeps its requires_grad."""
    if isinstance(like, Parameter):
        return Parameter(value, like.requires_grad)
    return value


def _check_result(what, before, after):
    for attr in ("dtype", "shape"):
        if getattr(before, attr) != getattr(after, attr):
            raise ValueError(
                f"{what} may not change the {attr} of the tensor, unless `unsafe` flag is "
                f"enabled.\nunparametrized {attr}: {getattr(before, attr)}\n"
                f"parametrized {attr}: {getattr(after, attr)}"
            )


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, plus the original tensor(s)."""

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with torch.no_grad():
            stored = original
            for module in reversed(list(modules)):
                if hasattr(module, "right_inverse"):
                    stored = module.right_inverse(stored)
        if isinstance(stored, torch.Tensor):
            self.is_tensor = True
            self.ntensors = 1
            if not unsafe:
                _check_result("When `right_inverse` is given, it", original, stored)
            # Keep the very Parameter object so optimizers that hold it stay valid.
            with torch.no_grad():
                if stored is not original:
                    original.data = stored.detach().clone()
            self._keep("original", original)
        elif isinstance(stored, (list, tuple)):
            self.is_tensor = False
            self.ntensors = len(stored)
            for i, part in enumerate(stored):
                if not isinstance(part, torch.Tensor):
                    raise ValueError(
                        "'right_inverse' must return a Tensor or a Sequence of tensors "
                        f"(list, tuple...). Got element {i} of type {type(part).__name__}"
                    )
                self._keep(f"original{i}", _same_kind(part.detach().clone(), original))
        else:
            raise ValueError(
                "'right_inverse' must return a Tensor or a Sequence of tensors (list, "
                f"tuple...). Got {type(stored).__name__}"
            )
        if not unsafe:
            if not isinstance(first, Module):
                raise TypeError(f"{type(first).__name__} is not a Module subclass")
            with torch.no_grad():
                value = self()
            if not isinstance(value, torch.Tensor):
                raise ValueError(
                    f"A parametrization must return a tensor. Got {type(value).__name__}."
                )
            _check_result("Registering a parametrization", original, value)

    def _keep(self, name, tensor):
        if isinstance(tensor, Parameter):
            self.register_parameter(name, tensor)
        else:
            self.register_buffer(name, tensor)

    def _originals(self):
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value):
        """Store `value` by running the right inverses backwards into the originals."""
        with torch.no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(
                        f"parametrization {type(module).__name__} does not implement right_inverse."
                    )
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, torch.Tensor):
                    raise ValueError(
                        f"`right_inverse` should return a tensor. Got {type(value).__name__}"
                    )
                targets, values = (self.original,), (value,)
            else:
                if not isinstance(value, (list, tuple)) or len(value) != self.ntensors:
                    raise ValueError(
                        f"'right_inverse' must return a sequence of tensors of length "
                        f"{self.ntensors}. Got {type(value).__name__}"
                    )
                targets, values = self._originals(), value
            for target, new in zip(targets, values):
                if target.dtype != new.dtype:
                    raise ValueError(
                        "When `right_inverse` outputs one tensor, it may not change the "
                        f"dtype.\noriginal.dtype: {target.dtype}\n"
                        f"right_inverse(original).dtype: {new.dtype}"
                    )
                if target.shape == new.shape:
                    target.copy_(new)
                else:
                    target.data = new.detach().clone()

    def forward(self):
        modules = list(self)
        value = modules[0](*self._originals())
        for module in modules[1:]:
            value = module(value)
        return value


# --------------------------------------------------------------------- class injection
def _parametrized_read(name):
    def read(module):
        key = (id(module), name)
        if _cache["depth"] and key in _cache["values"]:
            return _cache["values"][key]
        value = module.parametrizations[name]()
        if _cache["depth"]:
            _cache["values"][key] = value
        return value

    def write(module, value):
        module.parametrizations[name].right_inverse(value)

    return property(read, write)


def _setattr(self, name, value):
    # A parametrized name always goes through right_inverse, even for a Parameter value.
    if name in type(self)._parametrized_names:
        type(self).__dict__[name].__set__(self, value)
        return
    self._plain_class.__setattr__(self, name, value)


def _deepcopy(self, memo):
    fresh = self.__class__.__new__(self.__class__)
    memo[id(self)] = fresh
    for key, value in self.__dict__.items():
        fresh.__dict__[key] = copy.deepcopy(value, memo)
    return fresh


def _refuse_pickle(self):
    raise RuntimeError(
        "Serialization of parametrized modules is only supported through state_dict()."
    )


def _inject_class(module):
    plain = type(module)
    generated = type(
        f"Parametrized{plain.__name__}",
        (plain,),
        {
            "_plain_class": plain,
            "_parametrized_names": frozenset(),
            "__setattr__": _setattr,
            "__deepcopy__": _deepcopy,
            "__getstate__": _refuse_pickle,
        },
    )
    generated.__module__ = __name__
    module.__class__ = generated


def type_before_parametrizations(module):
    """The module's class as it was before any parametrization was registered."""
    return type(module)._plain_class if is_parametrized(module) else type(module)


def is_parametrized(module, tensor_name=None):
    """Whether the module (or its `tensor_name`) has a registered parametrization."""
    plists = getattr(module, "parametrizations", None)
    if plists is None or not isinstance(plists, ModuleDict):
        return False
    if tensor_name is None:
        return len(plists) > 0
    return tensor_name in plists


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` the output of `parametrization` on the stored tensor."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            current = getattr(module, tensor_name)
            with torch.no_grad():
                value = parametrization(current)
            if not isinstance(value, torch.Tensor):
                raise ValueError(
                    f"A parametrization must return a tensor. Got {type(value).__name__}."
                )
            _check_result("Registering a parametrization", current, value)
            if hasattr(parametrization, "right_inverse"):
                with torch.no_grad():
                    back = parametrization.right_inverse(current)
                if not isinstance(back, torch.Tensor):
                    raise ValueError(
                        "parametrization.right_inverse must return a tensor. Got "
                        f"{type(back).__name__}"
                    )
                _check_result("right_inverse", current, back)
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module

    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(
            f"Module '{module}' does not have a parameter, a buffer, or a parametrized "
            f"element with name '{tensor_name}'"
        )
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        _inject_class(module)
        module.parametrizations = ModuleDict()
    cls = type(module)
    setattr(cls, tensor_name, _parametrized_read(tensor_name))
    cls._parametrized_names = cls._parametrized_names | {tensor_name}
    module.parametrizations[tensor_name] = plist
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo the parametrizations of `tensor_name`, keeping its current (or stored) value."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with torch.no_grad():
                value = getattr(module, tensor_name)
            with torch.no_grad():
                if value.dtype == original.dtype and value.shape == original.shape:
                    original.copy_(value)
                else:
                    original.data = value.detach().clone()
    else:
        if not leave_parametrized:
            raise ValueError(
                "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                "parametrized in terms of a sequence of tensors."
            )
        with torch.no_grad():
            value = getattr(module, tensor_name)
        like = plist.original0
        original = _same_kind(value.detach().clone(), like)
    cls = type(module)
    delattr(cls, tensor_name)
    cls._parametrized_names = cls._parametrized_names - {tensor_name}
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = cls._plain_class
    return module


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Copy the parametrizations (and their original tensors) of `from_module` onto `to_module`."""
    if not is_parametrized(from_module):
        raise ValueError(f"Module {from_module} has no parametrizations to transfer")
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        if not is_parametrized(from_module, name):
            raise ValueError(f"Module {from_module} does not have a parametrization on {name}")
        source = from_module.parametrizations[name]
        if not hasattr(to_module, name) and name not in to_module._parameters:
            to_module.register_parameter(name, Parameter(getattr(from_module, name).detach()))
        if not is_parametrized(to_module, name):
            for i, step in enumerate(source):
                register_parametrization(to_module, name, step, unsafe=source.unsafe and i > 0)
        target = to_module.parametrizations[name]
        with torch.no_grad():
            for a, b in zip(target._originals(), source._originals()):
                a.data = b.detach().clone()
    return to_module
