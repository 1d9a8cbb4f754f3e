"""SparseAdam (``torch.optim.SparseAdam``): lazy Adam for sparse gradients.

rtorch has no sparse tensors, so no gradient can ever be sparse: the optimizer can be
built, saved and loaded, and ``step`` rejects the dense gradients it is given.
"""

import rtorch as torch

from ._elementwise import _check_at_least, _check_betas, _check_lr
from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        _check_lr(lr)
        _check_at_least(eps, "epsilon value")
        _check_betas(betas)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        self.defaults.pop("differentiable", None)

    def step(self, closure=None):
        """Any gradient present is dense here, which SparseAdam rejects."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                grad = param.grad
                if grad is not None and not getattr(grad, "is_sparse", False):
                    raise RuntimeError(
                        "SparseAdam does not support dense gradients, please consider Adam instead"
                    )
        return loss
