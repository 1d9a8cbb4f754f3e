"""pdist, local response norm, power-average and unpooling, feature alpha dropout,
embedding bags, Gumbel-softmax and spatial-transformer sampling (affine_grid, grid_sample).

All are composed from differentiable tensor ops.
"""

import warnings

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch._checks import require

from ..modules.utils import _pair, _single, _triple
from .activation import softmax
from .linear import _check_p, _renorm_rows
from .pooling import avg_pool1d, avg_pool2d

__all__ = [
    "pdist",
    "local_response_norm",
    "lp_pool1d",
    "lp_pool2d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "feature_alpha_dropout",
    "embedding_bag",
    "gumbel_softmax",
    "affine_grid",
    "grid_sample",
]


@autocast_op("pdist")
def pdist(input, p=2):
    """p-norm distances between every pair of rows i < j, in row-major order."""
    require(
        input.dim() == 2,
        RuntimeError,
        lambda: f"pdist only supports 2D tensors, got: {input.dim()}D",
    )
    require(p >= 0, RuntimeError, lambda: "pdist only supports non-negative p values")
    n = input.shape[0]
    first = [i for i in range(n) for _ in range(i + 1, n)]
    second = [j for i in range(n) for j in range(i + 1, n)]
    if not first:
        return input.new_zeros(0)
    rows_a = input.index_select(0, torch.tensor(first, dtype=torch.int64))
    rows_b = input.index_select(0, torch.tensor(second, dtype=torch.int64))
    return (rows_a - rows_b).norm(p, 1)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels) ** beta."""
    require(
        input.dim() >= 3,
        ValueError,
        lambda: f"Expected 3D or higher dimensionality input (got {input.dim()} dimensions)",
    )
    if input.numel() == 0:
        return input
    channels = input.shape[1]
    sq = input * input
    before, after = size // 2, (size - 1) // 2
    zeros_shape = list(sq.shape)
    parts = []
    if before:
        zeros_shape[1] = before
        parts.append(sq.new_zeros(zeros_shape))
    parts.append(sq)
    if after:
        zeros_shape[1] = after
        parts.append(sq.new_zeros(zeros_shape))
    padded = torch.cat(parts, 1) if len(parts) > 1 else sq
    window = padded.narrow(1, 0, channels)
    for offset in range(1, size):
        window = window + padded.narrow(1, offset, channels)
    div = (window * (alpha / size) + k) ** beta
    return input / div


def _lp_finish(pooled, count, norm_type):
    # Windows whose power-sum is negative (odd powers) give zero, as in PyTorch.
    total = pooled.sign() * pooled.abs().relu() * count
    return total ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x ** p) ** (1 / p)."""
    (kw,) = _single(kernel_size)
    stride = kw if stride is None else stride
    pooled = avg_pool1d(input**norm_type, kw, stride, 0, ceil_mode)
    return _lp_finish(pooled, kw, norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x ** p) ** (1 / p), over (H, W) windows."""
    kh, kw = _pair(kernel_size)
    stride = (kh, kw) if stride is None else stride
    pooled = avg_pool2d(input**norm_type, (kh, kw), stride, 0, ceil_mode)
    return _lp_finish(pooled, kh * kw, norm_type)


def _unpool_size(input, kernel, stride, padding, output_size, nd):
    spatial = list(input.shape[-nd:])
    default = [(spatial[i] - 1) * stride[i] - 2 * padding[i] + kernel[i] for i in range(nd)]
    if output_size is None:
        return default
    output_size = [int(s) for s in output_size]
    if len(output_size) == nd + 2:
        output_size = output_size[2:]
    elif len(output_size) == nd + 1:
        output_size = output_size[1:]
    require(
        len(output_size) == nd,
        ValueError,
        lambda: (
            f"output_size should be a sequence containing {nd} or {nd + 2} elements, "
            f"but it has a length of '{len(output_size)}'"
        ),
    )
    for i in range(nd):
        low, high = default[i] - stride[i], default[i] + stride[i]
        if not low < output_size[i] < high:
            raise ValueError(
                f'invalid output_size "{output_size}" (dim {i} must be between {low} and {high})'
            )
    return output_size


def _max_unpool(input, indices, kernel, stride, padding, output_size, nd, op):
    require(
        input.dim() in (nd + 1, nd + 2),
        RuntimeError,
        lambda: f"{op}: expected {nd + 1}D or {nd + 2}D input, got {input.dim()}D",
    )
    require(
        tuple(indices.shape) == tuple(input.shape),
        RuntimeError,
        lambda: (
            f"{op}: expected shape of indices to be same as that of input tensor "
            f"({tuple(input.shape)}) but got indices tensor with shape: {tuple(indices.shape)}"
        ),
    )
    size = _unpool_size(input, kernel, stride, padding, output_size, nd)
    lead = list(input.shape[:-nd])
    plane = 1
    for s in size:
        plane *= s
    flat_in = input.reshape(lead + [-1])
    flat_idx = indices.reshape(lead + [-1]).long()
    require(
        bool(((flat_idx >= 0) & (flat_idx < plane)).all()) if flat_idx.numel() else True,
        RuntimeError,
        lambda: f"{op}: found an invalid max index (output volume is {plane})",
    )
    out = input.new_zeros(lead + [plane]).scatter(-1, flat_idx, flat_in)
    return out.reshape(lead + size)


def _unpool(input, indices, kernel_size, stride, padding, output_size, nd, as_tuple):
    kernel = as_tuple(kernel_size)
    stride = kernel if stride is None else as_tuple(stride)
    op = f"max_unpool{nd}d"
    return _max_unpool(input, indices, kernel, stride, as_tuple(padding), output_size, nd, op)


@autocast_op("max_unpool2d")  # PyTorch computes the 1-D case as a 2-D one
def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value at its max_pool1d index in an otherwise zero output."""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 1, _single)


