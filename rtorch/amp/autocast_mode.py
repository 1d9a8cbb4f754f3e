"""``torch.autocast``: regions where ops run in the precision PyTorch's autocast lists give.

The state (enabled flag and low-precision dtype per device type, the weight-cast cache and
the nesting depth) lives in the Rust core and is thread-local, as in PyTorch; this module
is the Python face of it.
"""

import functools
import warnings

import rtorch as torch
from rtorch import _C

__all__ = ["autocast", "custom_fwd", "custom_bwd", "is_autocast_available"]

_DEVICE_TYPES = ("cpu", "cuda")
_LOW_DTYPES = ("float16", "bfloat16")


def is_autocast_available(device_type):
    """Whether autocast supports ``device_type`` (rtorch: "cpu" and "cuda")."""
    return device_type in _DEVICE_TYPES


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        torch.device(device_type)  # an unknown name raises the device parser's RuntimeError
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    return device_type


# ---- the state, as PyTorch's top-level functions ------------------------------------------
def is_autocast_enabled(device_type=None):
    """Whether autocast is on for ``device_type`` (CUDA when not given, as PyTorch)."""
    return _C._autocast_is_enabled(_check_device_type(device_type or "cuda"))


def set_autocast_enabled(device_type, enabled=None):
    """``set_autocast_enabled(device_type, enabled)``; the older one-argument form sets CUDA."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _C._autocast_set_enabled(_check_device_type(device_type), bool(enabled))


def get_autocast_dtype(device_type):
    return _C._autocast_get_dtype(_check_device_type(device_type))


def set_autocast_dtype(device_type, dtype):
    _C._autocast_set_dtype(_check_device_type(device_type), dtype)


def is_autocast_cpu_enabled():
    return _C._autocast_is_enabled("cpu")


def set_autocast_cpu_enabled(enabled):
    _C._autocast_set_enabled("cpu", bool(enabled))


def get_autocast_cpu_dtype():
    return _C._autocast_get_dtype("cpu")


def set_autocast_cpu_dtype(dtype):
    _C._autocast_set_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    return _C._autocast_get_dtype("cuda")


def set_autocast_gpu_dtype(dtype):
    _C._autocast_set_dtype("cuda", dtype)


def is_autocast_cache_enabled():
    return _C._autocast_is_cache_enabled()


def set_autocast_cache_enabled(enabled):
    _C._autocast_set_cache_enabled(bool(enabled))


def clear_autocast_cache():
    _C._autocast_clear_cache()


def autocast_increment_nesting():
    return _C._autocast_increment_nesting()


def autocast_decrement_nesting():
    return _C._autocast_decrement_nesting()


# ---- the context manager ------------------------------------------------------------------
class autocast:
    """Context manager and decorator: inside it, ops on ``device_type`` tensors run in the
    dtype autocast's lists give them (matmul/linear/conv in ``dtype``; losses and, on CUDA,
    softmax, norms and reductions in float32). Regions nest; ``enabled=False`` turns it off
    inside an enabled region. ``cache_enabled`` reuses the low-precision copy of a weight
    within the region (None: the current global setting).
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        self.device = _check_device_type(device_type)
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if not isinstance(enabled, bool):
            enabled = bool(enabled)
        name = str(self.fast_dtype).replace("torch.", "")
        if self.device == "cuda" and enabled and not torch.cuda.is_available():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
            enabled = False
        elif self.device == "cpu" and enabled and name not in _LOW_DTYPES:
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                stacklevel=2,
            )
            enabled = False
        elif self.device == "cuda" and enabled and name not in _LOW_DTYPES:
            raise RuntimeError(
                f"In CUDA autocast, but the target dtype {self.fast_dtype} is not supported: "
                "use torch.float16 or torch.bfloat16"
            )
        self._enabled = enabled
        self._saved = []

    def __enter__(self):
        dev = self.device
        self._saved.append(
            (
                _C._autocast_is_enabled(dev),
                _C._autocast_get_dtype(dev),
                _C._autocast_is_cache_enabled(),
                _C._autocast_take_suspension(),
            )
        )
        _C._autocast_set_enabled(dev, self._enabled)
        if self._enabled:
            _C._autocast_set_dtype(dev, self.fast_dtype)
        _C._autocast_increment_nesting()
        _C._autocast_set_cache_enabled(bool(self._cache_enabled))
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        enabled, dtype, cache, suspended = self._saved.pop()
        if _C._autocast_decrement_nesting() == 0:
            _C._autocast_clear_cache()
        _C._autocast_set_enabled(self.device, enabled)
        _C._autocast_set_dtype(self.device, dtype)
        _C._autocast_set_cache_enabled(cache)
        _C._autocast_restore_suspension(suspended)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return decorated


# ---- custom autograd Functions ------------------------------------------------------------
def _cast_floats(value, device_type, dtype):
    """``value`` with its floating tensors on ``device_type`` (not float64) cast to ``dtype``,
    looking inside lists, tuples and dicts."""
    if isinstance(value, _C.Tensor):
        ok = value.is_floating_point() and value.device.type == device_type and value.dtype != torch.float64
        return value.to(dtype) if ok else value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_floats(v, device_type, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cast_floats(v, device_type, dtype) for k, v in value.items()}
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom ``Function.forward``. With ``cast_inputs`` set, inside an
    autocast region the forward's floating inputs are cast to that dtype and the forward runs
    with autocast off; otherwise the forward runs under the caller's autocast state, which
    :func:`custom_bwd` then restores for the backward."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorated(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = _C._autocast_is_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not _C._autocast_is_enabled(device_type):
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast_floats(args, device_type, cast_inputs), **_cast_floats(kwargs, device_type, cast_inputs))

    return decorated


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom ``Function.backward``: runs it under the autocast state its
    forward (decorated with :func:`custom_fwd`) saw."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorated(ctx, *args):
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(ctx, *args)

    return decorated
