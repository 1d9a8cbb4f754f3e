"""Parameter and Buffer: tensor subclasses that modules register automatically."""

import rtorch as torch

__all__ = ["Parameter", "Buffer", "is_lazy"]

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


def is_lazy(param):
    return False
