"""Adagrad (``torch.optim.Adagrad``)."""

import rtorch as torch

from .optimizer import _column, _FusedOptimizer, _require_non_negative, _scalar, _Slot, _tick

__all__ = ["Adagrad"]


class Adagrad(_FusedOptimizer):
    _hyper = (
        "lr",
        "lr_decay",
        "eps",
        "weight_decay",
        "initial_accumulator_value",
        "foreach",
        "maximize",
        "differentiable",
        "fused",
    )
    _slots = (_Slot("sum", start="initial_accumulator_value"),)
    _backfill = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

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
        _require_non_negative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        super().__init__(params, locals())
        # Adagrad's accumulators exist from construction on, not from the first step.
        for group in self.param_groups:
            self._states(group, group["params"])

    def share_memory(self):
        for state in self.state.values():
            share = getattr(state.get("sum"), "share_memory_", None)
            if share is not None:
                share()

    def _update(self, group, params, grads):
        states = self._states(group, params)
        torch._C._adagrad_step(
            params,
            grads,
            _column(states, "sum"),
            _tick(states),
            _scalar(group["lr"]),
            float(group["lr_decay"]),
            float(group["weight_decay"]),
            float(group["eps"]),
            bool(group["maximize"]),
        )
