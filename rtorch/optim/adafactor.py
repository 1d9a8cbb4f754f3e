"""Adafactor (``torch.optim.Adafactor``): factored second moments and relative step sizes."""

import rtorch as torch

from ._elementwise import _check_lr, _ElementwiseOptimizer, _lr, _scalar_state

__all__ = ["Adafactor"]

# machine epsilon per floating dtype: the default epsilon1
_MACHINE_EPS = {
    torch.float16: 2.0**-10,
    torch.bfloat16: 2.0**-7,
    torch.float32: 2.0**-23,
    torch.float64: 2.0**-52,
}


def _rms(tensor):
    return tensor.norm(2).item() / (tensor.numel() ** 0.5)


class Adafactor(_ElementwiseOptimizer):
    _backfill = {"foreach": None, "maximize": False}
    _supports_complex = False

    def __init__(
        self,
        params,
        lr=1e-2,
        beta2_decay=-0.8,
        eps=(None, 1e-3),
        d=1.0,
        weight_decay=0.0,
        *,
        foreach=None,
        maximize=False,
    ):
        _check_lr(lr, check_sign=False)
        eps1, eps2 = eps
        # (holds, message) pairs, checked in order
        for holds, message in (
            (lr >= 0.0, f"Learning rate should be >= 0 but is: {lr}"),
            (beta2_decay <= 0.0, f"beta2_decay should be <= 0 but is: {beta2_decay}"),
            (eps1 is None or eps1 >= 0.0, f"epsilon1 should be >= 0 but is: {eps1}"),
            (eps2 >= 0.0, f"epsilon2 should be >= 0 but is: {eps2}"),
            (d >= 1.0, f"Clipping threshold d should be >= 1 but is: {d}"),
            (weight_decay >= 0.0, f"weight_decay should be >= 0 but is: {weight_decay}"),
        ):
            if not holds:
                raise ValueError(message)
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _fresh_state(self, group, param):
        state = {"step": _scalar_state(0)}
        if param.dim() > 1:
            # factored: one row statistic per row, one column statistic per column
            state["row_var"] = param.new_zeros(tuple(param.shape[:-1]) + (1,))
            state["col_var"] = param.new_zeros(tuple(param.shape[:-2]) + (1, param.shape[-1]))
        else:
            state["variance"] = torch.zeros_like(param)
        return state

    def _apply(self, group, param, grad, state):
        lr, (eps1, eps2) = _lr(group), group["eps"]
        if eps1 is None:
            eps1 = _MACHINE_EPS.get(param.dtype, 2.0**-23)
        step = state["step"].item()
        beta2 = 1.0 - step ** group["beta2_decay"]
        relative_step = min(lr, step**-0.5)
        # alpha_t uses the parameter before weight decay
        alpha = max(eps2, _rms(param)) * relative_step
        if group["weight_decay"] != 0:
            param.mul_(1 - lr * group["weight_decay"])

        squared = grad.square()
        if param.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_var.lerp_(squared.mean(dim=-1, keepdim=True), 1 - beta2)
            col_var.lerp_(squared.mean(dim=-2, keepdim=True), 1 - beta2)
            variance = row_var.matmul(col_var).div_(row_var.mean(dim=-2, keepdim=True))
        else:
            variance = state["variance"]
            variance.lerp_(squared, 1 - beta2)
        # U = G / max(sqrt(V), eps1), then clipped to RMS(U) <= d
        update = grad.mul(variance.clamp(min=eps1 * eps1).rsqrt())
        clip = max(1.0, _rms(update) / group["d"])
        param.add_(update, alpha=-alpha / clip)
