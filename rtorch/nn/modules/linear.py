"""Identity, Linear and Bilinear."""

import rtorch as torch

from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear", "NonDynamicallyQuantizableLinear"]


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class _Affine(Module):
    """A learned map `_op(*inputs, weight, bias)` whose sizes are named attributes.

    Subclasses name the functional (`_op`) and their size attributes (`_sizes`, in
    constructor order, out_features last); the weight is (out_features, *inputs' sizes).
    """

    _op = None
    _sizes = ()

    def _build(self, sizes, bias, device, dtype):
        for name, size in zip(self._sizes, sizes):
            setattr(self, name, size)
        *inner, out_features = sizes
        make = {"device": device, "dtype": dtype}
        self.weight = Parameter(torch.empty((out_features, *inner), **make))
        if bias:
            self.bias = Parameter(torch.empty(out_features, **make))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # U(+-1/sqrt(fan_in)), fan_in being the first input's size, for weight and bias.
        init._uniform_fan_in_(self.weight, self.bias, fan_in=self.weight.size(1))

    def forward(self, *inputs):
        return getattr(F, self._op)(*inputs, self.weight, self.bias)

    def extra_repr(self):
        shown = [f"{name}={getattr(self, name)}" for name in self._sizes]
        return ", ".join([*shown, f"bias={self.bias is not None}"])


class Linear(_Affine):
    """y = x @ weight.T + bias."""

    _op = "linear"
    _sizes = ("in_features", "out_features")

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self._build((in_features, out_features), bias, device, dtype)


class NonDynamicallyQuantizableLinear(Linear):
    """The Linear used for MultiheadAttention.out_proj (a distinct name in reprs)."""


class Bilinear(_Affine):
    """y[k] = x1 @ weight[k] @ x2 + bias[k]."""

    _op = "bilinear"
    _sizes = ("in1_features", "in2_features", "out_features")

    def __init__(
        self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None
    ):
        super().__init__()
        if in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features={in1_features})")
        self._build((in1_features, in2_features, out_features), bias, device, dtype)
