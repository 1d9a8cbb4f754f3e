"""Module: the base class of every layer, with PyTorch's registration contract."""

from collections import OrderedDict

import rtorch as torch

from ..parameter import Buffer, Parameter
from . import _state_dict as _sd
from ._hooks import RemovableHandle, add_hook  # noqa: F401
from ._state_dict import _IncompatibleKeys  # noqa: F401
from .utils import _addindent, _is_float_or_complex, _parse_to, _replace_data, typename

__all__ = ["Module"]

# Member stores in lookup order; the same order decides __setattr__ routing.
_STORES = ("_parameters", "_modules", "_buffers")

# Every hook table a module owns (all ordered, so prepend can move ids to the front).
_HOOK_TABLES = (
    "_backward_pre_hooks",
    "_backward_hooks",
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)


def _forward_unimplemented(self, *input):
    raise NotImplementedError(
        f'Module [{type(self).__name__}] is missing the required "forward" function'
    )


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


class _Slot:
    """How one member store accepts values: what claims a name, what may replace it."""

    def __init__(self, store, label, claims, accepts, expected):
        self.store = store  # attribute holding the dict
        self.label = label  # noun used in error messages
        self.claims = claims  # value type that moves a name into this store
        self.accepts = accepts  # value type allowed once the name lives here
        self.expected = expected  # type named in the error message

    def check(self, name, value):
        if value is not None and not isinstance(value, self.accepts):
            raise TypeError(
                f"cannot assign '{typename(value)}' as {self.label} '{name}' "
                f"({self.expected} or None expected)"
            )


