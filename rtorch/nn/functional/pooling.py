"""Pooling and interpolation."""

import math
import struct
import warnings

import rtorch as torch
from rtorch._autocast_ops import run_as
from rtorch._checks import require

from ..modules.utils import _pair, _single
from ._core import HAS, HAS_C, unbatched_ok
from .conv import _patches, pad

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "interpolate",
    "upsample",
]


def _pool_out(size, k, s, p, d, ceil_mode):
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    # The last window must start inside the input or the left padding.
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(kernel_size, stride, padding, dilation):
    kernel = _pair(kernel_size)
    stride = kernel if (stride is None or stride == [] or stride == ()) else _pair(stride)
    return kernel, stride, _pair(padding), _pair(dilation)


def _check_pool(input, kernel, stride, padding, dilation, op):
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"{op}: Expected 3D or 4D (batch mode) tensor for input, but got: {list(input.shape)}"
        )
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        if k <= 0 or s <= 0 or d <= 0:
            raise RuntimeError(f"{op}: kernel_size, stride and dilation must be greater than zero")
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )


def _padded_windows(x, kernel, stride, padding, dilation, ceil_mode, fill):
    """Pad (left by padding, right as far as the last window needs) and cut windows."""
    h, w = x.shape[-2:]
    oh = _pool_out(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = _pool_out(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Given input size: ({x.shape[-3]}x{h}x{w}). Calculated output size: "
            f"({x.shape[-3]}x{oh}x{ow}). Output size is too small"
        )
    need_h = (oh - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1
    need_w = (ow - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1
    spec = (padding[1], need_w - w - padding[1], padding[0], need_h - h - padding[0])
    xp = pad(x, spec, value=fill) if any(spec) else x
    return _patches(xp, kernel, dilation, stride, (oh, ow)), oh, ow


def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding, dilation)
    _check_pool(input, kernel, stride, padding, dilation, "max_pool2d")
    if HAS_C["_max_pool2d_with_indices"]:
        return torch._C._max_pool2d_with_indices(
            input, kernel, stride, padding, dilation, ceil_mode
        )
    geometry = (kernel, stride, padding, dilation, ceil_mode)
    return unbatched_ok(input, 4, lambda x: _max_pool2d_composed(x, *geometry))


def _max_pool2d_composed(x, kernel, stride, padding, dilation, ceil_mode):
    wins, oh, ow = _padded_windows(x, kernel, stride, padding, dilation, ceil_mode, -math.inf)
    values, k = wins.max(dim=2)
    # Flat input position of each window's arg-max, from the window origin and offset.
    base_h = (torch.arange(oh, device=x.device) * stride[0] - padding[0]).reshape(oh, 1)
    base_w = (torch.arange(ow, device=x.device) * stride[1] - padding[1]).reshape(1, ow)
    row = base_h + (k // kernel[1]) * dilation[0]
    col = base_w + (k % kernel[1]) * dilation[1]
    return values, row * x.shape[-1] + col


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    if return_indices:
        return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    if HAS["max_pool2d"]:
        kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding, dilation)
        return torch.max_pool2d(input, kernel, stride, padding, dilation, ceil_mode)
    return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)[0]


def _as_2d_args(kernel_size, stride, padding, dilation):
    k = _single(kernel_size)[0]
    s = k if (stride is None or stride == [] or stride == ()) else _single(stride)[0]
    return (1, k), (1, s), (0, _single(padding)[0]), (1, _single(dilation)[0])


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"max_pool1d() Expected 2D or 3D input tensor, but got {list(input.shape)}"
        )
    args = _as_2d_args(kernel_size, stride, padding, dilation)
    v, i = max_pool2d_with_indices(input.unsqueeze(-2), *args, ceil_mode)
    return v.squeeze(-2), i.squeeze(-2)


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    if return_indices:
        return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"max_pool1d() Expected 2D or 3D input tensor, but got {list(input.shape)}"
        )
    args = _as_2d_args(kernel_size, stride, padding, dilation)
    if HAS["max_pool1d"]:
        k, s, p, d = (a[1] for a in args)
        return torch.max_pool1d(input, k, s, p, d, ceil_mode)
    return max_pool2d(input.unsqueeze(-2), *args, ceil_mode).squeeze(-2)