@autocast_op("max_unpool2d")
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value at its max_pool2d index in an otherwise zero output."""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 2, _pair)


@autocast_op("max_unpool3d")
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value at its max_pool3d index in an otherwise zero output."""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 3, _triple)


_SELU_ALPHA_P = -1.7580993408473766  # -scale * alpha of SELU: the value dropped units take


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (one draw per (sample, channel))."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        mask_shape = list(input.shape[:2]) + [1] * (input.dim() - 2)
        keep = (torch.rand(mask_shape, device=input.device) >= p).to(input.dtype)
        a = ((1 - p) * (1 + p * _SELU_ALPHA_P**2)) ** -0.5
        b = -a * _SELU_ALPHA_P * p
        out = (input * keep + _SELU_ALPHA_P * (1 - keep)) * a + b
    if inplace:
        with torch.no_grad():
            input.copy_(out)
        return input
    return out


# ------------------------------------------------------------------------ embedding bag
def _bag_ids(input, offsets, include_last_offset):
    """Flat indices plus, for each of them, the bag it belongs to; and the bag count."""
    if input.dim() == 2:
        require(
            offsets is None,
            ValueError,
            lambda: (
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{type(offsets).__name__}"
            ),
        )
        bags, length = input.shape
        flat = input.reshape(-1)
        owner = torch.arange(bags).repeat_interleave(length) if length else flat.new_zeros(0)
        return flat, owner, bags
    require(
        input.dim() == 1,
        ValueError,
        lambda: f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}",
    )
    require(
        offsets is not None,
        ValueError,
        lambda: "offsets has to be a 1D Tensor but got None",
    )
    require(
        offsets.dim() == 1,
        ValueError,
        lambda: "offsets has to be a 1D Tensor",
    )
    starts = [int(v) for v in offsets.tolist()]
    n = input.shape[0]
    if include_last_offset:
        require(len(starts) >= 1, ValueError, lambda: "offsets must hold at least one entry")
        bounds = starts
        starts = starts[:-1]
    else:
        bounds = starts + [n]
    require(
        not starts or starts[0] == 0,
        ValueError,
        lambda: (
            f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has "
            f"to start from position 0. However, got {starts[0]}"
        ),
    )
    owner = []
    for b in range(len(starts)):
        end = min(bounds[b + 1], n)
        owner += [b] * max(end - bounds[b], 0)
    owner = torch.tensor(owner, dtype=torch.int64)
    return input[: owner.shape[0]], owner, len(starts)


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type=2,
    scale_grad_by_freq=False,
    mode="mean",
    sparse=False,
    per_sample_weights=None,
    include_last_offset=False,
    padding_idx=None,
):
    """Sum, mean or max of the embeddings in each bag, without materialising the bags."""
    require(
        mode in ("sum", "mean", "max"),
        ValueError,
        lambda: f"mode has to be one of sum, mean or max, got {mode}",
    )
    if sparse:
        raise NotImplementedError("rtorch: sparse embedding gradients are not supported")
    if scale_grad_by_freq and mode == "max":
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None:
        require(
            mode == "sum",
            NotImplementedError,
            lambda: (
                "embedding_bag: per_sample_weights was not None. per_sample_weights is "
                f"only supported for mode='sum' (got mode='{mode}'). Please open a feature "
                "request on GitHub."
            ),
        )
        require(
            tuple(per_sample_weights.shape) == tuple(input.shape),
            ValueError,
            lambda: (
                f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) "
                f"is not None, then it must have the same shape as the input "
                f"({tuple(input.shape)})"
            ),
        )
    rows = weight.shape[0]
    if padding_idx is not None:
        require(
            -rows <= padding_idx < rows,
            AssertionError,
            lambda: "padding_idx must be within num_embeddings",
        )
        padding_idx = padding_idx % rows
    flat, owner, bags = _bag_ids(input, offsets, include_last_offset)
    flat = flat.long()
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    vectors = weight.index_select(0, flat)
    if scale_grad_by_freq:
        counts = torch.zeros(rows, dtype=weight.dtype).index_add(
            0, flat, torch.ones(flat.shape[0], dtype=weight.dtype)
        )
        scale = (1.0 / counts.index_select(0, flat)).unsqueeze(1)
        vectors = vectors.detach() + (vectors - vectors.detach()) * scale
    keep = torch.ones(flat.shape[0], dtype=torch.bool)
    if padding_idx is not None:
        keep = flat != padding_idx
    if per_sample_weights is not None:
        vectors = vectors * per_sample_weights.reshape(-1)[: flat.shape[0]].unsqueeze(1)
    dim = weight.shape[1]
    if mode == "max":
        lowest = torch.full_like(vectors, float("-inf"))
        vectors = torch.where(keep.unsqueeze(1), vectors, lowest)
        index = owner.unsqueeze(1).expand(owner.shape[0], dim)
        out = weight.new_full((bags, dim), float("-inf")).scatter_reduce(
            0, index, vectors, reduce="amax", include_self=True
        )
        # Empty bags (or bags of padding only) give zeros.
        return torch.where(out == float("-inf"), torch.zeros_like(out), out)
    vectors = vectors * keep.unsqueeze(1).to(vectors.dtype)
    out = weight.new_zeros(bags, dim).index_add(0, owner, vectors)
    if mode == "mean":
        counts = torch.zeros(bags, dtype=weight.dtype).index_add(0, owner, keep.to(weight.dtype))
        out = out / counts.clamp(min=1).unsqueeze(1)
    return out


