"""Adam and AdamW, as ``torch.optim.Adam`` / ``torch.optim.AdamW``."""

import rtorch as torch

from .optimizer import (
    Optimizer,
    _check_unsupported,
    _get_scalar_dtype,
    _increment_steps,
    _run_closure,
    _to_float,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=False,
    ):
        if torch.is_tensor(lr):
            if foreach and not capturable:
                raise ValueError(
                    "lr as a Tensor is not supported for capturable=False and foreach=True"
                )
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported(capturable=capturable, differentiable=differentiable)

        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
            group.setdefault("decoupled_weight_decay", False)
            self._upgrade_step(group)

    def _init_group(self, group, params):
        exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps = [], [], [], []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = torch.tensor(0.0, dtype=_get_scalar_dtype())
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = torch.zeros_like(p)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            state_steps.append(state["step"])
        return exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if given."""
        loss = _run_closure(closure)
        with torch.no_grad():
            for group in self.param_groups:
                params, grads = self._params_with_grad(group)
                if not params:
                    continue
                if group["capturable"] or group["differentiable"]:
                    _check_unsupported(group["capturable"], group["differentiable"])
                exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps = self._init_group(
                    group, params
                )
                beta1, beta2 = group["betas"]
                torch._C._adam_step(
                    params,
                    grads,
                    exp_avgs,
                    exp_avg_sqs,
                    max_exp_avg_sqs,
                    _increment_steps(state_steps),
                    _to_float(group["lr"]),
                    _to_float(beta1),
                    _to_float(beta2),
                    float(group["eps"]),
                    float(group["weight_decay"]),
                    bool(group["amsgrad"]),
                    bool(group["maximize"]),
                    bool(group["decoupled_weight_decay"]),
                )
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (``param.mul_(1 - lr * weight_decay)``)."""

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
        foreach=None,
        capturable=False,
        differentiable=False,
        fused=None,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state):
        super().__setstate__(state)
        # State dicts of older AdamW versions lack the flag; AdamW always decouples.
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
