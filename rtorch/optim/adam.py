"""Adam and AdamW (``torch.optim.Adam`` / ``torch.optim.AdamW``)."""

import rtorch as torch

from .optimizer import _column, _FusedOptimizer, _require_non_negative, _scalar, _Slot, _tick

__all__ = ["Adam", "AdamW"]


class Adam(_FusedOptimizer):
    _hyper = (
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "maximize",
        "foreach",
        "capturable",
        "differentiable",
        "fused",
        "decoupled_weight_decay",
    )
    _slots = (_Slot("exp_avg"), _Slot("exp_avg_sq"), _Slot("max_exp_avg_sq", when="amsgrad"))
    _backfill = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "fused": None,
        "decoupled_weight_decay": False,
    }

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
        if torch.is_tensor(lr) and foreach and not capturable:
            raise ValueError(
                "lr as a Tensor is not supported for capturable=False and foreach=True"
            )
        _require_non_negative(lr=lr, eps=eps)
        for index in (0, 1):
            if not 0.0 <= betas[index] < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {betas[index]}")
        _require_non_negative(weight_decay=weight_decay)
        super().__init__(params, locals())

    def _update(self, group, params, grads):
        states = self._states(group, params)
        beta1, beta2 = group["betas"]
        torch._C._adam_step(
            params,
            grads,
            _column(states, "exp_avg"),
            _column(states, "exp_avg_sq"),
            _column(states, "max_exp_avg_sq"),
            _tick(states),
            _scalar(group["lr"]),
            _scalar(beta1),
            _scalar(beta2),
            float(group["eps"]),
            float(group["weight_decay"]),
            bool(group["amsgrad"]),
            bool(group["maximize"]),
            bool(group["decoupled_weight_decay"]),
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (the parameter shrinks by ``lr * weight_decay``)."""

    _pinned = {"decoupled_weight_decay": True}

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
