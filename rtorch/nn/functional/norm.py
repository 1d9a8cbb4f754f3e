"""Normalisation functions."""

import functools
import math

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch._checks import require

from ._core import HAS, finfo_eps

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm"]


def _low_input_f32_params(op):
    """PyTorch's mixed-dtype norms: a float16/bfloat16 input with float32 parameters or
    statistics (what autocast produces after a low-precision layer) is normalised in float32
    and returned in the input's dtype, unless autocast's float32 policy for ``op`` applies."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(input, *args, **kwargs):
            low = input.dtype in (torch.float16, torch.bfloat16)
            others = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor)]
            if not low or not any(a.dtype == torch.float32 for a in others):
                return fn(input, *args, **kwargs)
            dev = input.device.type
            if torch._C._autocast_is_enabled(dev) and torch._C._autocast_policy(op, dev) == "fp32":
                return fn(input, *args, **kwargs)
            return fn(input.float(), *args, **kwargs).to(input.dtype)

        return wrapper

    return deco


def _verify_batch_size(size):
    n = size[0]
    for s in size[2:]:
        n *= s
    if n == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {size}"
        )


def _channel_shape(input):
    shape = [1] * input.dim()
    shape[1] = input.shape[1]
    return shape


def _affine(out, weight, bias, shape=None):
    """out * weight + bias, each optional; per-channel ones reshaped to `shape`."""
    if weight is not None:
        out = out * (weight if shape is None else weight.reshape(shape))
    if bias is not None:
        out = out + (bias if shape is None else bias.reshape(shape))
    return out


def _momentum_update(running_mean, running_var, mean, var, count, momentum):
    """Blend batch statistics into the running buffers (var made unbiased over `count`)."""
    with torch.no_grad():
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
        if running_var is not None:
            unbiased = var.detach() * (count / max(count - 1, 1))
            running_var.mul_(1 - momentum).add_(unbiased * momentum)


@_low_input_f32_params("batch_norm")
def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    if training:
        _verify_batch_size(input.size())
    if HAS["batch_norm"]:
        return torch.batch_norm(
            input,
            weight,
            bias,
            running_mean,
            running_var,
            training=training,
            momentum=momentum,
            eps=eps,
            cudnn_enabled=False,
        )
    if input.dim() < 2:
        raise ValueError(f"batch_norm: expected at least 2D input (got {input.dim()}D input)")
    shape = _channel_shape(input)
    dims = [d for d in range(input.dim()) if d != 1]
    if training:
        mean = input.mean(dims, keepdim=True)
        var = ((input - mean) ** 2).mean(dims, keepdim=True)
        count = input.numel() // input.shape[1]
        _momentum_update(
            running_mean, running_var, mean.reshape(-1), var.reshape(-1), count, momentum
        )
    else:
        require(
            running_mean is not None and running_var is not None,
            RuntimeError,
            "running_mean and running_var must be defined in evaluation mode",
        )
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
    return _affine((input - mean) * torch.rsqrt(var + eps), weight, bias, shape)


@_low_input_f32_params("instance_norm")
def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = list(range(2, input.dim()))
    mean = input.mean(dims, keepdim=True)
    var = ((input - mean) ** 2).mean(dims, keepdim=True)
    # The buffers track the per-channel statistics averaged over the batch.
    count = math.prod(input.shape[2:])
    if running_mean is not None or running_var is not None:
        batch_mean, batch_var = mean.mean(0).reshape(-1), var.mean(0).reshape(-1)
        _momentum_update(running_mean, running_var, batch_mean, batch_var, count, momentum)
    out = (input - mean) * torch.rsqrt(var + eps)
    return _affine(out, weight, bias, _channel_shape(input))


def _check_normalized_shape(input, normalized_shape, op):
    shape = tuple(normalized_shape)
    if tuple(input.shape[input.dim() - len(shape) :]) != shape or len(shape) > input.dim():
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in shape)}], but got input of size{input.shape}"
        )
    return shape


@_low_input_f32_params("layer_norm")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    shape = _check_normalized_shape(input, normalized_shape, "layer_norm")
    if HAS["layer_norm"]:
        return torch.layer_norm(input, list(shape), weight, bias, eps)
    dims = list(range(input.dim() - len(shape), input.dim()))
    mean = input.mean(dims, keepdim=True)
    var = ((input - mean) ** 2).mean(dims, keepdim=True)
    return _affine((input - mean) * torch.rsqrt(var + eps), weight, bias)


@autocast_op("group_norm")
@_low_input_f32_params("group_norm")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    n, c = input.shape[0], input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {input.shape} and num_groups={num_groups}"
        )
    if HAS["group_norm"]:
        return torch.group_norm(input, num_groups, weight, bias, eps)
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(2, keepdim=True)
    var = ((x - mean) ** 2).mean(2, keepdim=True)
    out = ((x - mean) * torch.rsqrt(var + eps)).reshape(input.shape)
    return _affine(out, weight, bias, _channel_shape(input))


@autocast_op("rms_norm")
def rms_norm(input, normalized_shape, weight=None, eps=None):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    shape = _check_normalized_shape(input, normalized_shape, "rms_norm")
    if HAS["rms_norm"]:
        return torch.rms_norm(input, list(shape), weight, eps)
    if eps is None:
        eps = finfo_eps(input.dtype)
    dims = list(range(input.dim() - len(shape), input.dim()))
    out = input * torch.rsqrt((input * input).mean(dims, keepdim=True) + eps)
    return _affine(out, weight, None)
