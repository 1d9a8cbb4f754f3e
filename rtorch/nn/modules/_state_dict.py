"""Module.state_dict / load_state_dict and their hooks (attached to Module).

Both directions walk the module tree with an explicit stack. Each module gets an
"enter" step (pre hooks, its own tensors, then its children) and a "leave" step
(post hooks) that runs once its whole subtree is done, which is the order PyTorch's
recursive implementation produces.
"""

import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import rtorch as torch

from ..parameter import Parameter
from ._hooks import add_hook

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if self.missing_keys or self.unexpected_keys:
            return super().__repr__()
        return "<All keys matched successfully>"

    __str__ = __repr__


def _default_get_extra_state(self):
    raise RuntimeError(
        "Reached a code path in Module.get_extra_state() that should never be called."
    )


def _default_set_extra_state(self, state):
    raise RuntimeError(
        "Reached a code path in Module.set_extra_state() that should never be called."
    )


def _has_own(module, method, default):
    return getattr(type(module), method) is not default


def _saved_members(module):
    """(name, tensor) pairs that belong in a state dict: parameters, then persistent buffers."""
    hidden = module._non_persistent_buffers_set
    for name, value in module._parameters.items():
        if value is not None:
            yield name, value
    for name, value in module._buffers.items():
        if value is not None and name not in hidden:
            yield name, value


def _run_hooks(table, *args):
    """Call every hook of `table` in registration order; returns their results."""
    return [hook(*args) for hook in list(table.values())]


def _child_entries(module, prefix):
    return [(f"{prefix}{name}.", child) for name, child in module._modules.items() if child]


# ---------------------------------------------------------------------------- saving
def _save_to_state_dict(self, destination, prefix, keep_vars):
    for name, value in _saved_members(self):
        destination[prefix + name] = value if keep_vars else value.detach()
    if _has_own(self, "get_extra_state", _default_get_extra_state):
        destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()


_LEGACY_ARGS = ("destination", "prefix", "keep_vars")


def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
    if args:
        warnings.warn(
            "Positional args are being deprecated, use kwargs instead. Refer to "
            "https://pytorch.org/docs/main/generated/torch.nn.Module.html"
            "#torch.nn.Module.state_dict for details.",
            FutureWarning,
            stacklevel=2,
        )
        given = dict(zip(_LEGACY_ARGS, args))
        destination = given.get("destination", destination)
        prefix = given.get("prefix", prefix)
        keep_vars = given.get("keep_vars", keep_vars)
    if destination is None:
        destination = OrderedDict()
        destination._metadata = OrderedDict()

    root = None
    todo = [("enter", self, prefix, destination)]
    while todo:
        step, module, at, data = todo.pop()
        if step == "leave":
            frame = data  # [destination, local metadata]
            for hook in module._state_dict_hooks.values():
                replaced = hook(module, frame[0], at, frame[1])
                if replaced is not None:
                    frame[0] = replaced
            continue
        if root is not None and type(module).state_dict is not state_dict:
            # A subclass with its own state_dict is called, as the recursive form would.
            module.state_dict(destination=data, prefix=at, keep_vars=keep_vars)
            continue
        meta = {"version": module._version}
        if hasattr(data, "_metadata"):
            data._metadata[at[:-1]] = meta
        _run_hooks(module._state_dict_pre_hooks, module, at, keep_vars)
        module._save_to_state_dict(data, at, keep_vars)
        frame = [data, meta]
        root = frame if root is None else root
        todo.append(("leave", module, at, frame))
        todo.extend(("enter", c, p, data) for p, c in reversed(_child_entries(module, at)))
    return root[0]


def register_state_dict_pre_hook(self, hook):
    return add_hook(self._state_dict_pre_hooks, hook)


def _register_state_dict_hook(self, hook):
    return add_hook(self._state_dict_hooks, hook)


def register_state_dict_post_hook(self, hook):
    def must_return_none(module, destination, prefix, local_metadata):
        if hook(module, destination, prefix, local_metadata) is not None:
            raise RuntimeError("state_dict post-hook must return None")

    return add_hook(self._state_dict_hooks, must_return_none)


# ---------------------------------------------------------------------------- loading
def _copy_error(key, current, incoming, exc):
    return (
        f'While copying the parameter named "{key}", whose dimensions in the model are '
        f"{current.size()} and whose dimensions in the checkpoint are {incoming.size()}, "
        f"an exception occurred : {exc.args}."
    )


