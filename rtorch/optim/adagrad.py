"""Adagrad, as ``torch.optim.Adagrad``."""

import rtorch as torch

from .optimizer import (
    Optimizer,
    _check_unsupported,
    _get_scalar_dtype,
    _increment_steps,
    _run_closure,
    _to_float,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        if torch.is_tensor(lr) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_unsupported(differentiable=differentiable)

        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

        # Adagrad creates its state eagerly, so it exists before the first step.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p)

    def _init_state(self, group, p):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = torch.tensor(0.0, dtype=_get_scalar_dtype())
            state["sum"] = torch.zeros_like(p).add_(group["initial_accumulator_value"])
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
            self._upgrade_step(group)

    def share_memory(self):
        for group in self.param_groups:
            for p in group["params"]:
                share = getattr(self.state[p]["sum"], "share_memory_", None)
                if share is not None:
                    share()

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if given."""
        loss = _run_closure(closure)
        with torch.no_grad():
            for group in self.param_groups:
                params, grads = self._params_with_grad(group)
                if not params:
                    continue
                states = [self._init_state(group, p) for p in params]
                torch._C._adagrad_step(
                    params,
                    grads,
                    [s["sum"] for s in states],
                    _increment_steps([s["step"] for s in states]),
                    _to_float(group["lr"]),
                    float(group["lr_decay"]),
                    float(group["weight_decay"]),
                    float(group["eps"]),
                    bool(group["maximize"]),
                )
        return loss
