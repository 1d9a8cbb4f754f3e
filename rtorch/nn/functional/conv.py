"""pad, convolutions, unfold and fold.

Without the fused kernels, convolution is im2col (one index_select gathering
every kernel window) followed by a grouped matmul; transposed convolution is a
convolution of the stride-dilated input with the flipped, transposed weight.
"""

import rtorch as torch
from rtorch._autocast_ops import run_as

from ..modules.utils import _pair, _single
from ._core import HAS, HAS_C, unbatched_ok

__all__ = [
    "pad",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "unfold",
    "fold",
]


# ---------------------------------------------------------------------- pad
def _pad_dim(x, dim, left, right, mode, value):
    size = x.size(dim)
    if left < 0:
        x = x.narrow(dim, -left, size + left)
        size += left
        left = 0
    if right < 0:
        x = x.narrow(dim, 0, size + right)
        size += right
        right = 0
    if left == 0 and right == 0:
        return x
    if mode == "constant":
        parts = []
        for n in (left, right):
            shape = list(x.shape)
            shape[dim] = n
            parts.append(torch.full(shape, value, dtype=x.dtype, device=x.device))
        return torch.cat([parts[0], x, parts[1]], dim)
    if mode == "reflect":
        if left >= size or right >= size:
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({left}, {right}) at dimension {dim} of input "
                f"{list(x.shape)}"
            )
        lpart = x.narrow(dim, 1, left).flip([dim])
        rpart = x.narrow(dim, size - 1 - right, right).flip([dim])
    elif mode == "replicate":
        if size == 0:
            raise RuntimeError("padding: input dimension to replicate must be non-empty")
        lpart = x.narrow(dim, 0, 1).expand(*x.shape[:dim], left, *x.shape[dim + 1 :])
        rpart = x.narrow(dim, size - 1, 1).expand(*x.shape[:dim], right, *x.shape[dim + 1 :])
    elif mode == "circular":
        if left > size or right > size:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        lpart = x.narrow(dim, size - left, left)
        rpart = x.narrow(dim, 0, right)
    else:
        raise NotImplementedError(f"Unsupported padding mode: {mode}")
    return torch.cat([lpart, x, rpart], dim)


def pad(input, pad, mode="constant", value=None):
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {input.dim()}"
        )
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unsupported padding mode: {mode}")
    if mode != "constant" and value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    fill = 0 if value is None else value
    if mode in ("reflect", "replicate"):
        # PyTorch's op (and so its autocast policy) is named by the number of padded dims.
        kind = "reflection" if mode == "reflect" else "replication"
        return run_as(f"{kind}_pad{len(pad) // 2}d", _pad_dims, input, pad, mode, fill)
    return _pad_dims(input, pad, mode, fill)


def _pad_dims(input, pad, mode, fill):
    out = input
    for i in range(len(pad) // 2):
        dim = input.dim() - 1 - i
        out = _pad_dim(out, dim, int(pad[2 * i]), int(pad[2 * i + 1]), mode, fill)
    return out


# ---------------------------------------------------------------------- im2col
def _window_index(kh, kw, dh, dw, sh, sw, oh, ow, row_len, device=None):
    """Flat positions (row*row_len + col) of every kernel window, ordered (k, l)."""
    rows = (torch.arange(kh, device=device) * dh).reshape(kh, 1, 1, 1) + (
        torch.arange(oh, device=device) * sh
    ).reshape(1, 1, oh, 1)
    cols = (torch.arange(kw, device=device) * dw).reshape(1, kw, 1, 1) + (
        torch.arange(ow, device=device) * sw
    ).reshape(1, 1, 1, ow)
    return (rows * row_len + cols).reshape(-1)


def _out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _patches(xp, kernel, dilation, stride, out_hw):
    """(N, C, Hp, Wp) already padded -> (N, C, kh*kw, oh, ow) windows."""
    n, c, hp, wp = xp.shape
    (kh, kw), (dh, dw), (sh, sw), (oh, ow) = kernel, dilation, stride, out_hw
    idx = _window_index(kh, kw, dh, dw, sh, sw, oh, ow, wp, xp.device)
    cols = xp.reshape(n, c, hp * wp).index_select(2, idx)
    return cols.reshape(n, c, kh * kw, oh, ow)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)"
        )
    geometry = tuple(map(_pair, (kernel_size, dilation, padding, stride)))
    return unbatched_ok(input, 4, lambda x: _unfold4d(x, *geometry))


