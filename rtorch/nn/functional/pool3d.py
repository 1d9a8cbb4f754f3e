"""3-D pooling, composed from differentiable tensor ops.

Fixed-window pools pad the input (with -inf for max, zeros for the mean), copy every
window out through one strided view and reduce over the window. Adaptive pools have
windows of varying size: the mean is separable and is taken one axis at a time; the
max gathers each axis' windows, padded to the longest by repeating the last voxel.
"""

import rtorch as torch
from rtorch._autocast_ops import autocast_op

from ..modules.utils import _triple
from ._core import unbatched_ok
from .conv import pad
from .conv3d import _Columns
from .pooling import _adaptive_bounds, _pool_out

__all__ = [
    "max_pool3d",
    "max_pool3d_with_indices",
    "avg_pool3d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_with_indices",
    "lp_pool3d",
]


def _three(value, message, optional=False):
    if optional and (value is None or (isinstance(value, (list, tuple)) and len(value) == 0)):
        return None
    values = (value,) if isinstance(value, int) else tuple(value)
    if len(values) not in (1, 3):
        raise RuntimeError(message)
    return tuple(int(v) for v in (values * 3 if len(values) == 1 else values))


def _check_window(input, kernel, stride, padding, dilation, op):
    kt, kh, kw = kernel
    if 0 in stride:
        raise RuntimeError("stride should not be zero")
    if min(kernel) <= 0:
        raise RuntimeError(
            f"kernel size should be greater than zero, but got kT: {kt} kH: {kh} kW: {kw}"
        )
    if min(stride) < 0:
        dt, dh, dw = stride
        raise RuntimeError(
            f"stride should be greater than zero, but got dT: {dt} dH: {dh} dW: {dw}"
        )
    if min(dilation) <= 0:
        dt, dh, dw = dilation
        raise RuntimeError(
            "dilation should be greater than zero, but got "
            f"dilationT: {dt} dilationH: {dh} dilationW: {dw}"
        )
    if input.dim() not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    _check_nonempty(input, op)
    for k, p, d in zip(kernel, padding, dilation):
        if p < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )


def _check_nonempty(input, op):
    first = 1 if input.dim() == 5 else 0
    for dim in range(first, input.dim()):
        if input.shape[dim] == 0:
            raise RuntimeError(
                f"{op}: Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {list(input.shape)} with dimension {dim} being empty"
            )


def _pooled_windows(x, kernel, stride, padding, dilation, out, fill):
    """(N, C, D, H, W) -> (N, C, taps, oD, oH, oW): each output voxel's window."""
    n, c = x.shape[:2]
    # Pad left by `padding`, right as far as the last (possibly ceil_mode) window reaches.
    spec = []
    for size, o, k, s, p, d in reversed(
        list(zip(x.shape[2:], out, kernel, stride, padding, dilation))
    ):
        need = (o - 1) * s + d * (k - 1) + 1
        spec += [p, need - size - p]
    if any(spec):
        x = pad(x, spec, value=fill)
    cols = _Columns.apply(x, kernel, stride, dilation, out, 1)
    return cols.reshape(n, c, kernel[0] * kernel[1] * kernel[2], *out)


def _lowest(dtype):
    if dtype.is_floating_point:
        return -float("inf")
    if dtype == torch.bool:
        return False
    return torch.iinfo(dtype).min


