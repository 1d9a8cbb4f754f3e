"""Lazy versions of Linear, the convolutions, BatchNorm and InstanceNorm.

Each is built as its regular layer with zero input size, then swaps the size-dependent
tensors for placeholders. On the first call it reads the input size from the input
(`_infer_sizes`), materialises every placeholder left (`_lazy_shapes`) and runs the
layer's usual `reset_parameters`.
"""

import rtorch as torch

from ..parameter import UninitializedBuffer, UninitializedParameter, is_lazy
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .lazy import LazyModuleMixin
from .linear import Linear
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)

__all__ = [
    "LazyLinear",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
]


class _LazyLayer(LazyModuleMixin):
    # The attribute holding the inferred input size (0 until the first call).
    _input_size = ""

    def _infer_sizes(self, input):
        raise NotImplementedError

    def _lazy_shapes(self):
        """(member name, shape) for every tensor that depends on the input size."""
        raise NotImplementedError

    def reset_parameters(self):
        # Nothing to initialise while placeholders remain or before the size is known.
        if not self.has_uninitialized_params() and getattr(self, self._input_size) != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        with torch.no_grad():
            self._infer_sizes(input)
            made, loaded = False, {}
            for name, shape in self._lazy_shapes():
                member = getattr(self, name)
                if is_lazy(member):
                    member.materialize(shape)
                    made = True
                elif member is not None:
                    loaded[name] = member.clone()
            if made:
                self.reset_parameters()
                # Tensors already filled from a state_dict keep their values.
                for name, value in loaded.items():
                    getattr(self, name).copy_(value)


def _placeholders(module, kind, names, device, dtype):
    for name in names:
        setattr(module, name, kind(device=device, dtype=dtype))


# ---------------------------------------------------------------------------- linear
class LazyLinear(_LazyLayer, Linear):
    """Linear whose in_features is the last dim of the first input."""

    cls_to_become = Linear
    _input_size = "in_features"

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.out_features = out_features
        names = ("weight", "bias") if bias else ("weight",)
        _placeholders(self, UninitializedParameter, names, device, dtype)

    def _infer_sizes(self, input):
        self.in_features = input.shape[-1]

    def _lazy_shapes(self):
        return [("weight", (self.out_features, self.in_features)), ("bias", (self.out_features,))]


# ---------------------------------------------------------------------------- convolutions
class _LazyConv(_LazyLayer):
    """A convolution whose in_channels is the channel dim of the first input."""

    _input_size = "in_channels"

    def _make_lazy(self, out_channels, bias, device, dtype):
        self.out_channels = out_channels
        names = ("weight", "bias") if bias else ("weight",)
        _placeholders(self, UninitializedParameter, names, device, dtype)

    def _infer_sizes(self, input):
        unbatched = self._dims + 1
        if input.dim() not in (unbatched, unbatched + 1):
            raise RuntimeError(
                f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) input to "
                f"{type(self).__name__}, but got input of size: {input.shape}"
            )
        channels = input.shape[input.dim() - unbatched]
        if channels % self.groups:
            raise ValueError("in_channels must be divisible by groups")
        self.in_channels = channels

    def _lazy_shapes(self):
        ins, outs = self.in_channels, self.out_channels
        lead, per_group = (ins, outs) if self.transposed else (outs, ins)
        kernel = (lead, per_group // self.groups, *self.kernel_size)
        return [("weight", kernel), ("bias", (outs,))]


class _LazyConvForward(_LazyConv):
    def __init__(
        self,
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
        super().__init__(
            0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype
        )
        self._make_lazy(out_channels, bias, device, dtype)


class _LazyConvTranspose(_LazyConv):
    def __init__(
        self,
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
        super().__init__(
            0,
            0,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            False,
            dilation,
            padding_mode,
            device,
            dtype,
        )
        self._make_lazy(out_channels, bias, device, dtype)


class LazyConv1d(_LazyConvForward, Conv1d):
    cls_to_become = Conv1d


class LazyConv2d(_LazyConvForward, Conv2d):
    cls_to_become = Conv2d


class LazyConv3d(_LazyConvForward, Conv3d):
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    cls_to_become = ConvTranspose3d


# ---------------------------------------------------------------------------- norms
class _LazyNorm(_LazyLayer):
    """BatchNorm/InstanceNorm whose num_features is the channel dim of the first input.

    Unlike the eager InstanceNorm, the lazy one defaults to affine and tracked stats.
    """

    _input_size = "num_features"

    def __init__(
        self,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        # Built without affine or statistics; the placeholders are added below.
        super().__init__(0, eps, momentum, False, False, device, dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            names = ("weight", "bias") if bias else ("weight",)
            _placeholders(self, UninitializedParameter, names, device, dtype)
        if track_running_stats:
            _placeholders(self, UninitializedBuffer, ("running_mean", "running_var"), device, dtype)
            self.num_batches_tracked = torch.tensor(0, dtype=torch.long, device=device)

    def _channel_dim(self, input):
        return 1

    def _infer_sizes(self, input):
        self._check_input_dim(input)
        self.num_features = input.shape[self._channel_dim(input)]

    def _lazy_shapes(self):
        names = ("weight", "bias", "running_mean", "running_var")
        return [(name, (self.num_features,)) for name in names]


class _LazyInstanceNorm(_LazyNorm):
    def _channel_dim(self, input):
        # (C, ...) unbatched or (N, C, ...) batched.
        return input.dim() - self._no_batch_dim


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm, BatchNorm3d):
    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    cls_to_become = InstanceNorm3d
