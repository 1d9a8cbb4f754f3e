"""NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum and a momentum-decay schedule."""

import rtorch as torch

from ._elementwise import (
    _check_at_least,
    _check_betas,
    _check_lr,
    _ElementwiseOptimizer,
    _lr,
    _scalar_state,
)

__all__ = ["NAdam"]


class NAdam(_ElementwiseOptimizer):
    # group entries, in PyTorch's checkpoint order
    _group_keys = (
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "momentum_decay",
        "decoupled_weight_decay",
        "maximize",
        "foreach",
        "capturable",
        "differentiable",
    )
    _backfill = {
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
    }

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
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
        _check_at_least(momentum_decay, "momentum_decay value")
        given = locals()
        defaults = {key: given[key] for key in self._group_keys}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for entry in self.state.values():
            if "mu_product" in entry and not torch.is_tensor(entry["mu_product"]):
                entry["mu_product"] = _scalar_state(entry["mu_product"])

    def _fresh_state(self, group, param):
        return {
            "step": _scalar_state(0),
            "mu_product": _scalar_state(1),
            "exp_avg": torch.zeros_like(param),
            "exp_avg_sq": torch.zeros_like(param),
        }

    def _apply(self, group, param, grad, state):
        lr, (beta1, beta2), eps = _lr(group), group["betas"], group["eps"]
        decay, psi = group["weight_decay"], group["momentum_decay"]
        step = state["step"].item()
        if decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * decay)
            else:
                grad = grad.add(param, alpha=decay)

        # momentum coefficients mu_t and mu_{t+1} of the 0.96**(t * psi) schedule
        mu_now = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        state["mu_product"].mul_(mu_now)
        product = state["mu_product"].item()

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
        denom = exp_avg_sq.div(1 - beta2**step).sqrt_().add_(eps)
        param.addcdiv_(grad, denom, value=-lr * (1.0 - mu_now) / (1.0 - product))
        param.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1.0 - product * mu_next))
