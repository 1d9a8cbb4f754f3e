"""``torch.cpu.amp``: the CPU-specific spellings of :mod:`rtorch.amp` (deprecated there too;
each use warns and forwards with ``device_type="cpu"``)."""

import warnings

import rtorch as torch
from rtorch.amp import autocast_mode as _mode
from rtorch.amp import grad_scaler as _gs

__all__ = ["autocast", "GradScaler"]


def _deprecated(old, new):
    warnings.warn(f"`torch.cpu.amp.{old}(args...)` is deprecated. Please use `{new}` instead.", FutureWarning, stacklevel=3)


class autocast(_mode.autocast):
    def __init__(self, enabled=True, dtype=torch.bfloat16, cache_enabled=True):
        _deprecated("autocast", "torch.amp.autocast('cpu', args...)")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_gs.GradScaler):
    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
        _deprecated("GradScaler", "torch.amp.GradScaler('cpu', args...)")
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
