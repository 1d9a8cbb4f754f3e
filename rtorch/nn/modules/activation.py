"""Activation layers, declared as option tables over nn.functional."""

import warnings

import rtorch as torch

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._configured import INPLACE, REQUIRED, Configured

__all__ = [
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Mish",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Softmin",
    "Softmax2d",
    "LogSoftmax",
    "Softplus",
    "Hardtanh",
    "PReLU",
    "Hardswish",
    "Hardsigmoid",
    "LogSigmoid",
    "Softsign",
    "Tanhshrink",
    "Threshold",
    "GLU",
    "Hardshrink",
    "Softshrink",
    "RReLU",
]

# Softmax-family modules sit two frames deeper than a direct functional call, so the
# implicit-dim warning names the user's line.
_SOFTMAX_STACK = {"_stacklevel": 5}


class ReLU(Configured, fn="relu", options=[INPLACE]):
    """max(0, x)."""


class SELU(Configured, fn="selu", options=[INPLACE]):
    """Scaled ELU with the self-normalising constants."""


class SiLU(Configured, fn="silu", options=[INPLACE]):
    """x * sigmoid(x)."""


class Mish(Configured, fn="mish", options=[INPLACE]):
    """x * tanh(softplus(x))."""


# These two accept `inplace` but never print it.
class Hardswish(Configured, fn="hardswish", options=[INPLACE], shown=()):
    """x * relu6(x + 3) / 6."""


class Hardsigmoid(Configured, fn="hardsigmoid", options=[INPLACE], shown=()):
    """relu6(x + 3) / 6."""


class Hardtanh(
    Configured,
    fn="hardtanh",
    options=[
        ("min_val", -1.0),
        ("max_val", 1.0),
        INPLACE,
        ("min_value", None),
        ("max_value", None),
    ],
    shown=["min_val", "max_val", "inplace"],
    passed=["min_val", "max_val", "inplace"],
):
    """x clamped to [min_val, max_val]; min_value/max_value are deprecated spellings."""

    def _prepare(self, values):
        for old, new in (("min_value", "min_val"), ("max_value", "max_val")):
            renamed = values.pop(old)
            if renamed is not None:
                warnings.warn(
                    f"keyword argument `{old}` is deprecated and renamed to `{new}`",
                    FutureWarning,
                    stacklevel=3,
                )
                values[new] = renamed
        low, high = values["min_val"], values["max_val"]
        if high <= low:
            raise AssertionError(f"max_val ({high}) must be greater than min_val ({low})")
        return values


class ReLU6(
    Hardtanh, options=[INPLACE], shown=["inplace"], passed=["min_val", "max_val", "inplace"]
):
    """min(max(0, x), 6)."""

    def _prepare(self, values):
        return {"min_val": 0.0, "max_val": 6.0, **values}


class LeakyReLU(Configured, fn="leaky_relu", options=[("negative_slope", 1e-2), INPLACE]):
    """x for x >= 0, negative_slope * x otherwise."""


class ELU(Configured, fn="elu", options=[("alpha", 1.0), INPLACE]):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""


class CELU(Configured, fn="celu", options=[("alpha", 1.0), INPLACE]):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""


class GELU(Configured, fn="gelu", options=[("approximate", "none")]):
    """x * Phi(x), exactly or with the tanh approximation."""


class Sigmoid(Configured, fn=torch.sigmoid, options=[]):
    """1 / (1 + exp(-x))."""


class Tanh(Configured, fn=torch.tanh, options=[]):
    """Hyperbolic tangent."""


class LogSigmoid(Configured, fn="logsigmoid", options=[]):
    """log(sigmoid(x))."""


class Softsign(Configured, fn="softsign", options=[]):
    """x / (1 + |x|)."""


class Tanhshrink(Configured, fn="tanhshrink", options=[]):
    """x - tanh(x)."""


class Softmax(Configured, fn="softmax", options=[("dim", None)], fixed=_SOFTMAX_STACK):
    """Softmax along `dim`."""


class Softmin(Configured, fn="softmin", options=[("dim", None)], fixed=_SOFTMAX_STACK):
    """Softmax of -x along `dim`."""


class LogSoftmax(Configured, fn="log_softmax", options=[("dim", None)], fixed=_SOFTMAX_STACK):
    """log(softmax(x)) along `dim`."""


class Softmax2d(Configured, fn="softmax", options=[], fixed={"dim": -3, **_SOFTMAX_STACK}):
    """Softmax over the channel dimension of (C, H, W) or (N, C, H, W) input."""

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead"
            )
        return super().forward(input)


class GLU(Configured, fn="glu", options=[("dim", -1)]):
    """First half of `dim` times sigmoid of the second half."""


class Softplus(Configured, fn="softplus", options=[("beta", 1.0), ("threshold", 20.0)]):
    """log(1 + exp(beta * x)) / beta, linear above `threshold`."""


class Threshold(
    Configured,
    fn="threshold",
    options=[("threshold", REQUIRED), ("value", REQUIRED), INPLACE],
):
    """x where x > threshold, `value` elsewhere."""


class _Shrink(Configured, options=[("lambd", 0.5)]):
    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(_Shrink, fn="hardshrink"):
    """x where |x| > lambd, 0 elsewhere."""


class Softshrink(_Shrink, fn="softshrink"):
    """x moved lambd towards 0, 0 inside [-lambd, lambd]."""


class RReLU(
    Configured,
    fn="rrelu",
    options=[("lower", 1.0 / 8), ("upper", 1.0 / 3), INPLACE],
    training=True,
):
    """Leaky ReLU with a random slope in [lower, upper] while training, their mean in eval."""


class PReLU(
    Configured,
    options=[("num_parameters", 1), ("init", 0.25), ("device", None), ("dtype", None)],
    shown=["num_parameters"],
):
    """Leaky ReLU whose negative slope (one, or one per channel) is learned."""

    def _prepare(self, values):
        device, dtype = values.pop("device"), values.pop("dtype")
        self.init = values.pop("init")
        size = values["num_parameters"]
        self.weight = Parameter(torch.empty(size, device=device, dtype=dtype))
        self.reset_parameters()
        return values

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)
