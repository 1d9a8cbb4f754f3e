"""The optimizer base class (``torch.optim.Optimizer``) and the fused-kernel optimizer frame.

``Optimizer`` owns what every optimizer shares: parameter groups, per-parameter state,
hooks and the checkpoint format.  ``_FusedOptimizer`` adds the step loop of the built-in
optimizers, which describe themselves declaratively (hyper-parameter order, state slots)
and hand each parameter group to one fused core call.
"""

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from itertools import chain
from typing import NamedTuple

import rtorch as torch

__all__ = [
    "Optimizer",
    "register_optimizer_step_pre_hook",
    "register_optimizer_step_post_hook",
    "required",
]


class _RequiredParameter:
    """Sentinel default: the hyper-parameter must be given by every parameter group."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


# ----------------------------------------------------------------------------- hooks

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()

# Every optimizer keeps one ordered table per hook kind, as ``_optimizer_<kind>_hooks``.
_HOOK_KINDS = (
    "step_pre",
    "step_post",
    "state_dict_pre",
    "state_dict_post",
    "load_state_dict_pre",
    "load_state_dict_post",
)


class _RemovableHandle:
    """Returned by the ``register_*hook`` functions; ``remove()`` detaches the hook."""

    _counter = 0

    def __init__(self, table):
        self._table = table
        self.id = _RemovableHandle._counter
        _RemovableHandle._counter += 1

    def remove(self):
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


def _add_hook(table, hook, prepend=False):
    handle = _RemovableHandle(table)
    table[handle.id] = hook
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` before the ``step()`` of every optimizer."""
    return _add_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` after the ``step()`` of every optimizer."""
    return _add_hook(_global_optimizer_post_hooks, hook)


def _pipe(table, owner, value):
    """Call each hook with ``(owner, value)``; a hook returning non-None replaces ``value``."""
    for hook in table.values():
        replacement = hook(owner, value)
        if replacement is not None:
            value = replacement
    return value


def _hooked(step):
    """Wrap a class's ``step`` so the step hooks run around it exactly once per call."""

    @functools.wraps(step)
    def run_step(self, *args, **kwargs):
        if self.__dict__.get("_inside_step"):
            # A subclass's step delegating to its parent's: the hooks already ran.
            return step(self, *args, **kwargs)
        self._inside_step = True
        try:
            pre = self._optimizer_step_pre_hooks.values()
            for hook in chain(_global_optimizer_pre_hooks.values(), pre):
                changed = hook(self, args, kwargs)
                if changed is None:
                    continue
                if not (isinstance(changed, tuple) and len(changed) == 2):
                    raise RuntimeError(
                        f"{step} must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {changed}."
                    )
                args, kwargs = changed
            result = step(self, *args, **kwargs)
            # Read by the learning-rate schedulers to detect a scheduler stepped first.
            self._opt_called = True
            post = self._optimizer_step_post_hooks.values()
            for hook in chain(post, _global_optimizer_post_hooks.values()):
                hook(self, args, kwargs)
            return result
        finally:
            self._inside_step = False

    run_step._step_hooks_wrapped = True
    return run_step


# ------------------------------------------------------------------------- helpers


def _typename(obj):
    if torch.is_tensor(obj):
        return "torch.Tensor"
    cls = type(obj)
    if cls.__module__ in ("builtins", None):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_floating(t):
    probe = getattr(t, "is_floating_point", None)
    if probe is not None:
        return probe()
    return t.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _unpack_params(params):
    """A group's ``params`` entry as (tensors, names or None); names come from (name, tensor) pairs."""
    if torch.is_tensor(params):
        entries = [params]
    elif isinstance(params, set):
        raise TypeError(
            "optimizer parameters need to be organized in ordered collections, but "
            "the ordering of tensors in sets will change between runs. Please use a list "
            "instead."
        )
    else:
        entries = list(params)
    named = [entry for entry in entries if isinstance(entry, tuple)]
    if named and len(named) != len(entries):
        raise ValueError(
            "all optimizer params should be with/without names. Some param names are missing"
        )
    if named:
        return [tensor for _, tensor in named], [name for name, _ in named]
    return entries, None


def _place_like(param, value, key=None):
    """Bring a loaded state value next to ``param``.

    Tensors move to the parameter's device and, when the parameter is floating point,
    take its dtype; the 'step' counter is kept as saved. Containers are walked.
    """
    if torch.is_tensor(value):
        if key == "step":
            return value
        dtype = param.dtype if _is_floating(param) else value.dtype
        if value.dtype == dtype and value.device == param.device:
            return value
        return value.to(dtype=dtype, device=param.device)
    if isinstance(value, dict):
        return {k: _place_like(param, v, k) for k, v in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return type(value)(_place_like(param, v) for v in value)
    return value


# --------------------------------------------------------------------------- base


class Optimizer:
    """Base class for all optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts that
    define parameter groups; ``defaults`` holds the default hyper-parameters of a group.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own_step = cls.__dict__.get("step")
        if callable(own_step) and not getattr(own_step, "_step_hooks_wrapped", False):
            cls.step = _hooked(own_step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._ensure_hook_tables()
        if torch.is_tensor(params):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {_typename(params)}"
            )
        self.state = defaultdict(dict)
        self.param_groups = []
        entries = list(params)
        if not entries:
            raise ValueError("optimizer got an empty parameter list")
        explicit_groups = isinstance(entries[0], dict)
        for group in entries if explicit_groups else [{"params": entries}]:
            self.add_param_group(group)

    def _ensure_hook_tables(self):
        for kind in _HOOK_KINDS:
            self.__dict__.setdefault(f"_optimizer_{kind}_hooks", OrderedDict())

    # pickling goes through the same three fields as checkpoints
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._ensure_hook_tables()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        text = f"{type(self).__name__} ("
        for number, group in enumerate(self.param_groups):
            text += f"\nParameter Group {number}\n"
            text += "".join(
                f"    {key}: {group[key]}\n" for key in sorted(group) if key != "params"
            )
        return text + ")"

    # ------------------------------------------------------------------------ hooks

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` before ``step``; may return new (args, kwargs)."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` after ``step``."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` before ``state_dict()`` packs the state."""
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)``; a returned dict replaces the result."""
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)``; a returned dict is loaded instead."""
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` once the state is loaded."""
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------- state dict

    def _param_numbers(self):
        """Checkpoint id of each parameter: its position counting through all groups.

        A parameter repeated inside one group takes its last position there; one that
        reappears in a later group keeps the id of the earlier group.
        """
        numbers, offset = {}, 0
        for group in self.param_groups:
            local = {id(p): offset + i for i, p in enumerate(group["params"])}
            numbers = {**local, **numbers}
            offset += len(group["params"])
        return numbers

    def state_dict(self):
        """Return ``{'state': {id: {...}}, 'param_groups': [{..., 'params': [id]}]}``.

        Parameters are replaced by integer ids; state tensors are returned by reference.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        numbers = self._param_numbers()
        packed_groups = []
        for group in self.param_groups:
            packed = dict(group)
            # re-inserted so that 'params' comes last, as in PyTorch checkpoints
            packed["params"] = [numbers[id(p)] for p in packed.pop("params")]
            packed_groups.append(packed)
        packed_state = {}
        for key, value in self.state.items():
            packed_state[numbers[id(key)] if torch.is_tensor(key) else key] = value
        result = {"state": packed_state, "param_groups": packed_groups}
        return _pipe(self._optimizer_state_dict_post_hooks, self, result)

    def load_state_dict(self, state_dict):
        """Load a state produced by :meth:`state_dict`; the group layout must match."""
        state_dict = _pipe(self._optimizer_load_state_dict_pre_hooks, self, state_dict.copy())
        current = self.param_groups
        saved = deepcopy(state_dict["param_groups"])
        if len(saved) != len(current):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(c["params"]) for s, c in zip(saved, current)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size "
                "of optimizer's group"
            )

        param_of = {}
        for old, new in zip(saved, current):
            param_of.update(zip(old["params"], new["params"]))

        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in param_of:
                state[param_of[key]] = _place_like(param_of[key], value)
            else:
                state[key] = value

        for old, new in zip(saved, current):
            old["params"] = new["params"]
            if "param_names" in new:
                old.setdefault("param_names", new["param_names"])
        self.__setstate__({"state": state, "param_groups": saved})

        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    # ----------------------------------------------------------- groups and grads

    def _all_params(self):
        return chain.from_iterable(group["params"] for group in self.param_groups)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors (to ``None`` by default)."""
        with torch.no_grad():
            for param in self._all_params():
                grad = param.grad
                if grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                    continue
                if getattr(grad, "grad_fn", None) is not None:
                    grad = param.grad = grad.detach()
                elif grad.requires_grad:
                    grad.requires_grad_(False)
                grad.zero_()

    def step(self, closure=None):
        raise NotImplementedError

    def _check_optimizable(self, param):
        if not torch.is_tensor(param):
            raise TypeError(
                "optimizer can only optimize Tensors, but one of the params is " + _typename(param)
            )
        if self.defaults.get("differentiable"):
            return
        if not (param.is_leaf or getattr(param, "retains_grad", False)):
            raise ValueError("can't optimize a non-leaf Tensor")

    def add_param_group(self, param_group):
        """Add a group of parameters; hyper-parameters it lacks take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        tensors, names = _unpack_params(param_group["params"])
        param_group["params"] = tensors
        if names is not None:
            param_group["param_names"] = names
        for tensor in tensors:
            self._check_optimizable(tensor)

        for key, fallback in self.defaults.items():
            if key in param_group:
                continue
            if fallback is required:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {key}"
                )
            param_group[key] = fallback

        if len(set(tensors)) != len(tensors):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        named = "param_names" in param_group
        if any(("param_names" in group) != named for group in self.param_groups):
            kind = "with names" if named else "without names"
            raise ValueError(
                "all optimizer param groups should be with/without names. "
                f"cannot add param group {kind} to the optimizer"
            )
        if not set(self._all_params()).isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)


