"""Loss functions, each with PyTorch's `reduction` handling."""

import math
import warnings

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch._checks import require

from ._core import HAS_C, apply_reduction, check_reduction, legacy_get_string, resolve_reduction
from .activation import _log_softmax_impl, logsigmoid

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "cosine_embedding_loss",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
]


_LOG_2PI = math.log(2 * math.pi)


def _warn_size(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=4,  # the caller of the loss (above autocast_op's wrapper)
        )


def _weighted(loss, weight):
    return loss if weight is None else loss * weight


@autocast_op("mse_loss")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size(input, target, "mse_loss")
    reduction = resolve_reduction(size_average, reduce, reduction)
    d = input - target
    return apply_reduction(_weighted(d * d, weight), reduction)


@autocast_op("l1_loss")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size(input, target, "l1_loss")
    reduction = resolve_reduction(size_average, reduce, reduction)
    return apply_reduction(_weighted((input - target).abs(), weight), reduction)


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    _warn_size(input, target, "smooth_l1_loss")
    reduction = resolve_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0.0:
        return apply_reduction(d, reduction)
    loss = torch.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return apply_reduction(loss, reduction)


@autocast_op("huber_loss")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _warn_size(input, target, "huber_loss")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = (input - target).abs()
    loss = torch.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return apply_reduction(_weighted(loss, weight), reduction)


def _class_weight_view(weight, input, class_dim):
    shape = [1] * input.dim()
    shape[class_dim] = weight.numel()
    return weight.reshape(shape)


def _check_targets(target, n_classes, ignore_index):
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= n_classes))
    if bool(bad.any()):
        t = int(target[bad].reshape(-1)[0])
        raise IndexError(f"Target {t} is out of bounds.")


@autocast_op("nll_loss")
def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    out_shape = target.shape
    if input.dim() == 1:
        if target.dim() != 0:
            raise ValueError(
                f"Expected input batch_size ({1}) to match target batch_size "
                f"({target.shape[0] if target.dim() else 1})."
            )
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    elif input.shape[0] != target.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0]})."
        )
    n_classes = input.shape[1]
    _check_targets(target, n_classes, ignore_index)
    if HAS_C["_nll_loss"] and reduction in ("none", "mean", "sum"):
        # The fused kernel takes (rows, classes): move classes last and flatten.
        x = input.movedim(1, -1).reshape(-1, n_classes) if input.dim() > 2 else input
        out = torch._C._nll_loss(x, target.reshape(-1), weight, ignore_index, reduction)
        return out.reshape(out_shape) if reduction == "none" else out
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    picked = -input.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = valid.to(input.dtype)
    if weight is not None:
        w = w * weight.index_select(0, safe.reshape(-1)).reshape(safe.shape)
    loss = picked * w
    if reduction == "mean":
        # Weighted mean: normalised by the total weight of the counted targets.
        return loss.sum() / w.sum()
    return apply_reduction(loss.reshape(out_shape), reduction)