def _max_pool3d_batched(x, kernel, stride, padding, dilation, ceil_mode):
    d, h, w = x.shape[2:]
    out = [
        _pool_out(size, k, s, p, dd, ceil_mode)
        for size, k, s, p, dd in zip(x.shape[2:], kernel, stride, padding, dilation)
    ]
    if min(out) <= 0:
        raise RuntimeError(
            f"Given input size: ({x.shape[1]}x{d}x{h}x{w}). Calculated output size: "
            f"({x.shape[1]}x{out[0]}x{out[1]}x{out[2]}). Output size is too small"
        )
    wins = _pooled_windows(x, kernel, stride, padding, dilation, out, _lowest(x.dtype))
    values, tap = wins.max(dim=2)
    # Input coordinates of each window's arg-max: window origin plus the tap's offset.
    kt, kh, kw = kernel
    taps = (tap // (kh * kw), (tap // kw) % kh, tap % kw)
    coords = []
    for axis in range(3):
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = out[axis]
        origin = torch.arange(out[axis], device=x.device) * stride[axis] - padding[axis]
        coords.append(origin.reshape(shape) + taps[axis] * dilation[axis])
    return values, (coords[0] * h + coords[1]) * w + coords[2]


def max_pool3d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    kernel = _three(
        kernel_size, "max_pool3d: kernel_size must either be a single int, or a tuple of three ints"
    )
    stride = _three(
        stride,
        "max_pool3d: stride must either be omitted, a single int, or a tuple of three ints",
        optional=True,
    )
    stride = kernel if stride is None else stride
    padding = _three(
        padding, "max_pool3d: padding must either be a single int, or a tuple of three ints"
    )
    dilation = _three(
        dilation, "max_pool3d: dilation must be either a single int, or a tuple of three ints"
    )
    _check_window(input, kernel, stride, padding, dilation, "max_pool3d()")
    geometry = (kernel, stride, padding, dilation, ceil_mode)
    return unbatched_ok(input, 5, lambda x: _max_pool3d_batched(x, *geometry))


@autocast_op("max_pool3d")
def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    result = max_pool3d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return result if return_indices else result[0]


def _window_counts(size, out, k, s, p, include_pad):
    """Per-axis divisor: how many voxels (or padded voxels) each window covers."""
    counts = []
    for i in range(out):
        start = i * s - p
        end = min(start + k, size + p)
        if not include_pad:
            start, end = max(start, 0), min(end, size)
        counts.append(end - start)
    return counts


def _avg_pool3d_batched(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor):
    sizes = x.shape[2:]
    if any(size < k for size, k in zip(sizes, kernel)):
        raise RuntimeError(
            f"input image (T: {sizes[0]} H: {sizes[1]} W: {sizes[2]}) smaller than kernel size "
            f"(kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})"
        )
    out = [
        _pool_out(size, k, s, p, 1, ceil_mode)
        for size, k, s, p in zip(sizes, kernel, stride, padding)
    ]
    if min(out) <= 0:
        raise RuntimeError(
            f"Given input size: ({x.shape[1]}x{sizes[0]}x{sizes[1]}x{sizes[2]}). Calculated "
            f"output size: ({x.shape[1]}x{out[0]}x{out[1]}x{out[2]}). Output size is too small"
        )
    wins = _pooled_windows(x, kernel, stride, padding, (1, 1, 1), out, 0)
    total = wins.sum(2)
    if divisor is None:
        # The count is a product of per-axis counts, so build it as an outer product.
        div = None
        for axis in range(3):
            counts = _window_counts(
                sizes[axis], out[axis], kernel[axis], stride[axis], padding[axis], count_include_pad
            )
            shape = [1, 1, 1]
            shape[axis] = out[axis]
            t = torch.tensor(counts, dtype=torch.float64, device=x.device).reshape(shape)
            div = t if div is None else div * t
        div = div.to(x.dtype) if x.dtype.is_floating_point else div
    else:
        div = divisor
    if x.dtype.is_floating_point:
        return total / div
    # Integer pooling truncates the mean, as integer division does.
    return torch.div(total, div, rounding_mode="trunc").to(x.dtype)


@autocast_op("avg_pool3d")
def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    kernel = _three(
        kernel_size, "avg_pool3d: kernel_size must be a single int, or a tuple of three ints"
    )
    stride = _three(
        stride,
        "avg_pool3d: stride must be omitted, a single int, or a tuple of three ints",
        optional=True,
    )
    stride = kernel if stride is None else stride
    padding = _three(padding, "avg_pool3d: padding must be a single int, or a tuple of three ints")
    _check_window(input, kernel, stride, padding, (1, 1, 1), "avg_pool3d()")
    if divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    geometry = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return unbatched_ok(input, 5, lambda x: _avg_pool3d_batched(x, *geometry))


def _adaptive_sizes(input, output_size, message):
    if input.dim() not in (4, 5):
        raise RuntimeError(message + str(list(input.shape)))
    sizes = (output_size,) if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) == 1:
        sizes = sizes * 3
    return sizes


