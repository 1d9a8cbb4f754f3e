"""Stochastic gradient descent, optionally with (Nesterov) momentum (``torch.optim.SGD``)."""

import rtorch as torch

from .optimizer import _FusedOptimizer, _require_non_negative, _scalar

__all__ = ["SGD"]


class SGD(_FusedOptimizer):
    _hyper = (
        "lr",
        "momentum",
        "dampening",
        "weight_decay",
        "nesterov",
        "maximize",
        "foreach",
        "differentiable",
        "fused",
    )
    # The only state is the momentum buffer, which the kernel creates on the first step.
    _counts_steps = False
    _backfill = {
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": False,
    }

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        _require_non_negative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and not (momentum > 0 and dampening == 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, locals())

    def _update(self, group, params, grads):
        momentum = group["momentum"]
        if momentum:
            buffers = [self.state.get(p, {}).get("momentum_buffer") for p in params]
        else:
            buffers = [None] * len(params)
        buffers = torch._C._sgd_step(
            params,
            grads,
            buffers,
            _scalar(group["lr"]),
            float(momentum),
            float(group["dampening"]),
            float(group["weight_decay"]),
            bool(group["nesterov"]),
            bool(group["maximize"]),
        )
        # Without momentum SGD keeps no per-parameter state at all.
        if momentum:
            for param, buffer in zip(params, buffers):
                self.state[param]["momentum_buffer"] = buffer
