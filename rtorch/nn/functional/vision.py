"""Channel/space rearrangements (pixel and channel shuffles) and the deprecated
upsample_* wrappers. All are reshapes and permutes, so autograd flows through them."""

import warnings

from .pooling import interpolate

__all__ = [
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "native_channel_shuffle",
    "upsample_nearest",
    "upsample_bilinear",
]


def _int_arg(op, name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{op}(): argument '{name}' (position 2) must be int, not {type(value).__name__}"
        )
    return value


def _check_factor(op, name, factor, ndim):
    _int_arg(op, name, factor)
    if ndim < 3:
        raise RuntimeError(
            f"{op} expects input to have at least 3 dimensions, but got input with {ndim} "
            "dimension(s)"
        )
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {factor}")


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): each r*r channel group becomes an r-by-r tile."""
    r = upscale_factor
    _check_factor("pixel_shuffle", "upscale_factor", r, input.dim())
    *lead, c, h, w = input.shape
    if c % (r * r) != 0:
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    k = len(lead)
    tiles = input.reshape(*lead, c // (r * r), r, r, h, w)
    # (..., C, ry, rx, H, W) -> (..., C, H, ry, W, rx)
    order = list(range(k)) + [k, k + 3, k + 1, k + 4, k + 2]
    return tiles.permute(order).reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """Inverse of pixel_shuffle: (*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    r = downscale_factor
    _check_factor("pixel_unshuffle", "downscale_factor", r, input.dim())
    *lead, c, h, w = input.shape
    for side, size, dim in (("height", h, -2), ("width", w, -1)):
        if size % r != 0:
            raise RuntimeError(
                f"pixel_unshuffle expects {side} to be divisible by downscale_factor, but "
                f"input.size({dim})={size} is not divisible by {r}"
            )
    k = len(lead)
    blocks = input.reshape(*lead, c, h // r, r, w // r, r)
    # (..., C, H, ry, W, rx) -> (..., C, ry, rx, H, W)
    order = list(range(k)) + [k, k + 2, k + 4, k + 1, k + 3]
    return blocks.permute(order).reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """(N, g*k, *) -> (N, k*g, *): channel i*k + j moves to j*g + i."""
    _int_arg("channel_shuffle", "groups", groups)
    if input.dim() <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{list(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    n, c, *rest = input.shape
    if c % groups != 0:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups."
        )
    grouped = input.reshape(n, groups, c // groups, *rest)
    return grouped.transpose(1, 2).reshape(input.shape)


native_channel_shuffle = channel_shuffle


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, "bilinear", True)
