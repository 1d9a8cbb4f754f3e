"""``torch.cuda.amp``: the CUDA-specific spellings of :mod:`rtorch.amp` (deprecated there
too; each use warns and forwards with ``device_type="cuda"``)."""

import functools
import warnings

import rtorch as torch
from rtorch.amp import autocast_mode as _mode
from rtorch.amp import grad_scaler as _gs

__all__ = ["autocast", "custom_bwd", "custom_fwd", "GradScaler"]


def _deprecated(old, new):
    warnings.warn(f"`torch.cuda.amp.{old}(args...)` is deprecated. Please use `{new}` instead.", FutureWarning, stacklevel=3)


class autocast(_mode.autocast):
    def __init__(self, enabled=True, dtype=torch.float16, cache_enabled=True):
        _deprecated("autocast", "torch.amp.autocast('cuda', args...)")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_gs.GradScaler):
    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
        _deprecated("GradScaler", "torch.amp.GradScaler('cuda', args...)")
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    _deprecated("custom_fwd", "torch.amp.custom_fwd(args..., device_type='cuda')")
    if fwd is None:
        return functools.partial(_mode.custom_fwd, device_type="cuda", cast_inputs=cast_inputs)
    return _mode.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    _deprecated("custom_bwd", "torch.amp.custom_bwd(args..., device_type='cuda')")
    if bwd is None:
        return functools.partial(_mode.custom_bwd, device_type="cuda")
    return _mode.custom_bwd(bwd, device_type="cuda")