# ---------------------------------------------------------------------- gumbel softmax
def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """Softmax of (logits + Gumbel noise) / tau; `hard` gives one-hot values with soft
    gradients (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -torch.empty_like(logits).exponential_().log()
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot = torch.zeros_like(logits).scatter(dim, index, 1.0)
    return one_hot - soft.detach() + soft


# ---------------------------------------------------------------- spatial transformers
def _corners_default(align_corners, op):
    if align_corners is None:
        warnings.warn(
            "Default grid_sample and affine_grid behavior has changed to align_corners=False "
            "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
            "See the documentation of grid_sample for details.",
            stacklevel=3,
        )
        return False
    return align_corners


def _base_coords(steps, align_corners, like):
    if steps <= 1:
        return torch.zeros(steps, dtype=like.dtype, device=like.device)
    coords = torch.linspace(-1.0, 1.0, steps, dtype=like.dtype, device=like.device)
    if not align_corners:
        coords = coords * ((steps - 1) / steps)
    return coords


def affine_grid(theta, size, align_corners=None):
    """Sampling grid (N, H, W, 2) of the affine maps theta (N, 2, 3) over size (N, C, H, W)."""
    align_corners = _corners_default(align_corners, "affine_grid")
    require(
        getattr(theta.dtype, "is_floating_point", False),
        ValueError,
        lambda: f"Expected theta to have floating point type, but got {theta.dtype}",
    )
    size = [int(s) for s in size]
    if len(size) == 5:
        raise NotImplementedError("rtorch: affine_grid supports 4-D sizes (N, C, H, W) only")
    require(
        len(size) == 4,
        NotImplementedError,
        lambda: (
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {tuple(size)}."
        ),
    )
    require(
        theta.dim() == 3 and tuple(theta.shape[1:]) == (2, 3),
        ValueError,
        lambda: (
            "Expected a batch of 2D affine matrices of shape Nx2x3 for size "
            f"{tuple(size)}. Got {tuple(theta.shape)}."
        ),
    )
    n, _, h, w = size
    require(
        theta.shape[0] == n,
        ValueError,
        lambda: f"Expected theta batch size {theta.shape[0]} to match size batch {n}",
    )
    require(
        min(size) > 0,
        ValueError,
        lambda: f"Expected non-zero, positive output size. Got {tuple(size)}",
    )
    xs = _base_coords(w, align_corners, theta)
    ys = _base_coords(h, align_corners, theta)
    base = torch.stack(
        [
            xs.reshape(1, w).expand(h, w),
            ys.reshape(h, 1).expand(h, w),
            torch.ones(h, w, dtype=theta.dtype, device=theta.device),
        ],
        dim=-1,
    ).reshape(1, h * w, 3)
    grid = base.expand(n, h * w, 3) @ theta.transpose(1, 2)
    return grid.reshape(n, h, w, 2)


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, low, high):
    """Fold coordinates into [low, high] by mirroring at both ends."""
    span = high - low
    if span <= 0:
        return torch.zeros_like(coord)
    shifted = (coord - low).abs()
    periods = (shifted / span).floor()
    extra = shifted - periods * span
    odd = periods.remainder(2) == 1
    return torch.where(odd, span - extra, extra) + low


def _source_coord(coord, size, padding_mode, align_corners):
    coord = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        coord = coord.clamp(0, size - 1)
    elif padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0.0, float(size - 1))
        else:
            coord = _reflect(coord, -0.5, size - 0.5)
        coord = coord.clamp(0, size - 1)
    return coord


def _gather_pixels(flat, ys, xs, h, w):
    """flat (N, C, H*W); ys, xs (N, Ho, Wo) integer coords; zeros outside the image."""
    n, c, _ = flat.shape
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    idx = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).reshape(n, 1, -1).expand(n, c, -1)
    values = flat.gather(2, idx).reshape(n, c, *ys.shape[1:])
    return values * inside.unsqueeze(1).to(flat.dtype)


@autocast_op("grid_sampler")
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) at grid (N, Ho, Wo, 2) positions given in [-1, 1]."""
    require(
        mode in ("bilinear", "nearest", "bicubic"),
        ValueError,
        lambda: (
            f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        ),
    )
    require(
        padding_mode in ("zeros", "border", "reflection"),
        ValueError,
        lambda: (
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', "
            f"or 'reflection', but got: '{padding_mode}'"
        ),
    )
    if mode == "bicubic":
        raise NotImplementedError("rtorch: grid_sample supports mode='bilinear' and 'nearest'")
    align_corners = _corners_default(align_corners, "grid_sample")
    if input.dim() == 5:
        raise NotImplementedError("rtorch: grid_sample supports 4-D input (N, C, H, W) only")
    require(
        input.dim() == 4 and grid.dim() == 4 and grid.shape[-1] == 2,
        RuntimeError,
        lambda: (
            "grid_sampler(): expected 4D input and grid with same number of dimensions, "
            f"but got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
        ),
    )
    require(
        input.shape[0] == grid.shape[0],
        RuntimeError,
        lambda: (
            "grid_sampler(): expected grid and input to have same batch size, but got "
            f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
        ),
    )
    n, c, h, w = input.shape
    x = _source_coord(grid[..., 0], w, padding_mode, align_corners)
    y = _source_coord(grid[..., 1], h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)
    if mode == "nearest":
        # Round half to even, as nearbyint does.
        return _gather_pixels(flat, y.round().long(), x.round().long(), h, w)
    x0f = x.floor()
    y0f = y.floor()
    tx = (x - x0f).unsqueeze(1)
    ty = (y - y0f).unsqueeze(1)
    x0 = x0f.long()
    y0 = y0f.long()
    top = (
        _gather_pixels(flat, y0, x0, h, w) * (1 - tx) + _gather_pixels(flat, y0, x0 + 1, h, w) * tx
    )
    bottom = (
        _gather_pixels(flat, y0 + 1, x0, h, w) * (1 - tx)
        + _gather_pixels(flat, y0 + 1, x0 + 1, h, w) * tx
    )
    return top * (1 - ty) + bottom * ty