def _adaptive_mean(x, dim, out):
    n = x.size(dim)
    if out == 0:
        return x.narrow(dim, 0, 0)
    if n % out == 0:
        return x.unflatten(dim, (out, n // out)).mean(dim + 1)
    parts = [x.narrow(dim, s, e - s).mean(dim) for s, e in _adaptive_bounds(n, out)]
    return torch.stack(parts, dim)


@autocast_op("adaptive_avg_pool3d")
def adaptive_avg_pool3d(input, output_size):
    sizes = _adaptive_sizes(
        input, output_size, "adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got "
    )
    if len(sizes) != 3:
        raise RuntimeError("adaptive_avg_pool3d: output_size must be 3")
    sizes = [input.shape[i - 3] if s is None else int(s) for i, s in enumerate(sizes)]
    if min(sizes) < 0:
        raise RuntimeError(
            "adaptive_avg_pool3d: elements of output_size must be greater than or equal to 0 "
            f"but received {{{sizes[0]}, {sizes[1]}, {sizes[2]}}}"
        )
    _check_nonempty(input, "adaptive_avg_pool3d()")
    out = input
    # The mean over a box is the mean of the per-axis means: pool one axis at a time.
    for axis in range(3):
        out = _adaptive_mean(out, input.dim() - 3 + axis, sizes[axis])
    return out


def _adaptive_table(n, out, device):
    """(out, longest window) input positions; short windows repeat their last voxel."""
    bounds = _adaptive_bounds(n, out)
    longest = max((e - s for s, e in bounds), default=1)
    rows = [[min(s + j, e - 1) for j in range(longest)] for s, e in bounds]
    return torch.tensor(rows, dtype=torch.int64, device=device).reshape(out, longest)


def _adaptive_max_batched(x, sizes):
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    tables = [_adaptive_table(size, o, x.device) for size, o in zip(spatial, sizes)]
    gathered = x
    for axis, table in enumerate(tables):
        gathered = gathered.index_select(2 + axis, table.reshape(-1))
    lengths = [t.shape[1] for t in tables]
    gathered = gathered.reshape(
        n, c, sizes[0], lengths[0], sizes[1], lengths[1], sizes[2], lengths[2]
    )
    gathered = gathered.permute(0, 1, 2, 4, 6, 3, 5, 7).reshape(n, c, *sizes, -1)
    values, tap = gathered.max(dim=-1)
    # Flat input position of every (output voxel, tap), looked up with the arg-max.
    td, th, tw = tables
    h, w = spatial[1:]
    pos = td.reshape(sizes[0], 1, 1, lengths[0], 1, 1) * (h * w)
    pos = pos + th.reshape(1, sizes[1], 1, 1, lengths[1], 1) * w
    pos = pos + tw.reshape(1, 1, sizes[2], 1, 1, lengths[2])
    taps = lengths[0] * lengths[1] * lengths[2]
    pos = pos.reshape(1, 1, *sizes, taps).expand(n, c, *sizes, taps)
    return values, pos.gather(-1, tap.unsqueeze(-1)).squeeze(-1)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    sizes = _adaptive_sizes(
        input, output_size, "adaptive_max_pool3d(): Expected 4D or 5D tensor, but got: "
    )
    if len(sizes) != 3:
        raise RuntimeError("adaptive_max_pool3d(): internal error: output_size.size() must be 3")
    sizes = [input.shape[i - 3] if s is None else int(s) for i, s in enumerate(sizes)]
    if min(sizes) < 0:
        shape = list(input.shape[:-3]) + sizes
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {shape}")
    _check_nonempty(input, "adaptive_max_pool3d()")
    if min(sizes) == 0:
        shape = list(input.shape[:-3]) + sizes
        values = torch.zeros(shape, dtype=input.dtype, device=input.device) + input.sum() * 0
        return values, torch.zeros(shape, dtype=torch.int64, device=input.device)
    return unbatched_ok(input, 5, lambda x: _adaptive_max_batched(x, sizes))


def adaptive_max_pool3d(input, output_size, return_indices=False):
    result = adaptive_max_pool3d_with_indices(input, output_size)
    return result if return_indices else result[0]


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kernel = _triple(kernel_size)
    if input.dim() not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    # (sum over the window of x**p) ** (1/p), the sum taken as mean times window size.
    means = avg_pool3d(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    sums = (torch.sign(means) * torch.relu(torch.abs(means))).mul(kernel[0] * kernel[1] * kernel[2])
    return sums.pow(1.0 / norm_type)
