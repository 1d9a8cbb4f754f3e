"""Shared frame of the optimizers that update each parameter with plain tensor ops.

Each subclass supplies ``_fresh_state`` (the per-parameter state it starts from) and
``_apply`` (one update of one parameter); the frame walks the groups, applies
``maximize`` and checks the flags rtorch cannot honour.
"""

import rtorch as torch

from .optimizer import Optimizer, _reject_unsupported, _scalar, _step_dtype

__all__ = []


def _scalar_state(value):
    """A 0-dim state entry ('step', 'eta', ...) in the dtype PyTorch uses for them."""
    return torch.tensor(float(value), dtype=_step_dtype())


def _check_betas(betas, low=0.0):
    for index in (0, 1):
        if not low <= betas[index] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {betas[index]}")


def _invalid(label, value):
    return ValueError(f"Invalid {label}: {value}")


def _check_at_least(value, name, bound=0.0):
    if not bound <= value:
        raise _invalid(name, value)


_MULTI_ELEMENT_LR = "Tensor lr must be 1-element"


def _check_lr(lr, check_sign=True):
    if torch.is_tensor(lr) and lr.numel() != 1:
        raise ValueError(_MULTI_ELEMENT_LR)
    if check_sign:
        _check_at_least(lr, "learning rate")


class _ElementwiseOptimizer(Optimizer):
    # group entries older checkpoints may lack, filled in on load
    _backfill = {}
    _supports_complex = True

    def __init__(self, params, defaults):
        _reject_unsupported(defaults.get("capturable"), defaults.get("differentiable"))
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self._backfill.items():
                group.setdefault(key, value)
            for param in group["params"]:
                entry = self.state.get(param)
                if entry and "step" in entry and not torch.is_tensor(entry["step"]):
                    entry["step"] = _scalar_state(entry["step"])

    def _fresh_state(self, group, param):
        raise NotImplementedError

    def _apply(self, group, param, grad, state):
        raise NotImplementedError

    def _check_param(self, param):
        if not self._supports_complex and param.is_complex():
            raise RuntimeError(f"{type(self).__name__} does not support complex parameters")

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                _reject_unsupported(group.get("capturable"), group.get("differentiable"))
                for param in group["params"]:
                    grad = param.grad
                    if grad is None:
                        continue
                    if getattr(grad, "is_sparse", False):
                        raise RuntimeError(
                            f"{type(self).__name__} does not support sparse gradients"
                        )
                    self._check_param(param)
                    if group.get("maximize"):
                        grad = -grad
                    state = self.state[param]
                    if not state:
                        state.update(self._fresh_state(group, param))
                    state["step"].add_(1)
                    self._apply(group, param, grad, state)
        return loss


def _lr(group):
    return _scalar(group["lr"])
