"""Shared helpers: which fused core kernels exist, argument checks, reductions."""

import warnings

import rtorch as torch
from rtorch._checks import require

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


def maybe(fn, value):
    """fn(value), passing None through (for optional masks and weights)."""
    return None if value is None else fn(value)


def unbatched_ok(input, batched_ndim, fn):
    """Run ``fn`` on a batched input; an input one dim short runs as a batch of one.

    ``fn`` may return a tensor or a tuple of tensors; each loses the batch dim again.
    """
    if input.dim() == batched_ndim:
        return fn(input)
    result = fn(input.unsqueeze(0))
    if isinstance(result, tuple):
        return tuple(r.squeeze(0) for r in result)
    return result.squeeze(0)


# ---------------------------------------------------------------------- reductions
# The deprecated (size_average, reduce) flags, None meaning True, as a reduction name.
_LEGACY_REDUCTION = {(True, True): "mean", (False, True): "sum"}


def legacy_get_string(size_average, reduce, emit_warning=True):
    """Map the deprecated size_average/reduce flags to a reduction string."""
    flags = (size_average is None or bool(size_average), reduce is None or bool(reduce))
    name = _LEGACY_REDUCTION.get(flags, "none")
    if emit_warning:
        warnings.warn(
            "size_average and reduce args will be deprecated, please use "
            f"reduction='{name}' instead.",
            stacklevel=3,
        )
    return name


def resolve_reduction(size_average, reduce, reduction):
    """The reduction to apply; the legacy flags win (with a warning) when either is set."""
    if size_average is None and reduce is None:
        return reduction
    return legacy_get_string(size_average, reduce)


_REDUCERS = {
    "none": lambda t: t,
    "mean": lambda t: t.mean(),
    "sum": lambda t: t.sum(),
}


def check_reduction(reduction):
    require(
        reduction in _REDUCERS,
        ValueError,
        lambda: f"{reduction} is not a valid value for reduction",
    )


def apply_reduction(loss, reduction):
    check_reduction(reduction)
    return _REDUCERS[reduction](loss)


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
