"""Pooling layers."""

from ._configured import REQUIRED, Configured
from .utils import _single

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "LPPool3d",
]


def _stride_defaults_to_kernel(values):
    if values["stride"] is None:
        values["stride"] = values["kernel_size"]
    return values


class _MaxPoolNd(
    Configured,
    options=[
        ("kernel_size", REQUIRED),
        ("stride", None),
        ("padding", 0),
        ("dilation", 1),
        ("return_indices", False),
        ("ceil_mode", False),
    ],
    shown=["kernel_size", "stride", "padding", "dilation", "ceil_mode"],
):
    def _prepare(self, values):
        return _stride_defaults_to_kernel(values)


class MaxPool1d(_MaxPoolNd, fn="max_pool1d"):
    """Max over sliding windows of (N, C, L) input."""


class MaxPool2d(_MaxPoolNd, fn="max_pool2d"):
    """Max over sliding windows of (N, C, H, W) input."""


class MaxPool3d(_MaxPoolNd, fn="max_pool3d"):
    """Max over sliding windows of (N, C, D, H, W) input."""


_AVG_OPTIONS = [
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("padding", 0),
    ("ceil_mode", False),
    ("count_include_pad", True),
]
_AVG_SHOWN = ["kernel_size", "stride", "padding"]


class _AvgPoolNd(Configured, options=_AVG_OPTIONS, shown=_AVG_SHOWN):
    def _prepare(self, values):
        return _stride_defaults_to_kernel(values)


class AvgPool1d(_AvgPoolNd, fn="avg_pool1d"):
    """Mean over sliding windows of (N, C, L) input; sizes are kept as 1-tuples."""

    def _prepare(self, values):
        values = _stride_defaults_to_kernel(values)
        for name in ("kernel_size", "stride", "padding"):
            values[name] = _single(values[name])
        return values


class AvgPool2d(
    _AvgPoolNd,
    fn="avg_pool2d",
    options=[*_AVG_OPTIONS, ("divisor_override", None)],
    shown=_AVG_SHOWN,
):
    """Mean over sliding windows of (N, C, H, W) input."""


class AvgPool3d(
    _AvgPoolNd,
    fn="avg_pool3d",
    options=[*_AVG_OPTIONS, ("divisor_override", None)],
    shown=_AVG_SHOWN,
):
    """Mean over sliding windows of (N, C, D, H, W) input."""


class _AdaptiveAvgPoolNd(Configured, options=[("output_size", REQUIRED)]):
    pass


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd, fn="adaptive_avg_pool1d"):
    """Mean pooling to a fixed output length."""


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd, fn="adaptive_avg_pool2d"):
    """Mean pooling to a fixed output size (None keeps that input size)."""


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd, fn="adaptive_avg_pool3d"):
    """Mean pooling to a fixed (D, H, W) output size (None keeps that input size)."""


class _AdaptiveMaxPoolNd(
    Configured,
    options=[("output_size", REQUIRED), ("return_indices", False)],
    shown=["output_size"],
):
    pass


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd, fn="adaptive_max_pool1d"):
    """Max pooling to a fixed output length."""


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd, fn="adaptive_max_pool2d"):
    """Max pooling to a fixed output size (None keeps that input size)."""


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd, fn="adaptive_max_pool3d"):
    """Max pooling to a fixed (D, H, W) output size (None keeps that input size)."""


class LPPool3d(
    Configured,
    fn="lp_pool3d",
    options=[
        ("norm_type", REQUIRED),
        ("kernel_size", REQUIRED),
        ("stride", None),
        ("ceil_mode", False),
    ],
):
    """Power-average pooling: (sum of x**p over each window) ** (1/p)."""