@autocast_op("cross_entropy")
def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[class_dim]
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
        raise RuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {n_classes} "
            f"classes or no classes but got weight tensor of shape: {list(weight.shape)}"
        )
    if target.dtype.is_floating_point:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim)
    if HAS_C["_cross_entropy"]:
        # The fused kernel takes (rows, classes): move classes last and flatten.
        x = input.unsqueeze(0) if class_dim == 0 else input
        if x.dim() > 2:
            x = x.movedim(1, -1).reshape(-1, n_classes)
        t = target.reshape(-1)
        if t.shape[0] != x.shape[0]:
            raise ValueError(
                f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                f"({target.shape[0] if target.dim() else 1})."
            )
        out = torch._C._cross_entropy(x, t, weight, ignore_index, label_smoothing, reduction)
        return out.reshape(target.shape) if reduction == "none" else out
    logp = _log_softmax_impl(input, class_dim)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if label_smoothing == 0.0:
        return nll
    if weight is not None:
        smooth = -(logp * _class_weight_view(weight, logp, class_dim)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    ignore = target == ignore_index
    smooth = torch.where(ignore, torch.zeros_like(smooth), smooth)
    if reduction == "mean":
        if weight is not None:
            kept = target[~ignore]
            ret = smooth.sum() / weight.index_select(0, kept.reshape(-1)).sum()
        else:
            ret = smooth.sum() / (~ignore).sum()
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth
    return (1 - label_smoothing) * nll + ret * (label_smoothing / n_classes)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, class_dim):
    if tuple(input.shape) != tuple(target.shape):
        raise RuntimeError(
            "Expected floating point type target with the same shape as input: got "
            f"input {list(input.shape)} and target {list(target.shape)}"
        )
    n_classes = input.shape[class_dim]
    logp = _log_softmax_impl(input, class_dim)
    if label_smoothing > 0.0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if weight is not None:
        prod = prod * _class_weight_view(weight, logp, class_dim)
    if reduction == "none":
        return -prod.sum(class_dim)
    if reduction == "sum":
        return -prod.sum()
    return -prod.sum() / (input.numel() // n_classes)


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean"
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    if bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    # PyTorch clamps the logs at -100 so that 0 * log(0) stays finite.
    log_x = torch.log(input).clamp(min=-100)
    log_1mx = torch.log(1 - input).clamp(min=-100)
    loss = -(target * log_x + (1 - target) * log_1mx)
    return apply_reduction(_weighted(loss, weight), reduction)


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    # -[p * y * log s(x) + (1 - y) * log(1 - s(x))] with log(1 - s(x)) = log s(x) - x,
    # so log s(x) carries the factor p * y + (1 - y) = 1 + (p - 1) * y.
    factor = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input - factor * logsigmoid(input)
    return apply_reduction(_weighted(loss, weight), reduction)


@autocast_op("kl_div")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is None and reduce is None:
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the "
                "support size.'batchmean' divides only by the batch size, and aligns with the "
                "KL div math definition.'mean' will be changed to behave the same as "
                "'batchmean' in the next major release.",
                stacklevel=3,  # the caller (above autocast_op's wrapper)
            )
    else:
        reduction = legacy_get_string(size_average, reduce)
    if log_target:
        loss = torch.exp(target) * (target - input)
    else:
        # xlogy(t, t) - t * x, with 0 * log 0 = 0 and a finite gradient there.
        pos = target > 0
        safe = torch.where(pos, target, torch.ones_like(target))
        loss = target * torch.log(safe) - target * input
    if reduction == "batchmean":
        if input.dim() == 0:
            return loss.sum()
        return loss.sum() / input.size(0)
    return apply_reduction(loss, reduction)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() not in (1, 2):
        raise RuntimeError(
            f"cosine_embedding_loss: expected 1D or 2D inputs of equal rank, got "
            f"{input1.dim()}D and {input2.dim()}D"
        )
    d = input1.dim() - 1
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + eps
    mag2 = (input2 * input2).sum(d) + eps
    cos = prod / torch.sqrt(mag1 * mag2)
    zeros = torch.zeros_like(cos)
    pos = torch.where(target == 1, 1 - cos, zeros)
    neg = torch.where(target == -1, (cos - margin).clamp(min=0), zeros)
    return apply_reduction(pos + neg, reduction)


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(
    input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    if len({input1.dim(), input2.dim(), target.dim()}) > 1:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} "
        )
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return apply_reduction(loss, reduction)


@autocast_op("hinge_embedding_loss")
def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    zeros = torch.zeros_like(input)
    margin_clamp = (margin - input).clamp(min=0)
    out_margin = torch.where(target != 1, margin_clamp, zeros)
    out_self = torch.where(target != -1, input, zeros)
    return apply_reduction(out_margin + out_self, reduction)


@autocast_op("soft_margin_loss")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = resolve_reduction(size_average, reduce, reduction)
    return apply_reduction(-logsigmoid(target * input), reduction)


@autocast_op("triplet_margin_loss")
def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    from .linear import pairwise_distance

    reduction = resolve_reduction(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = torch.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = (margin + d_pos - d_neg).clamp(min=0)
    return apply_reduction(loss, reduction)


@autocast_op("poisson_nll_loss")
def poisson_nll_loss(
    input,
    target,
    log_input=True,
    full=False,
    size_average=None,
    eps=1e-8,
    reduce=None,
    reduction="mean",
):
    reduction = resolve_reduction(size_average, reduce, reduction)
    # Poisson rate and its log, from whichever of the two the input holds.
    if log_input:
        rate, log_rate = torch.exp(input), input
    else:
        rate, log_rate = input, torch.log(input + eps)
    loss = rate - target * log_rate
    if full:
        safe = torch.where(target > 1, target, torch.ones_like(target))
        stirling = safe * torch.log(safe) - safe + 0.5 * torch.log(2 * math.pi * safe)
        loss = loss + torch.where(target > 1, stirling, torch.zeros_like(stirling))
    return apply_reduction(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if var.dim() == input.dim() - 1 and tuple(var.shape) == tuple(input.shape[:-1]):
        var = var.unsqueeze(-1)
    require(not bool((var < 0).any()), ValueError, "var has negative entry/entries")
    # Clamped from below for the value only; the gradient still flows to var.
    var = var + (var.clamp(min=eps) - var).detach()
    sq_err = (input - target) ** 2
    loss = 0.5 * (torch.log(var) + sq_err / var)
    if full:
        loss = loss + 0.5 * _LOG_2PI
    return apply_reduction(loss, reduction)
