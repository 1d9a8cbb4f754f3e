"""RMSprop (``torch.optim.RMSprop``)."""

import rtorch as torch

from .optimizer import _column, _FusedOptimizer, _require_non_negative, _scalar, _Slot, _tick

__all__ = ["RMSprop"]


class RMSprop(_FusedOptimizer):
    _hyper = (
        "lr",
        "momentum",
        "alpha",
        "eps",
        "centered",
        "weight_decay",
        "capturable",
        "foreach",
        "maximize",
        "differentiable",
    )
    _slots = (
        _Slot("square_avg"),
        _Slot("momentum_buffer", when="momentum"),
        _Slot("grad_avg", when="centered"),
    )
    _backfill = {
        "momentum": 0,
        "centered": False,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }

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
        _require_non_negative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        super().__init__(params, locals())

    def _update(self, group, params, grads):
        states = self._states(group, params)
        _tick(states)  # the update does not use the count; checkpoints carry it
        torch._C._rmsprop_step(
            params,
            grads,
            _column(states, "square_avg"),
            _column(states, "grad_avg"),
            _column(states, "momentum_buffer"),
            _scalar(group["lr"]),
            float(group["alpha"]),
            float(group["eps"]),
            float(group["weight_decay"]),
            float(group["momentum"]),
            bool(group["centered"]),
            bool(group["maximize"]),
        )
