"""Shared helpers: which fused core kernels exist, and reduction handling."""

import warnings

import rtorch as torch

_C = getattr(torch, "_C", None)


def _has(name):
    return callable(getattr(torch, name, None))


def _has_c(name):
    return _C is not None and callable(getattr(_C, name, None))


class _Probe(dict):
    """Which fused kernels the core provides, looked up on first use.

    Looked up lazily because the package is imported while rtorch itself is
    still initialising (the fused functions are installed after nn is imported).
    Each functional composes the same math from primitive, differentiable ops
    when its kernel is missing.
    """

    def __init__(self, lookup):
        super().__init__()
        self._lookup = lookup

    def __missing__(self, name):
        found = self._lookup(name)
        self[name] = found
        return found


HAS = _Probe(_has)
HAS_C = _Probe(_has_c)


def legacy_get_string(size_average, reduce, emit_warning=True):
    """Map the deprecated size_average/reduce flags to a reduction string."""
    warning = "size_average and reduce args will be deprecated, please use reduction='{}' instead."
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(warning.format(ret), stacklevel=3)
    return ret


def resolve_reduction(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    return reduction


def apply_reduction(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def finfo_eps(dtype):
    finfo = getattr(torch, "finfo", None)
    if finfo is not None:
        try:
            return finfo(dtype).eps
        except Exception:
            pass
    return {
        torch.float64: 2.220446049250313e-16,
        torch.float16: 0.0009765625,
        torch.bfloat16: 0.0078125,
    }.get(dtype, 1.1920928955078125e-07)


def float_dtype(t):
    return bool(getattr(t.dtype, "is_floating_point", False))
