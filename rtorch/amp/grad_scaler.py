"""``GradScaler``: dynamic loss scaling for float16 training.

The loss is multiplied by a scale before ``backward`` so that small float16 gradients do
not flush to zero; ``unscale_`` divides the gradients back (checking them for inf/NaN),
``step`` skips the optimizer step when any was non-finite, and ``update`` halves the scale
after an overflow or doubles it after ``growth_interval`` clean steps.
"""

import warnings
from collections import abc
from enum import Enum

import rtorch as torch

__all__ = ["GradScaler", "OptState"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_state():
    return {"stage": OptState.READY, "found_inf": []}


_NO_SCALE = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."


class GradScaler:
    def __init__(
        self,
        device="cuda",
        init_scale=2.0**16,
        growth_factor=2.0,
        backoff_factor=0.5,
        growth_interval=2000,
        enabled=True,
    ):
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled and not torch.cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._init_scale = init_scale
        self._scale = None  # a 0-d float32 tensor once scale() has run
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._per_optimizer = {}

    # ---- scaling ------------------------------------------------------------------------
    def _scale_on(self, device):
        if self._scale is None:
            self._scale = torch.full((), float(self._init_scale), dtype=torch.float32, device=device)
        return self._scale if self._scale.device == device else self._scale.to(device)

    def scale(self, outputs):
        """``outputs`` (a tensor or nested iterables of tensors) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, torch.Tensor):
            return outputs * self._scale_on(outputs.device)

        def walk(value):
            if isinstance(value, torch.Tensor):
                return value * self._scale_on(value.device)
            if isinstance(value, abc.Iterable):
                items = [walk(v) for v in value]
                return type(value)(items) if isinstance(value, (list, tuple)) else items
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return walk(outputs)

    def _require_scale(self, what):
        if self._scale is None:
            raise AssertionError(f"Attempted {what} but _scale is None.  " + _NO_SCALE)

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), _fresh_state())

    def unscale_(self, optimizer):
        """Divides ``optimizer``'s gradients by the scale in place (once per step), noting
        whether any of them is inf or NaN."""
        if not self._enabled:
            return
        self._require_scale("unscale_")
        state = self._state(optimizer)
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv = 1.0 / float(self._scale.item())
        flags = []
        with torch.no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    if g.dtype == torch.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    g.mul_(inv)
                    flags.append(g.isfinite().logical_not().any())
        # One tensor per step: a single host sync when step() reads it.
        found = torch.stack(flags).any().to(torch.float32) if flags else torch.zeros((), dtype=torch.float32)
        state["found_inf"].append(found)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` after unscaling, skipped when a gradient was
        inf or NaN; returns what ``optimizer.step`` returned (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._require_scale("step")
        state = self._state(optimizer)
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if not state["found_inf"]:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = None
        if not any(float(f.item()) for f in state["found_inf"]):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """Sets the scale for the next iteration: ``new_scale`` when given, else backs off
        after an overflow seen by any optimizer or grows after ``growth_interval`` clean
        steps."""
        if not self._enabled:
            return
        self._require_scale("update")
        if new_scale is not None:
            if isinstance(new_scale, torch.Tensor):
                ok = new_scale.numel() == 1 and not new_scale.requires_grad
                if not ok:
                    raise AssertionError(
                        "new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                        "torch.FloatTensor with requires_grad=False."
                    )
                value = float(new_scale.item())
            else:
                value = float(new_scale)
            self._scale.fill_(value)
        else:
            found = [f for s in self._per_optimizer.values() for f in s["found_inf"]]
            if not found:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(float(f.item()) for f in found):
                self._scale.mul_(self._backoff_factor)
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale.mul_(self._growth_factor)
                    self._growth_tracker = 0
        self._per_optimizer = {}

    # ---- accessors ----------------------------------------------------------------------
    def get_scale(self):
        if not self._enabled:
            return 1.0
        return float(self._init_scale) if self._scale is None else float(self._scale.item())

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler."
            )
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(float(state_dict["scale"]))
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = int(state_dict["_growth_tracker"])

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if self._per_optimizer:
                raise RuntimeError(
                    "A GradScaler instance may only be pickled at the beginning of an iteration, or at the end "
                    "after scaler.update()."
                )
            state["_init_scale"] = self.get_scale()
            state["_scale"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
