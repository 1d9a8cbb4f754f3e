"""Convolution layers.

One base keeps the hyper-parameters, builds and initialises the kernel; the concrete
classes only fix the number of spatial dims and whether the kernel is transposed.
"""

import rtorch as torch

from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module
from .utils import _ntuple, _reverse_repeat_tuple

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}
_PADDING_WORDS = {"same", "valid"}


def _check_groups(in_channels, out_channels, groups):
    if groups <= 0:
        raise ValueError("groups must be a positive integer")
    for name, count in (("in_channels", in_channels), ("out_channels", out_channels)):
        if count % groups:
            raise ValueError(f"{name} must be divisible by groups")


def _check_padding(padding, stride, padding_mode):
    if isinstance(padding, str):
        if padding not in _PADDING_WORDS:
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of {_PADDING_WORDS}"
            )
        if padding == "same" and set(stride) != {1}:
            raise ValueError("padding='same' is not supported for strided convolutions")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(
            f"padding_mode must be one of {_PADDING_MODES}, but got padding_mode='{padding_mode}'"
        )


def _pad_amounts(padding, kernel_size, dilation):
    """F.pad amounts (last dim first, before/after) equivalent to `padding`."""
    if not isinstance(padding, str):
        return _reverse_repeat_tuple(padding, 2)
    amounts = []
    for k, d in zip(reversed(kernel_size), reversed(dilation)):
        total = d * (k - 1) if padding == "same" else 0
        amounts += [total // 2, total - total // 2]
    return amounts


class _ConvNd(Module):
    """Hyper-parameters, kernel and bias shared by all convolutions (sizes as tuples)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        transposed,
        output_padding,
        groups,
        bias,
        padding_mode,
        device=None,
        dtype=None,
    ):
        super().__init__()
        _check_groups(in_channels, out_channels, groups)
        _check_padding(padding, stride, padding_mode)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # Explicit padding for the non-"zeros" modes, applied with F.pad before the conv.
        self._reversed_padding_repeated_twice = _pad_amounts(padding, kernel_size, dilation)
        # Kernel layout: (out, in/groups, *k), or (in, out/groups, *k) when transposed.
        lead, per_group = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        make = {"device": device, "dtype": dtype}
        self.weight = Parameter(torch.empty((lead, per_group // groups, *kernel_size), **make))
        if bias:
            self.bias = Parameter(torch.empty(out_channels, **make))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init._uniform_fan_in_(self.weight, self.bias)

    def extra_repr(self):
        parts = [
            str(self.in_channels),
            str(self.out_channels),
            f"kernel_size={self.kernel_size}",
            f"stride={self.stride}",
        ]
        for name, neutral in (("padding", 0), ("dilation", 1), ("output_padding", 0)):
            value = getattr(self, name)
            if value != (neutral,) * len(value):
                parts.append(f"{name}={value}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        if self.padding_mode != "zeros":
            parts.append(f"padding_mode={self.padding_mode}")
        return ", ".join(parts)


class _Conv(_ConvNd):
    _dims = 0  # spatial dims, set by the concrete class

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        as_tuple = _ntuple(self._dims)
        if not isinstance(padding, str):
            padding = as_tuple(padding)
        super().__init__(
            in_channels,
            out_channels,
            as_tuple(kernel_size),
            as_tuple(stride),
            padding,
            as_tuple(dilation),
            False,
            as_tuple(0),
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _conv_forward(self, input, weight, bias):
        padding = self.padding
        if self.padding_mode != "zeros":
            amounts = self._reversed_padding_repeated_twice
            input = F.pad(input, amounts, mode=self.padding_mode)
            padding = 0
        conv = getattr(F, f"conv{self._dims}d")
        return conv(input, weight, bias, self.stride, padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) or (C, L) input."""

    _dims = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C, H, W) or (C, H, W) input."""

    _dims = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W) input."""

    _dims = 3


class _ConvTransposeNd(_ConvNd):
    _dims = 0

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        as_tuple = _ntuple(self._dims)
        super().__init__(
            in_channels,
            out_channels,
            as_tuple(kernel_size),
            as_tuple(stride),
            as_tuple(padding),
            as_tuple(dilation),
            True,
            as_tuple(output_padding),
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(
        self, input, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None
    ):
        """The output_padding that makes the result `output_size` (default: the stored one)."""
        if output_size is None:
            return tuple(self.output_padding)
        nd = num_spatial_dims
        if dilation is None:
            dilation = (1,) * nd
        lead = input.dim() - nd  # batch and channel dims in front of the spatial ones
        wanted = output_size[lead:] if len(output_size) == lead + nd else output_size
        if len(wanted) != nd:
            raise ValueError(
                f"ConvTranspose{nd}D: for {input.dim()}D input, output_size must have {nd} or "
                f"{lead + nd} elements (got {len(output_size)})"
            )
        smallest = [
            (input.size(lead + i) - 1) * stride[i]
            - 2 * padding[i]
            + dilation[i] * (kernel_size[i] - 1)
            + 1
            for i in range(nd)
        ]
        largest = [low + step - 1 for low, step in zip(smallest, stride)]
        if any(not low <= n <= high for n, low, high in zip(wanted, smallest, largest)):
            raise ValueError(
                f"requested an output size of {wanted}, but valid sizes range from "
                f"{smallest} to {largest} (for an input of {input.size()[2:]})"
            )
        return tuple(n - low for n, low in zip(wanted, smallest))

    def forward(self, input, output_size=None):
        extra = self._output_padding(
            input,
            output_size,
            self.stride,
            self.padding,
            self.kernel_size,
            self._dims,
            self.dilation,
        )
        conv = getattr(F, f"conv_transpose{self._dims}d")
        return conv(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            extra,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (the gradient of Conv1d w.r.t. its input)."""

    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the gradient of Conv2d w.r.t. its input)."""

    _dims = 2


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution (the gradient of Conv3d w.r.t. its input)."""

    _dims = 3
