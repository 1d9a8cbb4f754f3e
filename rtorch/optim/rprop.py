"""Rprop (``torch.optim.Rprop``): sign-based steps with per-element adaptive sizes."""

import rtorch as torch

from ._elementwise import _check_lr, _ElementwiseOptimizer, _invalid, _lr, _scalar_state

__all__ = ["Rprop"]


class Rprop(_ElementwiseOptimizer):
    _backfill = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params,
        lr=1e-2,
        etas=(0.5, 1.2),
        step_sizes=(1e-6, 50),
        *,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise _invalid("eta values", f"{etas[0]}, {etas[1]}")
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _fresh_state(self, group, param):
        return {
            "step": _scalar_state(0),
            "prev": torch.zeros_like(param),
            "step_size": torch.full_like(param, _lr(group)),
        }

    def _apply(self, group, param, grad, state):
        shrink, grow = group["etas"]
        smallest, largest = group["step_sizes"]
        prev, step_size = state["prev"], state["step_size"]
        agreement = grad.mul(prev).sign()
        # +1 -> grow, -1 -> shrink, 0 -> keep
        factor = torch.where(
            agreement > 0,
            torch.full_like(grad, grow),
            torch.where(agreement < 0, torch.full_like(grad, shrink), torch.ones_like(grad)),
        )
        step_size.mul_(factor).clamp_(smallest, largest)
        # after a sign change the element pauses for one step and forgets its gradient
        grad = torch.where(agreement < 0, torch.zeros_like(grad), grad)
        param.sub_(grad.sign().mul_(step_size))
        prev.copy_(grad)