def _avg_divisors(h, w, oh, ow, kernel, stride, padding, count_include_pad):
    rows = []
    for i in range(oh):
        hs = i * stride[0] - padding[0]
        he = min(hs + kernel[0], h + padding[0])
        row = []
        for j in range(ow):
            ws = j * stride[1] - padding[1]
            we = min(ws + kernel[1], w + padding[1])
            if count_include_pad:
                row.append((he - hs) * (we - ws))
            else:
                row.append((min(he, h) - max(hs, 0)) * (min(we, w) - max(ws, 0)))
        rows.append(row)
    return rows


def _fused_avg_pool2d():
    if HAS_C["_avg_pool2d"]:
        return torch._C._avg_pool2d
    if HAS["avg_pool2d"]:
        return torch.avg_pool2d
    return None


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    kernel, stride, padding, _ = _pool_args(kernel_size, stride, padding, 1)
    _check_pool(input, kernel, stride, padding, (1, 1), "avg_pool2d")
    require(divisor_override != 0, RuntimeError, "divisor must be not zero")
    geometry = (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    fused = _fused_avg_pool2d()
    if fused is not None:
        return fused(input, *geometry)
    return unbatched_ok(input, 4, lambda x: _avg_pool2d_composed(x, *geometry))


def _avg_pool2d_composed(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor):
    h, w = x.shape[-2:]
    wins, oh, ow = _padded_windows(x, kernel, stride, padding, (1, 1), ceil_mode, 0.0)
    total = wins.sum(2)
    if divisor is not None:
        return total / divisor
    div = _avg_divisors(h, w, oh, ow, kernel, stride, padding, count_include_pad)
    return total / torch.tensor(div, dtype=x.dtype, device=x.device)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"avg_pool1d() Expected 2D or 3D input tensor, but got {list(input.shape)}"
        )
    k, s, p, _ = _as_2d_args(kernel_size, stride, padding, 1)
    return avg_pool2d(input.unsqueeze(-2), k, s, p, ceil_mode, count_include_pad).squeeze(-2)


