"""3-D convolution and its transpose, composed from differentiable tensor ops.

conv3d views every kernel window of the padded input at once through as_strided
(stride and dilation become the view's strides), copies the windows into columns
and multiplies them by the kernel in one matmul batched over the groups.
conv_transpose3d is its adjoint: the transposed kernel turns each input voxel into
a window of output contributions, and index_add sums the overlapping windows.
"""

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch.autograd.function import Function

from ._core import unbatched_ok
from .conv import _same_padding, pad

__all__ = ["conv3d", "conv_transpose3d"]


def _three(value, name):
    """An int or a 1- or 3-sequence as a 3-tuple of ints."""
    values = (value,) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of 3 values to match the "
            f"convolution dimensions, but got {name}={list(values)}"
        )
    return values


def _check_hyper(stride, padding, dilation, groups, output_padding=(0, 0, 0)):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(
            "dilation should be greater than zero, but got dilation_depth: "
            f"{dilation[0]}, dilation_height: {dilation[1]}, dilation_width: {dilation[2]}"
        )
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _check_input(input, weight, op):
    if input.dim() not in (4, 5):
        raise RuntimeError(
            f"Expected 4D (unbatched) or 5D (batched) input to {op}, but got input of size: "
            f"{list(input.shape)}"
        )
    if weight.dim() != 5:
        raise RuntimeError(
            f"{op}: expected a 5-dimensional weight (out, in/groups, kD, kH, kW), but got "
            f"weight of size {list(weight.shape)}"
        )
    if input.dtype != weight.dtype:
        raise RuntimeError(
            f"{op}: input type ({input.dtype}) and weight type ({weight.dtype}) should be the same"
        )


def _check_bias(bias, weight, channels, transposed):
    if bias is None:
        return
    if bias.dim() != 1 or bias.shape[0] != channels:
        prefix = "transposed=1, " if transposed else ""
        raise RuntimeError(
            f"Given {prefix}weight of size {list(weight.shape)}, expected bias to be "
            f"1-dimensional with {channels} elements, but got bias of size {list(bias.shape)} "
            "instead"
        )


def _check_groups_divide(weight, groups):
    if weight.shape[0] % groups != 0:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size [{list(weight.shape)}] instead"
        )


def _extent(k, d):
    return d * (k - 1) + 1


def _windows(xp, kernel, stride, dilation, out):
    """View (N, C, kD, kH, kW, oD, oH, oW) of every window of a contiguous (N, C, D, H, W)."""
    sn, sc, sd, sh, sw = xp.stride()
    spatial = (sd, sh, sw)
    strides = (
        sn,
        sc,
        *(s * d for s, d in zip(spatial, dilation)),
        *(s * st for s, st in zip(spatial, stride)),
    )
    size = (xp.shape[0], xp.shape[1], *kernel, *out)
    return xp.as_strided(size, strides, xp.storage_offset())


def _window_positions(kernel, dilation, stride, size, canvas, device):
    """Flat canvas offset of every (kernel tap, window origin) pair, ordered (tap, origin)."""
    axes = []
    for i in range(3):
        taps = torch.arange(kernel[i], device=device) * dilation[i]
        origins = torch.arange(size[i], device=device) * stride[i]
        axes.append(taps.reshape(-1, 1) + origins.reshape(1, -1))  # (k_i, size_i)
    dd, hh, ww = axes
    kd, kh, kw = kernel
    sd, sh, sw = size
    pos = dd.reshape(kd, 1, 1, sd, 1, 1) * (canvas[1] * canvas[2])
    pos = pos + hh.reshape(1, kh, 1, 1, sh, 1) * canvas[2]
    pos = pos + ww.reshape(1, 1, kw, 1, 1, sw)
    return pos.reshape(-1)


def _scatter_windows(cols, kernel, dilation, stride, size, canvas):
    """Sum (N, C, taps * origins) window values into a (N, C, *canvas) tensor."""
    n, c = cols.shape[:2]
    idx = _window_positions(kernel, dilation, stride, size, canvas, cols.device)
    flat = torch.zeros(
        n, c, canvas[0] * canvas[1] * canvas[2], dtype=cols.dtype, device=cols.device
    )
    return flat.index_add(2, idx, cols.reshape(n, c, -1)).reshape(n, c, *canvas)


