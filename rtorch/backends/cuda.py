"""``rtorch.backends.cuda``: whether CUDA support is built in, and the float32 matmul switch.

``matmul.allow_tf32`` (default False, as in PyTorch) lets float32 matrix products on the GPU
use TF32 tensor cores; it is the same setting as ``rtorch.set_float32_matmul_precision``
("highest" ↔ False, "high"/"medium" ↔ True).
"""

import warnings

from rtorch import _C

__all__ = ["is_built", "matmul", "get_float32_matmul_precision", "set_float32_matmul_precision"]

_PRECISIONS = ("highest", "high", "medium")
# Which precision TF32-on means: "high" unless "medium" was asked for.
_reduced_precision = "high"


def is_built():
    """Whether this build of rtorch has CUDA support (the ``cuda`` feature)."""
    return bool(_C._cuda_is_built())


def get_float32_matmul_precision():
    """"highest" (float32 throughout), or "high"/"medium" (TF32 allowed)."""
    return _reduced_precision if _C._cuda_get_allow_tf32() else "highest"


def set_float32_matmul_precision(precision):
    """Sets the internal precision of float32 matrix products: "highest" (the default)
    computes in float32, "high" and "medium" allow TF32 tensor cores on the GPU."""
    global _reduced_precision
    if not isinstance(precision, str):
        raise TypeError(
            "set_float32_matmul_precision(): argument 'precision' must be str, not "
            f"{type(precision).__name__}"
        )
    p = precision.lower()
    if p not in _PRECISIONS:
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
            "setFloat32MatmulPrecision call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    if p != "highest":
        _reduced_precision = p
    _C._cuda_set_allow_tf32(p != "highest")


class cuBLASModule:
    """``rtorch.backends.cuda.matmul``: cuBLAS switches."""

    _FLAGS = ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction")

    def __init__(self):
        object.__setattr__(self, "_flags", dict.fromkeys(self._FLAGS, True))

    def __getattr__(self, name):
        if name == "allow_tf32":
            return bool(_C._cuda_get_allow_tf32())
        flags = object.__getattribute__(self, "_flags")
        if name in flags:
            return flags[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name, value):
        global _reduced_precision
        if name == "allow_tf32":
            if value:
                _reduced_precision = "high"
            _C._cuda_set_allow_tf32(bool(value))
            return
        if name in self._flags:
            self._flags[name] = bool(value)
            return
        raise AttributeError(f"Unknown attribute {name}")


matmul = cuBLASModule()
