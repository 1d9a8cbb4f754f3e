"""Activation functions.

Piecewise compositions feed each branch only the inputs it is selected for
(other entries replaced by 0 with `where`), so an unselected branch never
overflows and its zero gradient stays finite. `where` is used rather than
clamp because a clamp's gradient at its boundary is a convention of its own.
"""

import warnings

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch._checks import require

from ._core import HAS

__all__ = [
    "relu",
    "relu_",
    "relu6",
    "leaky_relu",
    "leaky_relu_",
    "elu",
    "elu_",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softmin",
    "softplus",
    "hardtanh",
    "hardtanh_",
    "prelu",
    "hardswish",
    "hardsigmoid",
    "logsigmoid",
    "softsign",
    "tanhshrink",
    "threshold",
    "threshold_",
    "glu",
    "hardshrink",
    "softshrink",
    "rrelu",
]


def _apply(input, inplace, fn):
    if not inplace:
        return fn(input)
    # Compute from a copy so the values saved for backward are not overwritten.
    return input.copy_(fn(input.clone()))


def relu(input, inplace=False):
    if inplace:
        return relu_(input)
    return torch.relu(input)


def relu_(input):
    rel = getattr(input, "relu_", None)
    if rel is not None:
        return rel()
    return _apply(input, True, torch.relu)


def threshold(input, threshold, value, inplace=False):
    return _apply(
        input, inplace, lambda x: torch.where(x > threshold, x, torch.full_like(x, value))
    )


threshold_ = threshold


def _excl_clamp(input, min_val, max_val):
    # Value of clamp, with the gradient zero on the boundaries (as PyTorch's hardtanh).
    inside = (input > min_val) & (input < max_val)
    return torch.where(inside, input, input.detach().clamp(min_val, max_val))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    require(not min_val > max_val, ValueError, "min_val cannot be greater than max_val")
    return _apply(input, inplace, lambda x: _excl_clamp(x, min_val, max_val))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _apply(input, inplace, lambda x: torch.where(x > 0, x, x * negative_slope))


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def _only(keep, x):
    return torch.where(keep, x, torch.zeros_like(x))


def _elu(x, alpha, inv_scale=1.0):
    pos = x > 0
    return torch.where(pos, x, torch.expm1(_only(~pos, x) * inv_scale) * alpha)


def elu(input, alpha=1.0, inplace=False):
    return _apply(input, inplace, lambda x: _elu(x, alpha))


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    return _apply(input, inplace, lambda x: _elu(x, _SELU_ALPHA) * _SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _apply(input, inplace, lambda x: _elu(x, alpha, 1.0 / alpha))


def gelu(input, approximate="none"):
    if approximate in ("none", "tanh"):
        return torch._C._gelu(input, approximate == "tanh")
    raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")


def silu(input, inplace=False):
    return _apply(input, inplace, lambda x: x * torch.sigmoid(x))


@autocast_op("softplus")
def softplus(input, beta=1.0, threshold=20.0):
    scaled = input * beta
    linear = scaled > threshold
    soft = torch.log1p(torch.exp(_only(~linear, scaled))) / beta
    return torch.where(linear, input, soft)


def mish(input, inplace=False):
    return _apply(input, inplace, lambda x: x * torch.tanh(softplus(x)))


def sigmoid(input):
    return torch.sigmoid(input)


def tanh(input):
    return torch.tanh(input)


def logsigmoid(input):
    # -softplus(-x), each branch evaluated only where it cannot overflow.
    is_neg = input < 0
    neg = _only(is_neg, input)
    pos = _only(~is_neg, input)
    return torch.where(is_neg, neg - torch.log1p(torch.exp(neg)), -torch.log1p(torch.exp(-pos)))


def _hardswish(x):
    # Gradient as PyTorch: 0 up to -3, x/3 + 1/2 strictly inside, 1 from 3 on.
    mid = x * (x + 3.0) / 6.0
    return torch.where(x <= -3.0, torch.zeros_like(x), torch.where(x >= 3.0, x, mid))


def hardswish(input, inplace=False):
    return _apply(input, inplace, _hardswish)


def hardsigmoid(input, inplace=False):
    return _apply(input, inplace, lambda x: _excl_clamp(x, -3.0, 3.0) / 6.0 + 0.5)


def softsign(input):
    return input / (1 + input.abs())


def tanhshrink(input):
    return input - torch.tanh(input)


def hardshrink(input, lambd=0.5):
    return torch.where((input > lambd) | (input < -lambd), input, torch.zeros_like(input))


def softshrink(input, lambd=0.5):
    return torch.where(
        input > lambd,
        input - lambd,
        torch.where(input < -lambd, input + lambd, torch.zeros_like(input)),
    )


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slope = torch.empty_like(input).uniform_(lower, upper)
    return _apply(input, inplace, lambda x: torch.where(x >= 0, x, x * slope))


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    a, b = input.chunk(2, dim)
    return a * torch.sigmoid(b)


@autocast_op("prelu")
def prelu(input, weight):
    if weight.numel() != 1 and input.dim() >= 2:
        shape = [1] * input.dim()
        shape[1] = weight.numel()
        weight = weight.reshape(shape)
    return torch.where(input > 0, input, weight * input)


def _softmax_impl(input, dim):
    if HAS["softmax"]:
        return torch.softmax(input, dim)
    # The shift is a constant for the gradient (softmax is shift invariant).
    shifted = input - input.amax(dim, keepdim=True).detach()
    e = torch.exp(shifted)
    return e / e.sum(dim, keepdim=True)


def _log_softmax_impl(input, dim):
    if HAS["log_softmax"]:
        return torch.log_softmax(input, dim)
    return input - torch.logsumexp(input, dim, keepdim=True)


# name -> (kernel, whether the input is negated first)
_SOFTMAX_FAMILY = {
    "softmax": (_softmax_impl, False),
    "softmin": (_softmax_impl, True),
    "log_softmax": (_log_softmax_impl, False),
}


def _softmax_family(name, input, dim, stacklevel, dtype):
    if dim is None:
        # Legacy implicit choice: dim 0 for 0-, 1- and 3-D input, else dim 1.
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            stacklevel=stacklevel,
        )
        dim = 0 if input.dim() in (0, 1, 3) else 1
    if dtype is not None:
        input = input.to(dtype)
    kernel, negate = _SOFTMAX_FAMILY[name]
    return kernel(-input if negate else input, dim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_family("softmax", input, dim, _stacklevel, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_family("softmin", input, dim, _stacklevel, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_family("log_softmax", input, dim, _stacklevel, dtype)
