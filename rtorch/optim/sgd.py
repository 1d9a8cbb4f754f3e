"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``."""

import rtorch as torch

from .optimizer import Optimizer, _check_unsupported, _run_closure, _to_float

__all__ = ["SGD"]


class SGD(Optimizer):
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
        if torch.is_tensor(lr) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported(differentiable=differentiable)

        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure=None):
        """Perform a single optimization step; returns the closure's loss if given."""
        loss = _run_closure(closure)
        with torch.no_grad():
            for group in self.param_groups:
                params, grads = self._params_with_grad(group)
                if not params:
                    continue
                momentum = group["momentum"]
                if momentum != 0:
                    buffers = [self.state[p].get("momentum_buffer") for p in params]
                else:
                    buffers = [None] * len(params)
                buffers = torch._C._sgd_step(
                    params,
                    grads,
                    buffers,
                    _to_float(group["lr"]),
                    float(momentum),
                    float(group["dampening"]),
                    float(group["weight_decay"]),
                    bool(group["nesterov"]),
                    bool(group["maximize"]),
                )
                # Plain SGD keeps no state, so `state` stays empty as in PyTorch.
                if momentum != 0:
                    for p, buf in zip(params, buffers):
                        self.state[p]["momentum_buffer"] = buf
        return loss