def _unfold4d(input, kernel, dilation, padding, stride):
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    n, c, h, w = input.shape
    oh, ow = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Given input with spatial size ({h}, {w}), kernel_size=({kh}, {kw}), "
            f"dilation=({dh}, {dw}), padding=({ph}, {pw}), calculated shape of the array of "
            f"sliding blocks as ({oh}, {ow}), but its components must be at least one."
        )
    if HAS_C["_unfold"]:
        return torch._C._unfold(input, kernel, dilation, padding, stride)
    xp = pad(input, (pw, pw, ph, ph)) if (ph or pw) else input
    return _patches(xp, kernel, dilation, stride, (oh, ow)).reshape(n, c * kh * kw, oh * ow)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    geometry = tuple(map(_pair, (output_size, kernel_size, dilation, padding, stride)))
    return unbatched_ok(input, 3, lambda x: _fold3d(x, *geometry))


def _fold3d(input, output_size, kernel, dilation, padding, stride):
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = output_size, kernel, dilation, padding, stride
    n, ck, length = input.shape
    k = kh * kw
    if ck % k != 0:
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={ck} and kernel_size=({kh}, {kw})."
        )
    oh, ow = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    if oh * ow != length:
        raise RuntimeError(
            f"Given output_size=({h}, {w}), kernel_size=({kh}, {kw}), dilation=({dh}, {dw}), "
            f"padding=({ph}, {pw}), stride=({sh}, {sw}), expected size of input's dimension 2 "
            f"to match the calculated number of sliding blocks {oh} * {ow} = {oh * ow}, but "
            f"got input.size(2)={length}."
        )
    if HAS_C["_fold"]:
        return torch._C._fold(input, output_size, kernel, dilation, padding, stride)
    c = ck // k
    hp, wp = h + 2 * ph, w + 2 * pw
    idx = _window_index(kh, kw, dh, dw, sh, sw, oh, ow, wp, input.device)
    canvas = torch.zeros(n, c, hp * wp, dtype=input.dtype, device=input.device)
    out = canvas.index_add(2, idx, input.reshape(n, c, k * length)).reshape(n, c, hp, wp)
    return pad(out, (-pw, -pw, -ph, -ph)) if (ph or pw) else out


# ---------------------------------------------------------------------- convolution
def _same_padding(kernel, dilation, stride, op):
    """Explicit symmetric padding plus the extra right padding 'same' may need."""
    if any(s != 1 for s in stride):
        raise RuntimeError(f"padding='same' is not supported for strided convolutions ({op})")
    sym, extra = [], []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        sym.append(total // 2)
        extra.append(total - 2 * (total // 2))
    return sym, extra


def _resolve_padding(input, weight, padding, stride, dilation, nd, op):
    """Turn 'same'/'valid' into explicit padding; pads the input if 'same' is asymmetric."""
    if isinstance(padding, str):
        if padding == "valid":
            return input, [0] * nd
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        sym, extra = _same_padding(weight.shape[2:], dilation, stride, op)
        if any(extra):
            spec = []
            for e in reversed(extra):
                spec += [0, e]
            input = pad(input, spec)
        return input, sym
    return input, list(_pair(padding) if nd == 2 else _single(padding))


def _check_conv_input(input, weight, groups, nd, op):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got "
            f"input of size: {list(input.shape)}"
        )
    c = input.shape[-nd - 1]
    if weight.shape[1] * groups != c:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(input.shape)} to have {weight.shape[1] * groups} channels, but got "
            f"{c} channels instead"
        )


