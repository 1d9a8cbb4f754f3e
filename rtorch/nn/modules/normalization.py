"""BatchNorm, InstanceNorm, LayerNorm, GroupNorm and RMSNorm.

Every norm shares one affine bookkeeping (`weight` of ones, `bias` of zeros, either
one optional); BatchNorm and InstanceNorm add running statistics on top of it.
"""

import numbers
import warnings

import rtorch as torch

from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
]


def _as_shape(shape):
    return (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)


def _describe(*leading, **named):
    """extra_repr text: positional values first, then `key=value` pairs in order."""
    return ", ".join([*map(str, leading), *(f"{k}={v}" for k, v in named.items())])


def _dims_text(dims):
    return " or ".join(f"{d}D" for d in dims)


class _AffineNorm(Module):
    """A norm with an optional per-element scale (`weight`) and shift (`bias`)."""

    def _add_affine(self, shape, scale, shift, device, dtype):
        def fresh():
            return Parameter(torch.empty(shape, device=device, dtype=dtype))

        self.register_parameter("weight", fresh() if scale else None)
        self.register_parameter("bias", fresh() if scale and shift else None)

    def _reset_affine(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def reset_parameters(self):
        self._reset_affine()


class _NormBase(_AffineNorm):
    """Per-channel affine plus optional running mean/variance and a batch counter."""

    # Version 2 added `num_batches_tracked`; older checkpoints lack it.
    _version = 2
    # Accepted input ranks, named in the error message.
    _input_dims = ()

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._add_affine(num_features, affine, bias, device, dtype)
        stats = {"running_mean": None, "running_var": None, "num_batches_tracked": None}
        if track_running_stats:
            stats["running_mean"] = torch.zeros(num_features, device=device, dtype=dtype)
            stats["running_var"] = torch.ones(num_features, device=device, dtype=dtype)
            stats["num_batches_tracked"] = torch.tensor(0, dtype=torch.long, device=device)
        for name, value in stats.items():
            self.register_buffer(name, value)
        self.reset_parameters()

    def reset_running_stats(self):
        if not self.track_running_stats:
            return
        self.running_mean.zero_()
        self.running_var.fill_(1)
        self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        self._reset_affine()

    def _check_input_dim(self, input):
        if input.dim() not in self._input_dims:
            raise ValueError(
                f"expected {_dims_text(self._input_dims)} input (got {input.dim()}D input)"
            )

    def extra_repr(self):
        return _describe(
            self.num_features,
            eps=self.eps,
            momentum=self.momentum,
            affine=self.affine,
            bias=self.bias is not None,
            track_running_stats=self.track_running_stats,
        )

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        counter = prefix + "num_batches_tracked"
        saved_before_counter = (local_metadata.get("version") or 0) < 2
        if saved_before_counter and self.track_running_stats and counter not in state_dict:
            present = self.num_batches_tracked
            state_dict[counter] = present if present is not None else torch.tensor(0).long()
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        updating = self.training and self.track_running_stats
        momentum = self.momentum
        if updating and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if momentum is None:
                # No momentum: a cumulative average over all batches seen.
                momentum = 1.0 / float(self.num_batches_tracked)
        # Training reads and writes the buffers only while tracking; eval reads them if present.
        if updating or not self.training:
            mean, var = self.running_mean, self.running_var
        else:
            mean = var = None
        batch_stats = self.training or (mean is None and var is None)
        return F.batch_norm(
            input,
            mean,
            var,
            self.weight,
            self.bias,
            batch_stats,
            0.0 if momentum is None else momentum,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    _input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    _input_dims = (5,)


class _InstanceNorm(_NormBase):
    # Rank of one unbatched sample, (C, L...); a batch adds one leading dim.
    _no_batch_dim = 2

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=False,
        track_running_stats=False,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    @property
    def _input_dims(self):
        return (self._no_batch_dim, self._no_batch_dim + 1)

    def _check_channels(self, input):
        channel_dim = input.dim() - self._no_batch_dim
        got = input.size(channel_dim)
        if got == self.num_features:
            return
        if self.affine:
            raise ValueError(
                f"expected input's size at dim={channel_dim} to match num_features "
                f"({self.num_features}), but got: {got}."
            )
        warnings.warn(
            f"input's size at dim={channel_dim} does not match num_features. You can "
            "silence this warning by not passing in num_features, which is not used "
            "because affine=False",
            stacklevel=3,
        )

    def forward(self, input):
        self._check_input_dim(input)
        self._check_channels(input)
        unbatched = input.dim() == self._no_batch_dim
        x = input.unsqueeze(0) if unbatched else input
        y = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            not self.track_running_stats or self.training,
            0.0 if self.momentum is None else self.momentum,
            self.eps,
        )
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    _no_batch_dim = 2


class InstanceNorm2d(_InstanceNorm):
    _no_batch_dim = 3


class InstanceNorm3d(_InstanceNorm):
    _no_batch_dim = 4


class _ShapeNorm(_AffineNorm):
    """Norms over the trailing `normalized_shape` dims (LayerNorm, RMSNorm)."""

    def _setup(self, normalized_shape, eps, elementwise_affine, bias, device, dtype):
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self._add_affine(self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()


class LayerNorm(_ShapeNorm):
    def __init__(
        self,
        normalized_shape,
        eps=1e-5,
        elementwise_affine=True,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self._setup(normalized_shape, eps, elementwise_affine, bias, device, dtype)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return _describe(
            self.normalized_shape,
            eps=self.eps,
            elementwise_affine=self.elementwise_affine,
            bias=self.bias is not None,
        )


class RMSNorm(_ShapeNorm):
    def __init__(
        self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None
    ):
        super().__init__()
        self._setup(normalized_shape, eps, elementwise_affine, False, device, dtype)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, eps=self.eps)

    def extra_repr(self):
        return _describe(
            self.normalized_shape, eps=self.eps, elementwise_affine=self.elementwise_affine
        )


class GroupNorm(_AffineNorm):
    def __init__(
        self,
        num_groups,
        num_channels,
        eps=1e-5,
        affine=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self._add_affine(num_channels, affine, bias, device, dtype)
        self.reset_parameters()

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, eps=self.eps)

    def extra_repr(self):
        return _describe(
            self.num_groups,
            self.num_channels,
            eps=self.eps,
            affine=self.affine,
            bias=self.bias is not None,
        )