def _load_one(module, name, current, incoming, key, assign, error_msgs):
    """Put one checkpoint tensor into `module.<name>`; problems go to error_msgs."""
    if not isinstance(incoming, torch.Tensor):
        error_msgs.append(
            f'While copying the parameter named "{key}", expected torch.Tensor or '
            f"Tensor-like object from checkpoint but received {type(incoming)}"
        )
        return
    # Scalars were once saved as 1-element vectors.
    if current.dim() == 0 and incoming.dim() == 1:
        incoming = incoming[0]
    if tuple(incoming.shape) != tuple(current.shape):
        error_msgs.append(
            f"size mismatch for {key}: copying a param with shape {incoming.shape} "
            f"from checkpoint, the shape in current model is {current.shape}."
        )
        return
    try:
        with torch.no_grad():
            if not assign:
                current.copy_(incoming)
                return
            if isinstance(current, Parameter):
                wanted = current.requires_grad
                if isinstance(incoming, Parameter):
                    incoming.requires_grad_(wanted)
                else:
                    incoming = Parameter(incoming, requires_grad=wanted)
            setattr(module, name, incoming)
    except Exception as exc:
        error_msgs.append(_copy_error(key, current, incoming, exc))


def _load_from_state_dict(
    self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
):
    _run_hooks(
        self._load_state_dict_pre_hooks,
        *(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs),
    )
    own = dict(_saved_members(self))
    assign = local_metadata.get("assign_to_params_buffers", False)
    for name, current in own.items():
        key = prefix + name
        if key in state_dict:
            _load_one(self, name, current, state_dict[key], key, assign, error_msgs)
        elif strict:
            missing_keys.append(key)

    extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
    if _has_own(self, "set_extra_state", _default_set_extra_state):
        if extra_key in state_dict:
            self.set_extra_state(state_dict[extra_key])
        elif strict:
            missing_keys.append(extra_key)
    elif strict and extra_key in state_dict:
        unexpected_keys.append(extra_key)

    if not strict:
        return
    for key in state_dict:
        if not key.startswith(prefix) or key == extra_key:
            continue
        head, dot, _rest = key[len(prefix) :].partition(".")
        known = self._modules if dot else own
        if head not in known:
            unexpected_keys.append(key)


def load_state_dict(self, state_dict, strict=True, assign=False):
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    metadata = getattr(state_dict, "_metadata", None)
    # A private copy: _load_from_state_dict overrides may add or drop keys.
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata
    report = _IncompatibleKeys([], [])
    error_msgs = []

    todo = [(False, self, "", state_dict)]
    while todo:
        leaving, module, prefix, local = todo.pop()
        if leaving:
            returned = _run_hooks(module._load_state_dict_post_hooks, module, report)
            if any(r is not None for r in returned):
                raise AssertionError(
                    "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                    "expected to return new values, if incompatible_keys need to be "
                    "modified, it should be done inplace."
                )
            continue
        meta = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
        if assign:
            meta["assign_to_params_buffers"] = assign
        module._load_from_state_dict(
            local, prefix, meta, True, report.missing_keys, report.unexpected_keys, error_msgs
        )
        todo.append((True, module, prefix, None))
        for child_prefix, child in reversed(_child_entries(module, prefix)):
            subset = {k: v for k, v in local.items() if k.startswith(child_prefix)}
            todo.append((False, child, child_prefix, subset))

    if strict:
        listed = (("Missing", report.missing_keys), ("Unexpected", report.unexpected_keys))
        error_msgs[:0] = [
            f"{label} key(s) in state_dict: " + ", ".join(f'"{k}"' for k in keys) + ". "
            for label, keys in listed
            if keys
        ]
    if error_msgs:
        details = "\n\t".join(error_msgs)
        owner = type(self).__name__
        raise RuntimeError(f"Error(s) in loading state_dict for {owner}:\n\t{details}")
    return report


class _ModuleBoundHook:
    """Calls hook(module, *args). Holds the module weakly; copies and pickles carry it."""

    def __init__(self, hook, module):
        self.hook = hook
        self.module = weakref.ref(module)

    def __call__(self, *args):
        return self.hook(self.module(), *args)

    def __getstate__(self):
        return {"hook": self.hook, "module": self.module()}

    def __setstate__(self, state):
        self.__init__(state["hook"], state["module"])


def _register_load_state_dict_pre_hook(self, hook, with_module=False):
    entry = _ModuleBoundHook(hook, self) if with_module else hook
    return add_hook(self._load_state_dict_pre_hooks, entry)


def register_load_state_dict_pre_hook(self, hook):
    return _register_load_state_dict_pre_hook(self, hook, with_module=True)


def register_load_state_dict_post_hook(self, hook):
    return add_hook(self._load_state_dict_post_hooks, hook)
