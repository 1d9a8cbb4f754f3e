"""RAdam (``torch.optim.RAdam``): Adam with a rectified adaptive learning rate."""

import math

import rtorch as torch

from ._elementwise import (
    _check_at_least,
    _check_betas,
    _check_lr,
    _ElementwiseOptimizer,
    _lr,
    _scalar_state,
)

__all__ = ["RAdam"]


class RAdam(_ElementwiseOptimizer):
    # group entries, in PyTorch's checkpoint order
    _group_keys = (
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "maximize",
        "foreach",
        "capturable",
        "decoupled_weight_decay",
        "differentiable",
    )
    _backfill = {
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "capturable": False,
    }

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        decoupled_weight_decay=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check_at_least(eps, "epsilon value")
        _check_betas(betas)
        _check_at_least(weight_decay, "weight_decay value")
        given = locals()
        defaults = {key: given[key] for key in self._group_keys}
        super().__init__(params, defaults)

    def _fresh_state(self, group, param):
        return {
            "step": _scalar_state(0),
            "exp_avg": torch.zeros_like(param),
            "exp_avg_sq": torch.zeros_like(param),
        }

    def _apply(self, group, param, grad, state):
        lr, (beta1, beta2), eps = _lr(group), group["betas"], group["eps"]
        decay = group["weight_decay"]
        step = state["step"].item()
        if decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * decay)
            else:
                grad = grad.add(param, alpha=decay)

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)

        first_correction = 1 - beta1**step
        second_correction = 1 - beta2**step
        # length of the approximated simple moving average, and its limit
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / second_correction
        if rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            adaptive = exp_avg_sq.sqrt().add_(eps).reciprocal_().mul_(math.sqrt(second_correction))
            param.add_(exp_avg.mul(adaptive), alpha=-lr * rect / first_correction)
        else:
            param.add_(exp_avg, alpha=-lr / first_correction)