def _adaptive_bounds(n, out):
    return [((i * n) // out, -((-(i + 1) * n) // out)) for i in range(out)]


def _adaptive_sizes(input, output_size, nd):
    sizes = _pair(output_size) if nd == 2 else _single(output_size)
    return [input.shape[-nd + i] if s is None else s for i, s in enumerate(sizes)]


def _adaptive_avg_dim(x, dim, out):
    n = x.size(dim)
    if n % out == 0:
        return x.unflatten(dim, (out, n // out)).mean(dim + 1)
    parts = [x.narrow(dim, s, e - s).mean(dim) for s, e in _adaptive_bounds(n, out)]
    return torch.stack(parts, dim)


def adaptive_avg_pool2d(input, output_size):
    if input.dim() not in (3, 4):
        raise RuntimeError(
            "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got " + str(list(input.shape))
        )
    oh, ow = _adaptive_sizes(input, output_size, 2)
    # A window mean is the mean of its row means: pool one axis at a time.
    d = input.dim()
    return _adaptive_avg_dim(_adaptive_avg_dim(input, d - 2, oh), d - 1, ow)


def adaptive_avg_pool1d(input, output_size):
    if input.dim() not in (2, 3):
        raise RuntimeError(
            "adaptive_avg_pool1d(): Expected 2D or 3D tensor, but got " + str(list(input.shape))
        )
    (out,) = _adaptive_sizes(input, output_size, 1)
    return _adaptive_avg_dim(input, input.dim() - 1, out)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    if input.dim() not in (3, 4):
        raise RuntimeError(
            "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got " + str(list(input.shape))
        )
    oh, ow = _adaptive_sizes(input, output_size, 2)
    h, w = input.shape[-2:]
    lead = list(input.shape[:-2])
    vals, idxs = [], []
    for hs, he in _adaptive_bounds(h, oh):
        for ws, we in _adaptive_bounds(w, ow):
            win = input[..., hs:he, ws:we].reshape(lead + [-1])
            v, a = win.max(dim=-1)
            vals.append(v)
            idxs.append((hs + a // (we - ws)) * w + ws + a % (we - ws))
    values = torch.stack(vals, -1).reshape(lead + [oh, ow])
    if not return_indices:
        return values
    return values, torch.stack(idxs, -1).reshape(lead + [oh, ow])


def adaptive_max_pool1d(input, output_size, return_indices=False):
    (out,) = _adaptive_sizes(input, output_size, 1)
    res = adaptive_max_pool2d(input.unsqueeze(-2), (1, out), return_indices)
    if return_indices:
        return res[0].squeeze(-2), res[1].squeeze(-2)
    return res.squeeze(-2)


# ---------------------------------------------------------------------- interpolate
def _f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def _nearest_index(out, n, scale, exact):
    if not exact and out == n:
        return list(range(out))
    if not exact and out == 2 * n:
        return [i >> 1 for i in range(out)]
    # PyTorch computes the source index in float32.
    s = _f32(scale if scale is not None else n / out)
    off = 0.5 if exact else 0.0
    return [min(int(math.floor(_f32((i + off) * s))), n - 1) for i in range(out)]


def _linear_coords(out, n, scale, align_corners):
    if align_corners:
        s = (n - 1) / (out - 1) if out > 1 else 0.0
    else:
        s = scale if scale is not None else n / out
    i0, i1, lam = [], [], []
    for i in range(out):
        src = s * i if align_corners else max(s * (i + 0.5) - 0.5, 0.0)
        lo = min(int(math.floor(src)), n - 1)
        hi = lo + 1 if lo < n - 1 else lo
        i0.append(lo)
        i1.append(hi)
        lam.append(src - lo)
    return i0, i1, lam


def _interp_dim(x, dim, out, scale, mode, align_corners):
    n = x.size(dim)
    if mode in ("nearest", "nearest-exact"):
        idx = torch.tensor(_nearest_index(out, n, scale, mode == "nearest-exact"), device=x.device)
        return x.index_select(dim, idx)
    i0, i1, lam = _linear_coords(out, n, scale, align_corners)
    shape = [1] * x.dim()
    shape[dim] = out
    l1 = torch.tensor(lam, dtype=x.dtype, device=x.device).reshape(shape)
    a = x.index_select(dim, torch.tensor(i0, device=x.device))
    b = x.index_select(dim, torch.tensor(i1, device=x.device))
    return a * (1 - l1) + b * l1


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    nd = input.dim() - 2
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != nd:
            raise NotImplementedError(
                f"Got {input.dim()}D input, but {mode} mode needs {_LINEAR_MODES[mode] + 2}D input"
            )
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"rtorch: interpolate mode '{mode}' is not supported")
    if antialias:
        raise NotImplementedError("rtorch: interpolate(antialias=True) is not supported")
    if nd < 1:
        raise ValueError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D)"
        )
    if (size is None) == (scale_factor is None):
        given = "only one of" if size is not None else "either"
        raise ValueError(f"{given} size or scale_factor should be defined")
    spatial = list(input.shape[2:])
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {spatial} and output size of {size}. Please "
                "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                "(o1, o2, ...,oK) format."
            )
        scales = [None] * nd
    else:
        factors = (
            list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * nd
        )
        sizes = [int(math.floor(n * f)) for n, f in zip(spatial, factors)]
        scales = [None] * nd if recompute_scale_factor else [1.0 / f for f in factors]
    sizes = [int(s) for s in sizes]
    if any(s > 2**63 - 1 for s in sizes):
        raise RuntimeError("Overflow when unpacking long")
    if mode == "area":
        if nd == 3:
            from .pool3d import adaptive_avg_pool3d

            return adaptive_avg_pool3d(input, sizes)
        return _resample(input, sizes, scales, mode, align_corners)
    # PyTorch's op (and so its autocast policy) is named by the mode and dimensionality.
    op = _UPSAMPLE_OPS[mode].format(nd=nd)
    return run_as(op, _resample, input, sizes, scales, mode, align_corners)


_UPSAMPLE_OPS = {
    "nearest": "upsample_nearest{nd}d",
    "nearest-exact": "_upsample_nearest_exact{nd}d",
    "linear": "upsample_linear1d",
    "bilinear": "upsample_bilinear2d",
    "trilinear": "upsample_trilinear3d",
    "bicubic": "upsample_bicubic2d",
}


def _resample(input, sizes, scales, mode, align_corners):
    nd = len(sizes)
    out_shape = list(input.shape[:2]) + sizes
    numel = 1
    for s in out_shape:
        numel *= s
    if numel == 0:
        # Nothing to compute (and no index list to build for a huge, empty output).
        return torch.zeros(out_shape, dtype=input.dtype, device=input.device) + input.sum() * 0
    # Allocating the output first turns an absurd size into the allocator's RuntimeError
    # (or the size-overflow one) before any per-position index is built.
    torch.empty(out_shape, dtype=input.dtype, device=input.device)
    if mode == "area":
        if nd == 1:
            return adaptive_avg_pool1d(input, sizes)
        return adaptive_avg_pool2d(input, sizes)
    out = input
    for i in range(nd):
        out = _interp_dim(out, 2 + i, sizes[i], scales[i], mode, align_corners)
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn(
        "`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode=mode, align_corners=align_corners)
