"""linear, bilinear, dropout, embedding and vector utilities."""

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch._checks import require
from rtorch._out import write_out

from ._core import HAS, maybe

__all__ = [
    "linear",
    "bilinear",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "embedding",
    "one_hot",
    "normalize",
    "cosine_similarity",
    "pairwise_distance",
]


def linear(input, weight, bias=None):
    if weight.dim() == 2 and (bias is None or bias.dim() == 1):
        return torch._C._linear(input, weight, bias)
    out = torch.matmul(input, weight.t()) if weight.dim() == 2 else torch.matmul(input, weight)
    if bias is not None:
        out = out + bias
    return out


@autocast_op("bilinear")
def bilinear(input1, input2, weight, bias=None):
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            "bilinear(): input batch dimensions do not match: got "
            f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}"
        )
    out = torch.einsum("...i,oij,...j->...o", input1, weight, input2)
    if bias is not None:
        out = out + bias
    return out


def _check_p(p):
    require(
        not (p < 0.0 or p > 1.0),
        ValueError,
        lambda: f"dropout probability has to be between 0 and 1, but got {p}",
    )


def _src(input, inplace):
    # In-place results are computed from a copy so saved values are not overwritten.
    return input.clone() if inplace else input


def _dropout_mask(shape_like, p):
    keep = (torch.rand_like(shape_like) >= p).to(shape_like.dtype)
    return keep / (1.0 - p)


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    elif HAS["dropout"] and not inplace:
        return torch.dropout(input, p, True)
    else:
        out = _src(input, inplace) * _dropout_mask(input, p)
    return input.copy_(out) if inplace else out


def _feature_dropout(input, p, training, inplace, batched_dim):
    _check_p(p)
    if not training or p == 0.0:
        return input
    # One draw per (sample, channel), broadcast over the spatial dims.
    lead = 2 if input.dim() == batched_dim else 1
    shape = list(input.shape[:lead]) + [1] * (input.dim() - lead)
    noise = torch.rand(shape, dtype=input.dtype, device=input.device)
    mask = torch.zeros_like(noise) if p == 1.0 else (noise >= p).to(input.dtype) / (1.0 - p)
    out = _src(input, inplace) * mask
    return input.copy_(out) if inplace else out


def dropout1d(input, p=0.5, training=True, inplace=False):
    if input.dim() not in (2, 3):
        raise RuntimeError(
            "dropout1d: Expected 2D or 3D input, but received a "
            f"{input.dim()}D input. Note that dropout1d exists to provide channel-wise "
            "dropout on inputs with 1 spatial dimension, a channel dimension, and an "
            "optional batch dimension (i.e. 2D or 3D inputs)."
        )
    return _feature_dropout(input, p, training, inplace, 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 4)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        alpha_p = -1.7580993408473766
        keep = (torch.rand_like(input) >= p).to(input.dtype)
        a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
        b = -a * alpha_p * p
        out = (_src(input, inplace) * keep + alpha_p * (1 - keep)) * a + b
    return input.copy_(out) if inplace else out


def _renorm_rows(weight, indices, max_norm, norm_type):
    # In-place, no-grad rescale of the looked-up rows whose norm exceeds max_norm.
    with torch.no_grad():
        idx = indices.reshape(-1)
        rows = weight.index_select(0, idx)
        norms = rows.norm(norm_type, 1, keepdim=True)
        scale = torch.where(norms > max_norm, max_norm / (norms + 1e-7), torch.ones_like(norms))
        weight[idx] = rows * scale


def _row_index(i, rows):
    """A possibly negative padding row as its index in [0, rows)."""
    require(
        i == 0 or -rows <= i < rows, AssertionError, "Padding_idx must be within num_embeddings"
    )
    return i + rows if i < 0 else i


def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    padding_idx = maybe(lambda i: _row_index(i, weight.size(0)), padding_idx)
    if sparse:
        raise NotImplementedError("rtorch: sparse embedding gradients are not supported")
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    if HAS["embedding"] and not scale_grad_by_freq:
        if padding_idx is None:
            return torch.embedding(weight, input)
        return torch.embedding(weight, input, padding_idx)
    flat = input.reshape(-1)
    out = weight.index_select(0, flat)
    if scale_grad_by_freq:
        # Same values; the gradient of each looked-up row is divided by its count.
        counts = torch.zeros(weight.size(0), dtype=weight.dtype, device=weight.device)
        counts = counts.index_add(0, flat, torch.ones_like(flat, dtype=weight.dtype))
        scale = (1.0 / counts.index_select(0, flat)).unsqueeze(-1)
        out = out.detach() + (out - out.detach()) * scale
    if padding_idx is not None:
        keep = (flat != padding_idx).unsqueeze(-1)
        out = torch.where(keep, out, out.detach())
    return out.reshape(list(input.shape) + [weight.size(1)])


def one_hot(tensor, num_classes=-1):
    if tensor.dtype != torch.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return torch.zeros(list(tensor.shape) + [num_classes], dtype=torch.int64, device=tensor.device)
    if int(tensor.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(tensor.max()) + 1
    elif int(tensor.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    classes = torch.arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).to(torch.int64)


@autocast_op("normalize")
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)
    result = input / denom
    if out is not None:
        return write_out("normalize", result, out, (input,))
    return result


def _clamp_value_only(t, eps):
    # Value of clamp_min(eps); gradient of the unclamped tensor (PyTorch clamps
    # the norms under no_grad in cosine_similarity).
    return t + (t.clamp(min=eps) - t).detach()


@autocast_op("cosine_similarity")
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    x1, x2 = (
        torch.broadcast_tensors(x1, x2)
        if hasattr(torch, "broadcast_tensors")
        else (x1 + torch.zeros_like(x2), x2 + torch.zeros_like(x1))
    )
    n1 = _clamp_value_only(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamp_value_only(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    out_dim = max(x1.dim(), x2.dim())
    diff = x1 - x2 + eps
    if out_dim == 0:
        return diff.abs()
    return diff.norm(p, -1, keepdim=keepdim)