def _check_name(owner, kind, name, store):
    """Validate a new member name; messages follow PyTorch's wording."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {typename(name)}")
    dotted = f", got: {name}" if kind == "module" else ""
    for bad, message in (
        ("." in name, f'{kind} name can\'t contain "."{dotted}'),
        (name == "", f'{kind} name can\'t be empty string ""'),
        (hasattr(owner, name) and name not in store, f"attribute '{name}' already exists"),
    ):
        if bad:
            raise KeyError(message)


class Module:
    """Base class for all neural network modules."""

    dump_patches = False
    _version = 1
    training: bool
    call_super_init = False
    forward = _forward_unimplemented

    def __init__(self, *args, **kwargs):
        if not self.call_super_init:
            if kwargs:
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                    f"'{next(iter(kwargs))}'"
                )
            if args:
                raise TypeError(
                    f"{type(self).__name__}.__init__() takes 1 positional argument but "
                    f"{len(args) + 1} were given"
                )
        # Written straight into __dict__: our __setattr__ reads these stores.
        state = self.__dict__
        state["training"] = True
        state["_parameters"] = {}
        state["_buffers"] = {}
        state["_non_persistent_buffers_set"] = set()
        state["_is_full_backward_hook"] = None
        state.update((table, OrderedDict()) for table in _HOOK_TABLES)
        state["_modules"] = {}
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    # ---------------------------------------------------------------- registration
    def _store_or_raise(self, store, what):
        table = self.__dict__.get(store)
        if table is None:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")
        return table

    def register_buffer(self, name, tensor, persistent=True):
        buffers = self._store_or_raise("_buffers", "buffer")
        _check_name(self, "buffer", name, buffers)
        if tensor is not None and not isinstance(tensor, torch.Tensor):
            raise TypeError(
                f"cannot assign '{typename(tensor)}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        buffers[name] = tensor
        hidden = self._non_persistent_buffers_set
        (hidden.discard if persistent else hidden.add)(name)

    def register_parameter(self, name, param):
        params = self._store_or_raise("_parameters", "parameter")
        _check_name(self, "parameter", name, params)
        if param is not None:
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"cannot assign '{typename(param)}' object to parameter '{name}' "
                    "(torch.nn.Parameter or None required)"
                )
            if param.grad_fn is not None:
                raise ValueError(
                    f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters "
                    f"must be created explicitly. To express '{name}' as a function of "
                    "another Tensor, compute the value in the forward() method."
                )
        params[name] = param

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{typename(module)} is not a Module subclass")
        _check_name(self, "module", name, self._modules)
        self._modules[name] = module

    def register_module(self, name, module):
        self.add_module(name, module)

    def get_submodule(self, target):
        node = self
        for part in target.split(".") if target else ():
            if not hasattr(node, part):
                raise AttributeError(f"{node._get_name()} has no attribute `{part}`")
            node = getattr(node, part)
            if not isinstance(node, Module):
                raise AttributeError(f"`{part}` is not an nn.Module")
        return node

    def _get_member(self, target, accept, what):
        owner_path, _, leaf = target.rpartition(".")
        owner = self.get_submodule(owner_path)
        if not hasattr(owner, leaf):
            raise AttributeError(f"{owner._get_name()} has no attribute `{leaf}`")
        value = getattr(owner, leaf)
        if not accept(owner, leaf, value):
            raise AttributeError(f"`{leaf}` is not {what}")
        return value

    def get_parameter(self, target):
        return self._get_member(
            target, lambda _o, _n, v: isinstance(v, Parameter), "an nn.Parameter"
        )

    def get_buffer(self, target):
        return self._get_member(target, lambda o, n, _v: n in o._buffers, "a buffer")

    get_extra_state = _sd._default_get_extra_state
    set_extra_state = _sd._default_set_extra_state

    # ---------------------------------------------------------------- attribute protocol
    def __getattr__(self, name):
        state = self.__dict__
        for store in _STORES:
            members = state.get(store)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _forget(self, name, keep):
        """Drop `name` from every member store except `keep` (and from the instance dict)."""
        state = self.__dict__
        if keep is not None:
            state.pop(name, None)
        for store in _STORES:
            if store != keep and store in state:
                state[store].pop(name, None)
        if keep != "_buffers" and "_non_persistent_buffers_set" in state:
            state["_non_persistent_buffers_set"].discard(name)

    def __setattr__(self, name, value):
        state = self.__dict__
        for slot in _SLOTS:
            members = state.get(slot.store)
            if isinstance(value, slot.claims):
                self._store_or_raise(slot.store, slot.what_before_init)
            elif members is None or name not in members:
                continue
            slot.check(name, value)
            slot.assign(self, name, value)
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        state = self.__dict__
        if any(name in state.get(store, ()) for store in _STORES):
            self._forget(name, keep=None)
        else:
            super().__delattr__(name)

    def __setstate__(self, state):
        self.__dict__.update(state)
        # Pickles from older layouts may lack newer hook tables.
        for table in _HOOK_TABLES:
            self.__dict__.setdefault(table, OrderedDict())
        self.__dict__.setdefault("_non_persistent_buffers_set", set())

    def __dir__(self):
        names = set(dir(type(self))) | set(self.__dict__)
        for store in _STORES:
            names.update(getattr(self, store))
        return sorted(n for n in names if not n[0].isdigit())

    # ---------------------------------------------------------------- iteration
    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        owners = (
            self.named_modules(None, prefix, remove_duplicate)
            if recurse
            else ((prefix, self),)
        )
        seen = set()  # ids, so tied tensors appear once
        for owner_prefix, owner in owners:
            for name, value in get_members_fn(owner):
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield _join(owner_prefix, name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        return (child for _, child in self.named_children())

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        # Depth-first, parents before children, with an explicit stack.
        seen = set() if memo is None else memo
        pending = [(prefix, self)]
        while pending:
            path, node = pending.pop()
            if node in seen:
                continue
            if remove_duplicate:
                seen.add(node)
            yield path, node
            subs = [(_join(path, k), m) for k, m in node._modules.items() if m is not None]
            pending.extend(reversed(subs))

    def modules(self):
        return (m for _, m in self.named_modules())

    # ---------------------------------------------------------------- modes and grads
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            grad = p.grad
            if grad is None:
                continue
            if set_to_none:
                p.grad = None
                continue
            if grad.grad_fn is None:
                grad.requires_grad_(False)
            else:
                grad = p.grad = grad.detach()
            grad.zero_()

    def apply(self, fn):
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- conversion
    def _apply(self, fn, recurse=True):
        if recurse:
            for child in self.children():
                child._apply(fn)
        params = self._parameters
        for key in list(params):
            old = params[key]
            if old is None:
                continue
            with torch.no_grad():
                new_data = fn(old)
            kept = old
            if new_data is not old:
                # Keep the Parameter object when the core allows swapping its data,
                # so optimizers holding it stay valid.
                kept = _replace_data(old, new_data)
                if kept is None:
                    kept = params[key] = Parameter(new_data, old.requires_grad)
            grad = old.grad
            if grad is not None:
                with torch.no_grad():
                    new_grad = fn(grad)
                if new_grad is not grad or kept is not old:
                    kept.grad = new_grad.requires_grad_(grad.requires_grad)
        bufs = self._buffers
        for key in list(bufs):
            if bufs[key] is not None:
                bufs[key] = fn(bufs[key])
        return self

    def to(self, *args, **kwargs):
        device, dtype, _non_blocking = _parse_to(*args, **kwargs)
        if dtype is not None and not (dtype.is_floating_point or getattr(dtype, "is_complex", 0)):
            raise TypeError(
                "nn.Module.to only accepts floating point or complex dtypes, but got "
                f"desired dtype={dtype}"
            )
        target = {}
        if device is not None:
            target["device"] = device

        def convert(t):
            if dtype is not None and _is_float_or_complex(t):
                return t.to(dtype=dtype, **target)
            return t.to(**target) if target else t

        return self._apply(convert)

    def cuda(self, device=None):
        args = () if device is None else (device,)
        return self._apply(lambda t: t.cuda(*args))

    def cpu(self):
        return self._apply(lambda t: t.cpu())

    def type(self, dst_type):
        return self._apply(lambda t: t.to(dtype=dst_type))

    def _cast_floats(self, dtype):
        return self._apply(lambda t: t.to(dtype=dtype) if _is_float_or_complex(t) else t)

    def float(self):
        return self._cast_floats(torch.float32)

    def double(self):
        return self._cast_floats(torch.float64)

    def half(self):
        return self._cast_floats(torch.float16)

    def bfloat16(self):
        return self._cast_floats(torch.bfloat16)

    def share_memory(self):
        return self

    # ---------------------------------------------------------------- calling and hooks
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        flags = [(self._forward_pre_hooks_with_kwargs, with_kwargs)]
        return add_hook(self._forward_pre_hooks, hook, prepend=prepend, flags=flags)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        flags = [
            (self._forward_hooks_with_kwargs, with_kwargs),
            (self._forward_hooks_always_called, always_call),
        ]
        return add_hook(self._forward_hooks, hook, prepend=prepend, flags=flags)

    def register_full_backward_hook(self, hook, prepend=False):
        raise NotImplementedError("rtorch: module backward hooks are not supported")

    register_backward_hook = register_full_backward_hook
    register_full_backward_pre_hook = register_full_backward_hook

    def _pre_forward(self, args, kwargs):
        wants_kwargs = self._forward_pre_hooks_with_kwargs
        for key, hook in list(self._forward_pre_hooks.items()):
            if key not in wants_kwargs:
                out = hook(self, args)
                if out is not None:
                    args = out if isinstance(out, tuple) else (out,)
                continue
            out = hook(self, args, kwargs)
            if out is None:
                continue
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError(
                    "forward pre-hook must return None or a tuple of "
                    f"(new_args, new_kwargs), but got {out}."
                )
            args, kwargs = out
        return args, kwargs

    def _post_forward(self, hooks, args, kwargs, result, done):
        wants_kwargs = self._forward_hooks_with_kwargs
        for key, hook in hooks:
            done.add(key)
            extra = (kwargs,) if key in wants_kwargs else ()
            out = hook(self, args, *extra, result)
            if out is not None:
                result = out
        return result

    def _call_impl(self, *args, **kwargs):
        if not (self._forward_hooks or self._forward_pre_hooks):
            return self.forward(*args, **kwargs)
        done = set()
        result = None
        try:
            args, kwargs = self._pre_forward(args, kwargs)
            result = self.forward(*args, **kwargs)
            return self._post_forward(
                list(self._forward_hooks.items()), args, kwargs, result, done
            )
        except Exception:
            always = self._forward_hooks_always_called
            late = [(k, h) for k, h in self._forward_hooks.items() if k in always and k not in done]
            try:
                self._post_forward(late, args, kwargs, result, done)
            except Exception:
                pass  # the original error is the one to report
            raise

    __call__ = _call_impl

    # ---------------------------------------------------------------- state dict
    _save_to_state_dict = _sd._save_to_state_dict
    state_dict = _sd.state_dict
    _load_from_state_dict = _sd._load_from_state_dict
    load_state_dict = _sd.load_state_dict
    register_state_dict_pre_hook = _sd.register_state_dict_pre_hook
    register_state_dict_post_hook = _sd.register_state_dict_post_hook
    _register_state_dict_hook = _sd._register_state_dict_hook
    register_load_state_dict_pre_hook = _sd.register_load_state_dict_pre_hook
    _register_load_state_dict_pre_hook = _sd._register_load_state_dict_pre_hook
    register_load_state_dict_post_hook = _sd.register_load_state_dict_post_hook

    # ---------------------------------------------------------------- repr
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        body = extra.split("\n") if extra else []
        has_children = bool(self._modules)
        body += [f"({k}): {_addindent(repr(m), 2)}" for k, m in self._modules.items()]
        if not body:
            inner = ""
        elif len(body) == 1 and not has_children:
            inner = body[0]
        else:
            inner = "".join(f"\n  {line}" for line in body) + "\n"
        return f"{self._get_name()}({inner})"


class _ParamSlot(_Slot):
    what_before_init = "parameters"

    def assign(self, module, name, value):
        if value is not None:
            module._forget(name, keep=self.store)
        module.register_parameter(name, value)


class _ModuleSlot(_Slot):
    what_before_init = "module"

    def assign(self, module, name, value):
        if value is not None:
            module._forget(name, keep=self.store)
        module._modules[name] = value


class _BufferSlot(_Slot):
    what_before_init = "buffer"

    def assign(self, module, name, value):
        if isinstance(value, Buffer):
            module._forget(name, keep=self.store)
            persistent = value.persistent
        else:
            persistent = name not in module._non_persistent_buffers_set
        module.register_buffer(name, value, persistent)


_SLOTS = (
    _ParamSlot("_parameters", "parameter", Parameter, Parameter, "torch.nn.Parameter"),
    _ModuleSlot("_modules", "child module", Module, Module, "torch.nn.Module"),
    _BufferSlot("_buffers", "buffer", Buffer, torch.Tensor, "torch.Tensor"),
)
