"""PixelShuffle and PixelUnshuffle (sub-pixel convolution's rearrangement)."""

from .. import functional as F
from .module import Module

__all__ = ["PixelUnshuffle", "PixelShuffle"]


class _Rearrange(Module):
    """A stateless layer holding one integer factor, handed to one functional."""

    _factor = ""  # attribute (and constructor argument) name of the factor
    _op = ""  # name of the nn.functional it calls

    def _keep(self, value):
        setattr(self, self._factor, value)

    def forward(self, input):
        op = getattr(F, self._op)
        return op(input, getattr(self, self._factor))

    def extra_repr(self):
        return "{}={}".format(self._factor, getattr(self, self._factor))


class PixelShuffle(_Rearrange):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) with r = upscale_factor."""

    _factor, _op = "upscale_factor", "pixel_shuffle"

    def __init__(self, upscale_factor):
        super().__init__()
        self._keep(upscale_factor)


class PixelUnshuffle(_Rearrange):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W) with r = downscale_factor."""

    _factor, _op = "downscale_factor", "pixel_unshuffle"

    def __init__(self, downscale_factor):
        super().__init__()
        self._keep(downscale_factor)
