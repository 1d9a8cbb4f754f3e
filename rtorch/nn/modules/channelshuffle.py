"""ChannelShuffle (ShuffleNet's channel interleaving between groups)."""

from .pixelshuffle import _Rearrange

__all__ = ["ChannelShuffle"]


class ChannelShuffle(_Rearrange):
    """Splits the C channels of (N, C, *) into `groups` and interleaves them."""

    _factor, _op = "groups", "channel_shuffle"

    def __init__(self, groups):
        super().__init__()
        self._keep(groups)