# ------------------------------------------------------------ fused-kernel optimizers


class _Slot(NamedTuple):
    """One per-parameter state tensor, shaped like the parameter."""

    name: str
    when: str | None = None  # group entry that must be truthy for the slot to exist
    start: str | None = None  # group entry holding the initial value (zero otherwise)


_NON_NEGATIVE_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def _require_non_negative(**values):
    """Reject negative hyper-parameters ('Invalid momentum value: -0.1')."""
    for name, value in values.items():
        if name == "lr":
            _require_scalar_lr(value)  # before comparing: a multi-element tensor cannot
        if not 0.0 <= value:
            label = _NON_NEGATIVE_LABELS.get(name, f"{name} value")
            raise ValueError(f"Invalid {label}: {value}")


def _require_scalar_lr(lr):
    if torch.is_tensor(lr) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")


def _reject_unsupported(capturable=False, differentiable=False):
    if capturable:
        raise NotImplementedError(
            "capturable=True (CUDA graph capture) is not supported by rtorch optimizers"
        )
    if differentiable:
        raise NotImplementedError(
            "differentiable=True (autograd through the optimizer step) is not supported by "
            "rtorch optimizers"
        )


def _scalar(value):
    """Hyper-parameters may be 1-element tensors; the kernels take Python floats."""
    return value.item() if torch.is_tensor(value) else float(value)


