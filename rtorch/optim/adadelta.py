"""Adadelta (``torch.optim.Adadelta``): step sizes from running RMS of gradients and updates."""

import rtorch as torch

from ._elementwise import (
    _check_at_least,
    _check_lr,
    _ElementwiseOptimizer,
    _invalid,
    _lr,
    _scalar_state,
)

__all__ = ["Adadelta"]


class Adadelta(_ElementwiseOptimizer):
    _backfill = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params,
        lr=1.0,
        rho=0.9,
        eps=1e-6,
        weight_decay=0,
        foreach=None,
        *,
        capturable=False,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise _invalid("rho value", rho)
        _check_at_least(eps, "epsilon value")
        _check_at_least(weight_decay, "weight_decay value")
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _fresh_state(self, group, param):
        return {
            "step": _scalar_state(0),
            "square_avg": torch.zeros_like(param),
            "acc_delta": torch.zeros_like(param),
        }

    def _apply(self, group, param, grad, state):
        rho, eps, decay = group["rho"], group["eps"], group["weight_decay"]
        if decay != 0:
            grad = grad.add(param, alpha=decay)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).add_(grad * grad, alpha=1 - rho)
        # delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        delta = acc_delta.add(eps).sqrt_().div_(square_avg.add(eps).sqrt_()).mul_(grad)
        acc_delta.mul_(rho).add_(delta * delta, alpha=1 - rho)
        param.add_(delta, alpha=-_lr(group))
