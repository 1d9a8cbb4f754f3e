"""Gradient clipping."""

import math
import warnings

import rtorch as torch

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm"]


def _as_list(tensors):
    if isinstance(tensors, torch.Tensor):
        return [tensors]
    return list(tensors)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return torch.tensor(0.0)
    if norm_type == math.inf:
        norms = [t.detach().abs().max() for t in tensors]
        total = norms[0] if len(norms) == 1 else torch.stack(norms).max()
    else:
        norms = [t.detach().norm(norm_type) for t in tensors]
        total = torch.stack(norms).norm(norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return total


def _clip_grads_with_norm_(grads, max_norm, total_norm):
    # Never scale up; the epsilon keeps an all-zero gradient finite.
    scale = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
    with torch.no_grad():
        for g in grads:
            g.mul_(scale.to(g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale gradients in place so their joint norm is at most max_norm; returns the norm."""
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if len(grads) == 0:
        return torch.tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    _clip_grads_with_norm_(grads, float(max_norm), total)
    return total


def _deprecated_alias(target, old_name):
    def alias(*args, **kwargs):
        warnings.warn(
            f"`torch.nn.utils.{old_name}` is now deprecated in favor of "
            f"`torch.nn.utils.{target.__name__}`.",
            FutureWarning,
            stacklevel=2,
        )
        return target(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = target.__doc__
    return alias


clip_grad_norm = _deprecated_alias(clip_grad_norm_, "clip_grad_norm")


def clip_grad_value_(parameters, clip_value, foreach=None):
    clip_value = float(clip_value)
    with torch.no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