def _step_dtype():
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _tick(states):
    """Advance each state's 'step' counter; the kernels take the new counts as ints."""
    counts = []
    for state in states:
        counter = state["step"]
        counter.add_(1)
        counts.append(int(counter.item()))
    return counts


class _FusedOptimizer(Optimizer):
    """Frame of the built-in optimizers: each describes itself and supplies ``_update``.

    ``_hyper`` lists the constructor arguments that become group defaults (in checkpoint
    order), ``_slots`` the state tensors, ``_counts_steps`` whether a 'step' counter is
    kept, ``_backfill`` the group entries that older checkpoints may lack and ``_pinned``
    the entries that always take one value.
    """

    _hyper = ()
    _slots = ()
    _counts_steps = True
    _backfill = {}
    _pinned = {}

    def __init__(self, params, arguments):
        """``arguments``: the subclass constructor's arguments by name."""
        _reject_unsupported(arguments.get("capturable"), arguments.get("differentiable"))
        super().__init__(params, {name: arguments[name] for name in self._hyper})

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self._backfill.items():
                group.setdefault(key, value)
            group.update(self._pinned)
            if self._counts_steps:
                self._step_counters_as_tensors(group)

    def _step_counters_as_tensors(self, group):
        # Old checkpoints stored 'step' as a Python number.
        for param in group["params"]:
            state = self.state.get(param)
            if state and "step" in state and not torch.is_tensor(state["step"]):
                state["step"] = torch.tensor(float(state["step"]), dtype=_step_dtype())

    def _state_of(self, group, param):
        """The parameter's state, created on first use from the slot description."""
        state = self.state[param]
        if not state:
            if self._counts_steps:
                state["step"] = torch.tensor(0.0, dtype=_step_dtype())
            for slot in self._slots:
                if slot.when is None or group[slot.when]:
                    buffer = torch.zeros_like(param)
                    if slot.start is not None:
                        buffer.add_(group[slot.start])
                    state[slot.name] = buffer
        return state

    def _states(self, group, params):
        return [self._state_of(group, p) for p in params]

    def _with_grads(self, group):
        params, grads = [], []
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            if getattr(grad, "is_sparse", False):
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            params.append(param)
            grads.append(grad)
        return params, grads

    def _update(self, group, params, grads):
        raise NotImplementedError

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                params, grads = self._with_grads(group)
                if params:
                    _reject_unsupported(group.get("capturable"), group.get("differentiable"))
                    self._update(group, params, grads)
        return loss


def _column(states, key):
    """One state entry across parameters (None where a parameter lacks it)."""
    return [state.get(key) for state in states]
