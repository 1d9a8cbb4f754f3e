"""Automatic mixed precision: ``autocast`` regions and ``GradScaler`` loss scaling."""

from rtorch.amp.autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from rtorch.amp.grad_scaler import GradScaler

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]
