"""ASGD (``torch.optim.ASGD``): SGD with a decaying step and a running parameter average."""

import rtorch as torch

from ._elementwise import _check_at_least, _check_lr, _ElementwiseOptimizer, _lr, _scalar_state

__all__ = ["ASGD"]


class ASGD(_ElementwiseOptimizer):
    _backfill = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params,
        lr=1e-2,
        lambd=1e-4,
        alpha=0.75,
        t0=1e6,
        weight_decay=0,
        foreach=None,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check_lr(lr)
        _check_at_least(lambd, "lambd value")
        _check_at_least(alpha, "alpha value")
        _check_at_least(weight_decay, "weight_decay value")
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for entry in self.state.values():
            for key in ("eta", "mu"):
                if key in entry and not torch.is_tensor(entry[key]):
                    entry[key] = _scalar_state(entry[key])

    def _fresh_state(self, group, param):
        return {
            "step": _scalar_state(0),
            "eta": _scalar_state(_lr(group)),
            "mu": _scalar_state(1),
            "ax": torch.zeros_like(param),
        }

    def _apply(self, group, param, grad, state):
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        lr = _lr(group)
        if group["weight_decay"] != 0:
            grad = grad.add(param, alpha=group["weight_decay"])
        eta, mu = state["eta"].item(), state["mu"].item()
        # shrink, then a plain gradient step of size eta_t
        param.mul_(1 - lambd * eta)
        param.add_(grad, alpha=-eta)
        ax = state["ax"]
        if mu != 1:
            ax.add_(param.sub(ax).mul_(mu))
        else:
            ax.copy_(param)
        step = state["step"].item()
        state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"].fill_(1 / max(1, step - t0))
