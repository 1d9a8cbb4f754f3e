"""RMSprop, as ``torch.optim.RMSprop``."""

import rtorch as torch

from .optimizer import (
    Optimizer,
    _check_unsupported,
    _get_scalar_dtype,
    _increment_steps,
    _run_closure,
    _to_float,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        if torch.is_tensor(lr) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_unsupported(capturable=capturable, differentiable=differentiable)

        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
            self._upgrade_step(group)

    def _init_group(self, group, params):
        square_avgs, grad_avgs, momentum_buffers, state_steps = [], [], [], []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = torch.tensor(0.0, dtype=_get_scalar_dtype())
                state["square_avg"] = torch.zeros_like(p)
                if group["momentum"] > 0:
                    state["momentum_buffer"] = torch.zeros_like(p)
                if group["centered"]:
                    state["grad_avg"] = torch.zeros_like(p)
            square_avgs.append(state["square_avg"])
            state_steps.append(state["step"])
            momentum_buffers.append(state["momentum_buffer"] if group["momentum"] > 0 else None)
            grad_avgs.append(state["grad_avg"] if group["centered"] else None)
        return square_avgs, grad_avgs, momentum_buffers, state_steps

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if given."""
        loss = _run_closure(closure)
        with torch.no_grad():
            for group in self.param_groups:
                params, grads = self._params_with_grad(group)
                if not params:
                    continue
                square_avgs, grad_avgs, momentum_buffers, state_steps = self._init_group(
                    group, params
                )
                # The step count is not part of RMSprop's update, but PyTorch keeps it.
                _increment_steps(state_steps)
                torch._C._rmsprop_step(
                    params,
                    grads,
                    square_avgs,
                    grad_avgs,
                    momentum_buffers,
                    _to_float(group["lr"]),
                    float(group["alpha"]),
                    float(group["eps"]),
                    float(group["weight_decay"]),
                    float(group["momentum"]),
                    bool(group["centered"]),
                    bool(group["maximize"]),
                )
        return loss
