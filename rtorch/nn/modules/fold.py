"""Fold and Unfold: sliding-window (im2col) extraction and its summing inverse."""

from .. import functional as F
from .module import Module

__all__ = ["Fold", "Unfold"]


class _Windows(Module):
    _geometry = ()  # attribute names, in constructor (and repr) order

    def _keep(self, *values):
        for name, value in zip(self._geometry, values):
            setattr(self, name, value)

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)}" for name in self._geometry)


class Fold(_Windows):
    """(N, C*prod(kernel_size), L) blocks -> (N, C, *output_size), overlaps summed."""

    _geometry = ("output_size", "kernel_size", "dilation", "padding", "stride")

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self._keep(output_size, kernel_size, dilation, padding, stride)

    def forward(self, input):
        return F.fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )


class Unfold(_Windows):
    """(N, C, *spatial) -> (N, C*prod(kernel_size), L) sliding blocks."""

    _geometry = ("kernel_size", "dilation", "padding", "stride")

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self._keep(kernel_size, dilation, padding, stride)

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)
