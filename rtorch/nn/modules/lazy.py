"""LazyModuleMixin: modules whose parameter shapes come from their first input.

A lazy module starts with UninitializedParameter/UninitializedBuffer placeholders. A
forward pre-hook calls `initialize_parameters(*args, **kwargs)` on the first call,
which materialises them; the hook then removes itself and the module's class becomes
`cls_to_become` (e.g. LazyLinear -> Linear). Loading a state_dict into a lazy module
materialises the placeholders from the checkpoint's shapes instead.
"""

import rtorch as torch

from ..parameter import is_lazy
from . import _state_dict as _sd

__all__ = ["LazyModuleMixin"]


def _first_call(module, inputs, kwargs):
    module.initialize_parameters(*inputs, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    del module._initialize_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


def _own_tensors(module):
    """(store, name, value) for every parameter and buffer registered on `module`."""
    for store in ("_parameters", "_buffers"):
        for name, value in getattr(module, store).items():
            yield store, name, value


class LazyModuleMixin:
    """Mixin for modules that infer their parameter shapes from the first input.

    Put it before the regular layer in the bases; the subclass replaces the layer's
    parameters by placeholders and implements `initialize_parameters`.
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_first_call, with_kwargs=True)

    def has_uninitialized_params(self):
        """True while any of this module's own parameters or buffers is a placeholder."""
        return any(is_lazy(value) for _, _, value in _own_tensors(self))

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(
            f"initialize_parameters is not implemented for {type(self).__name__}"
        )

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # Placeholders are saved as they are: they have no data to detach.
        hidden = self._non_persistent_buffers_set
        for store, name, value in _own_tensors(self):
            if value is None or (store == "_buffers" and name in hidden):
                continue
            keep = keep_vars or is_lazy(value)
            destination[prefix + name] = value if keep else value.detach()
        if _sd._has_own(self, "get_extra_state", _sd._default_get_extra_state):
            destination[prefix + _sd._EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        # Placeholders take the checkpoint's shape (keeping their own dtype) before the copy. A placeholder
        # loaded from a placeholder stays one: it is set aside while the rest loads.
        set_aside = {}
        for store, name, value in list(_own_tensors(self)):
            key = prefix + name
            if not is_lazy(value) or key not in state_dict:
                continue
            incoming = state_dict[key]
            if is_lazy(incoming):
                set_aside[name] = (store, value)
            elif isinstance(incoming, torch.Tensor):
                value.materialize(tuple(incoming.size()))
        orders = {store: list(getattr(self, store)) for store in ("_parameters", "_buffers")}
        for name, (store, _value) in set_aside.items():
            del getattr(self, store)[name]
        try:
            super()._load_from_state_dict(
                state_dict,
                prefix,
                local_metadata,
                strict,
                missing_keys,
                unexpected_keys,
                error_msgs,
            )
        finally:
            for store, names in orders.items():
                table = getattr(self, store)
                current = dict(table)
                current.update((n, v) for n, (s, v) in set_aside.items() if s == store)
                table.clear()
                table.update((n, current.pop(n)) for n in names if n in current)
                table.update(current)
        for name in set_aside:
            key = prefix + name
            if key in unexpected_keys:
                unexpected_keys.remove(key)
