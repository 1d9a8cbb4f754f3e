"""Adamax (``torch.optim.Adamax``): Adam with an infinity-norm second moment."""

import rtorch as torch

from ._elementwise import (
    _check_at_least,
    _check_betas,
    _check_lr,
    _ElementwiseOptimizer,
    _lr,
    _scalar_state,
)

__all__ = ["Adamax"]


class Adamax(_ElementwiseOptimizer):
    _backfill = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check_lr(lr)
        _check_at_least(eps, "epsilon value")
        _check_betas(betas)
        _check_at_least(weight_decay, "weight_decay value")
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _fresh_state(self, group, param):
        return {
            "step": _scalar_state(0),
            "exp_avg": torch.zeros_like(param),
            "exp_inf": torch.zeros_like(param),
        }

    def _apply(self, group, param, grad, state):
        beta1, beta2 = group["betas"]
        if group["weight_decay"] != 0:
            grad = grad.add(param, alpha=group["weight_decay"])
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.lerp_(grad, 1 - beta1)
        # u_t = max(beta2 * u_{t-1}, |g_t| + eps)
        exp_inf.copy_(torch.maximum(exp_inf.mul(beta2), grad.abs().add_(group["eps"])))
        step = state["step"].item()
        param.addcdiv_(exp_avg, exp_inf, value=-_lr(group) / (1 - beta1**step))