class _Columns(Function):
    """Every kernel window of a padded (N, C, D, H, W) input, copied out as columns.

    Forward copies one as_strided view; backward sums the window gradients back with
    index_add, which is several times faster here than as_strided's generic backward
    and is itself differentiable, so double backward still works.
    """

    @staticmethod
    def forward(ctx, xp, kernel, stride, dilation, out, groups):
        n, c = xp.shape[:2]
        ctx.geometry = (kernel, dilation, stride, out, tuple(xp.shape[2:]))
        win = _windows(xp.contiguous(), kernel, stride, dilation, out)
        k = kernel[0] * kernel[1] * kernel[2]
        return win.reshape(n, groups, c // groups * k, out[0] * out[1] * out[2])

    @staticmethod
    def backward(ctx, grad):
        kernel, dilation, stride, out, canvas = ctx.geometry
        # (N, G, C/G * taps, origins) -> (N, C, taps * origins): channels lead each column.
        cols = grad.reshape(grad.shape[0], -1, kernel[0] * kernel[1] * kernel[2], grad.shape[3])
        cols = cols.reshape(cols.shape[0], cols.shape[1], -1)
        return _scatter_windows(cols, kernel, dilation, stride, out, canvas), *(None,) * 5


def _conv3d_batched(x, weight, bias, stride, padding, dilation, groups):
    n, c = x.shape[:2]
    o, cg = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    padded = [s + 2 * p for s, p in zip(x.shape[2:], padding)]
    extents = [_extent(k, d) for k, d in zip(kernel, dilation)]
    if any(e > s for e, s in zip(extents, padded)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, extents))}). Kernel size can't be greater "
            "than actual input size"
        )
    out = tuple((s - e) // st + 1 for s, e, st in zip(padded, extents, stride))
    if any(padding):
        pd, ph, pw = padding
        x = pad(x, (pw, pw, ph, ph, pd, pd))
    cols = _Columns.apply(x, kernel, stride, dilation, out, groups)
    k = kernel[0] * kernel[1] * kernel[2]
    y = torch.matmul(weight.reshape(1, groups, o // groups, cg * k), cols)
    y = y.reshape(n, o, *out)
    if bias is not None:
        y = y + bias.reshape(1, o, 1, 1, 1)
    return y


@autocast_op("conv3d")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    _check_input(input, weight, "conv3d")
    stride, dilation = _three(stride, "stride"), _three(dilation, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        explicit = (0, 0, 0)
    else:
        explicit = _three(padding, "padding")
    _check_hyper(stride, explicit, dilation, groups)
    _check_groups_divide(weight, groups)
    channels = input.shape[-4]
    if weight.shape[1] * groups != channels:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(input.shape)} to have {weight.shape[1] * groups} channels, but got "
            f"{channels} channels instead"
        )
    _check_bias(bias, weight, weight.shape[0], False)
    if padding == "same":
        sym, extra = _same_padding(weight.shape[2:], dilation, stride, "conv3d")
        if any(extra):
            # An even effective kernel needs one more voxel on the far side.
            input = pad(input, (0, extra[2], 0, extra[1], 0, extra[0]))
        explicit = tuple(sym)
    args = (weight, bias, stride, explicit, dilation, groups)
    return unbatched_ok(input, 5, lambda x: _conv3d_batched(x, *args))


def _conv_transpose3d_batched(x, weight, bias, stride, padding, output_padding, groups, dilation):
    n, cin = x.shape[:2]
    og = weight.shape[1]
    kernel = tuple(weight.shape[2:])
    size = tuple(x.shape[2:])
    full = [
        (s - 1) * st + _extent(k, d) + op
        for s, st, k, d, op in zip(size, stride, kernel, dilation, output_padding)
    ]
    out = [f - 2 * p for f, p in zip(full, padding)]
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, size))}). Calculated output "
            f"size per channel: ({' x '.join(map(str, out))}). Output size is too small"
        )
    k = kernel[0] * kernel[1] * kernel[2]
    length = size[0] * size[1] * size[2]
    ig = cin // groups
    # Columns: every input voxel times the kernel, (N, G, og * k, L).
    wt = weight.reshape(1, groups, ig, og * k).transpose(-1, -2)
    cols = torch.matmul(wt, x.reshape(n, groups, ig, length))
    y = _scatter_windows(cols.reshape(n, groups * og, -1), kernel, dilation, stride, size, full)
    for dim, p in enumerate(padding):
        if p:
            y = y.narrow(2 + dim, p, out[dim])
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y


@autocast_op("conv_transpose3d")
def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    if isinstance(padding, str):
        raise TypeError(
            f"conv_transpose3d(): argument 'padding' must be tuple of ints, not {padding!r}"
        )
    _check_input(input, weight, "conv_transpose3d")
    stride, padding = _three(stride, "stride"), _three(padding, "padding")
    output_padding = _three(output_padding, "output_padding")
    dilation = _three(dilation, "dilation")
    _check_hyper(stride, padding, dilation, groups, output_padding)
    _check_groups_divide(weight, groups)
    if input.shape[-4] != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
            f"{list(input.shape)} to have {weight.shape[0]} channels, but got "
            f"{input.shape[-4]} channels instead"
        )
    _check_bias(bias, weight, weight.shape[1] * groups, True)
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        names = ("depth", "height", "width")
        text = " ".join(
            [f"output_padding_{a}: {v}" for a, v in zip(names, output_padding)]
            + [f"stride_{a}: {v}" for a, v in zip(names, stride)]
            + [f"dilation_{a}: {v}" for a, v in zip(names, dilation)]
        )
        raise RuntimeError(
            f"output padding must be smaller than either stride or dilation, but got {text}"
        )
    args = (weight, bias, stride, padding, output_padding, groups, dilation)
    return unbatched_ok(input, 5, lambda x: _conv_transpose3d_batched(x, *args))
