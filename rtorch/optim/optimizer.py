"""Base class for all optimizers (PyTorch's ``torch.optim.Optimizer``)."""

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from itertools import chain

import rtorch as torch

__all__ = [
    "Optimizer",
    "register_optimizer_step_pre_hook",
    "register_optimizer_step_post_hook",
    "required",
]


class _RequiredParameter:
    """Singleton marking a constructor argument that has no default."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()


class _RemovableHandle:
    """Handle returned by the ``register_*_hook`` methods; ``remove()`` detaches the hook."""

    _next_id = 0

    def __init__(self, hooks_dict):
        self._hooks_dict = hooks_dict
        self.id = _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self):
        self._hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.remove()


def _register(hooks, hook, prepend=False):
    handle = _RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """Register a pre hook run before ``step()`` of every optimizer."""
    return _register(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Register a post hook run after ``step()`` of every optimizer."""
    return _register(_global_optimizer_post_hooks, hook)


def _get_scalar_dtype():
    get_default = getattr(torch, "get_default_dtype", None)
    dtype = get_default() if get_default is not None else torch.float32
    return torch.float64 if dtype == torch.float64 else torch.float32


def _to_float(value):
    """Hyper-parameters may be given as 1-element tensors; kernels take Python floats."""
    return value.item() if torch.is_tensor(value) else float(value)


def _check_unsupported(capturable=False, differentiable=False):
    if capturable:
        raise NotImplementedError(
            "capturable=True (CUDA graph capture) is not supported by rtorch optimizers"
        )
    if differentiable:
        raise NotImplementedError(
            "differentiable=True (autograd through the optimizer step) is not supported by "
            "rtorch optimizers"
        )


class _EnableGrad:
    """``torch.enable_grad()`` when the core provides it, else a no-op context."""

    def __enter__(self):
        enable = getattr(torch, "enable_grad", None)
        self._ctx = enable() if enable is not None else None
        if self._ctx is not None:
            self._ctx.__enter__()

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


def _wrap_step(func):
    """Run step pre/post hooks around a subclass's ``step`` (as PyTorch's profile_hook_step)."""

    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        for pre_hook in chain(
            _global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()
        ):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(
                        f"{func} must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}."
                    )
        out = func(self, *args, **kwargs)
        self._opt_called = True
        for post_hook in chain(
            self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()
        ):
            post_hook(self, args, kwargs)
        return out

    wrapper._hooked = True
    return wrapper


class Optimizer:
    """Base class for all optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts that
    define parameter groups; ``defaults`` holds the default hyper-parameters of a group.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()

        if torch.is_tensor(params):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {_typename(params)}"
            )

        self.state = defaultdict(dict)
        self.param_groups = []
        self._patch_step_function()

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]

        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {
            "defaults": self.defaults,
            "state": self.state,
            "param_groups": self.param_groups,
        }

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    # hooks ---------------------------------------------------------------------------

    def _patch_step_function(self):
        cls = self.__class__
        if not getattr(cls.step, "_hooked", False):
            cls.step = _wrap_step(cls.step)

    def register_step_pre_hook(self, hook):
        return _register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        return _register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # state dict ----------------------------------------------------------------------

    def state_dict(self):
        """Return ``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index]}]}``.

        Parameters are replaced by their position across all groups; state tensors are
        returned by reference, as in PyTorch.
        """
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)

        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update(
                {
                    id(p): i
                    for i, p in enumerate(group["params"], start_index)
                    if id(p) not in param_mappings
                }
            )
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {
            (param_mappings[id(k)] if torch.is_tensor(k) else k): v for k, v in self.state.items()
        }
        state_dict = {"state": packed_state, "param_groups": param_groups}

        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, key=None):
        # 'step' keeps its own dtype; other floating state follows the parameter's dtype.
        if key == "step":
            return value
        target_dtype = param.dtype if _is_floating_point(param) else value.dtype
        if value.dtype != target_dtype or value.device != param.device:
            return value.to(dtype=target_dtype, device=param.device)
        return value

    def load_state_dict(self, state_dict):
        """Load a state produced by :meth:`state_dict` (group layout must match)."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result

        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])

        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        param_lens = (len(g["params"]) for g in groups)
        saved_lens = (len(g["params"]) for g in saved_groups)
        if any(p_len != s_len for p_len, s_len in zip(param_lens, saved_lens)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size "
                "of optimizer's group"
            )

        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        def _cast(param, value, key=None):
            if torch.is_tensor(value):
                return Optimizer._process_value_according_to_param_policy(param, value, key)
            if isinstance(value, dict):
                return {k: _cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
                return type(value)(_cast(param, v) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # gradients and groups ------------------------------------------------------------

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors (to ``None`` by default)."""
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if set_to_none:
                        p.grad = None
                    else:
                        if getattr(p.grad, "grad_fn", None) is not None:
                            p.grad = p.grad.detach()
                        p.grad.zero_()

    def step(self, closure=None):
        raise NotImplementedError

    def add_param_group(self, param_group):
        """Add a group of parameters; missing hyper-parameters take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")

        params = param_group["params"]
        if torch.is_tensor(params):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list "
                "instead."
            )
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names "
                    "are missing"
                )
            param_group["param_names"] = names

        for param in param_group["params"]:
            if not torch.is_tensor(param):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not self.defaults.get("differentiable", None) and not (
                param.is_leaf or getattr(param, "retains_grad", False)
            ):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)

        params = param_group["params"]
        if len(params) != len(set(params)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )

        param_set = set()
        for group in self.param_groups:
            param_set.update(set(group["params"]))
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {current} to the optimizer"
                )

        if not param_set.isdisjoint(set(param_group["params"])):
            raise ValueError("some parameters appear in more than one parameter group")

        self.param_groups.append(param_group)

    # helpers for subclasses ----------------------------------------------------------

    def _params_with_grad(self, group):
        """Parameters of ``group`` that have a gradient, and those gradients."""
        params, grads = [], []
        for p in group["params"]:
            if p.grad is not None:
                if getattr(p.grad, "is_sparse", False):
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                params.append(p)
                grads.append(p.grad)
        return params, grads

    def _upgrade_step(self, group, key="step"):
        """Old state dicts stored 'step' as a Python number; PyTorch converts it to a tensor."""
        for p in group["params"]:
            p_state = self.state.get(p, {})
            if len(p_state) != 0 and key in p_state and not torch.is_tensor(p_state[key]):
                p_state[key] = torch.tensor(float(p_state[key]), dtype=_get_scalar_dtype())


def _typename(obj):
    if torch.is_tensor(obj):
        return "torch.Tensor"
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


def _is_floating_point(t):
    method = getattr(t, "is_floating_point", None)
    if method is not None:
        return method()
    return t.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _run_closure(closure):
    if closure is None:
        return None
    with _EnableGrad():
        return closure()


def _increment_steps(state_steps):
    """Advance each per-parameter 'step' tensor and return the new counts as ints."""
    counts = []
    for step_t in state_steps:
        step_t.add_(1)
        counts.append(int(step_t.item()))
    return counts