def _conv2d_composed(x, weight, bias, stride, padding, dilation, groups):
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh, ow = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Calculated padded input size per channel: ({h + 2 * ph} x {w + 2 * pw}). "
            f"Kernel size: ({dh * (kh - 1) + 1} x {dw * (kw - 1) + 1}). Kernel size can't be "
            "greater than actual input size"
        )
    xp = pad(x, (pw, pw, ph, ph)) if (ph or pw) else x
    cols = _patches(xp, (kh, kw), (dh, dw), (sh, sw), (oh, ow))
    cols = cols.reshape(n, groups, cg * kh * kw, oh * ow)
    wg = weight.reshape(1, groups, o // groups, cg * kh * kw)
    out = torch.matmul(wg, cols).reshape(n, o, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1)
    return out


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    _check_conv_input(input, weight, groups, 2, "conv2d")
    stride, dilation = _pair(stride), _pair(dilation)
    input, padding = _resolve_padding(input, weight, padding, stride, dilation, 2, "conv2d")
    args = (weight, bias, stride, tuple(padding), dilation, groups)
    if HAS["conv2d"]:
        return torch.conv2d(input, *args)
    return unbatched_ok(input, 4, lambda x: _conv2d_composed(x, *args))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    _check_conv_input(input, weight, groups, 1, "conv1d")
    stride, dilation = _single(stride), _single(dilation)
    input, padding = _resolve_padding(input, weight, padding, stride, dilation, 1, "conv1d")
    if HAS["conv1d"]:
        return torch.conv1d(input, weight, bias, stride, tuple(padding), dilation, groups)
    out = conv2d(
        input.unsqueeze(-2),
        weight.unsqueeze(-2),
        bias,
        (1, stride[0]),
        (0, padding[0]),
        (1, dilation[0]),
        groups,
    )
    return out.squeeze(-2)


def _dilate(x, dim, s):
    """Insert s-1 zeros between neighbours along `dim`."""
    if s == 1 or x.size(dim) == 0:
        return x
    n = x.size(dim)
    zshape = list(x.shape)
    zshape.insert(dim + 1, s - 1)
    zeros = torch.zeros(zshape, dtype=x.dtype, device=x.device)
    out = torch.cat([x.unsqueeze(dim + 1), zeros], dim + 1)
    out = out.reshape(*x.shape[:dim], n * s, *x.shape[dim + 1 :])
    return out.narrow(dim, 0, (n - 1) * s + 1)


def _conv_transpose2d_composed(x, weight, bias, stride, padding, output_padding, groups, dilation):
    cin, og, kh, kw = weight.shape
    for s, d, op in zip(stride, dilation, output_padding):
        if op >= s and op >= d:
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got "
                f"output_padding_height: {output_padding[0]} output_padding_width: "
                f"{output_padding[1]} stride_height: {stride[0]} stride_width: {stride[1]} "
                f"dilation_height: {dilation[0]} dilation_width: {dilation[1]}"
            )
    x = _dilate(_dilate(x, 2, stride[0]), 3, stride[1])
    lh = dilation[0] * (kh - 1) - padding[0]
    lw = dilation[1] * (kw - 1) - padding[1]
    x = pad(x, (lw, lw + output_padding[1], lh, lh + output_padding[0]))
    w2 = weight.reshape(groups, cin // groups, og, kh, kw).transpose(1, 2)
    w2 = w2.reshape(groups * og, cin // groups, kh, kw).flip([2, 3])
    return _conv2d_composed(x, w2, bias, (1, 1), (0, 0), tuple(dilation), groups)


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    if isinstance(padding, str):
        raise RuntimeError("conv_transpose2d: string padding is not supported")
    if input.dim() not in (3, 4):
        raise RuntimeError(
            "Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got "
            f"input of size: {list(input.shape)}"
        )
    if input.shape[-3] != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
            f"{list(input.shape)} to have {weight.shape[0]} channels, but got "
            f"{input.shape[-3]} channels instead"
        )
    args = tuple(map(_pair, (stride, padding, output_padding)))
    dilation = _pair(dilation)
    if HAS["conv_transpose2d"]:
        return torch.conv_transpose2d(input, weight, bias, *args, groups, dilation)
    return unbatched_ok(
        input, 4, lambda x: _conv_transpose2d_composed(x, weight, bias, *args, groups, dilation)
    )


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    out = conv_transpose2d(
        input.unsqueeze(-2),
        weight.unsqueeze(-2),
        bias,
        (1, _single(stride)[0]),
        (0, _single(padding)[0]),
        (0, _single(output_padding)[0]),
        groups,
        (1, _single(dilation)[0]),
    )
    return out.squeeze(-2)
