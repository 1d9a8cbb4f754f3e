"""Margin losses over class scores, triplet loss with any distance, and CTC."""

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch._checks import require

from ._core import apply_reduction, check_reduction, resolve_reduction
from .activation import logsigmoid

__all__ = [
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "triplet_margin_with_distance_loss",
    "ctc_loss",
]


def _as_batch(input, target, op):
    """(C,) input with a scalar / (C,) target runs as a batch of one."""
    require(
        input.dim() in (1, 2),
        RuntimeError,
        lambda: f"{op}: expected 1D or 2D input, but got input of size: {tuple(input.shape)}",
    )
    if input.dim() == 1:
        return input.unsqueeze(0), target.reshape(1, -1), True
    return input, target, False


def _finish(loss, reduction, single):
    if single and reduction == "none":
        loss = loss.squeeze(0)
    return apply_reduction(loss, reduction)


@autocast_op("multi_margin_loss")
def multi_margin_loss(
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """sum over i != y of max(0, margin - x[y] + x[i]) ** p, divided by the class count."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    require(p in (1, 2), ValueError, lambda: "only p == 1 and p == 2 supported")
    x, y, single = _as_batch(input, target, "multi_margin_loss")
    y = y.reshape(-1)
    n, c = x.shape
    require(
        y.shape[0] == n,
        RuntimeError,
        lambda: (
            f"multi_margin_loss: inconsistent target size: {tuple(target.shape)} "
            f"for input of size: {tuple(input.shape)}"
        ),
    )
    require(
        bool(((y >= 0) & (y < c)).all()),
        RuntimeError,
        lambda: "multi_margin_loss: target out of range",
    )
    at_target = x.gather(1, y.unsqueeze(1))
    hinge = (margin - at_target + x).clamp(min=0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[y].unsqueeze(1)
    others = torch.ones_like(x).scatter(1, y.unsqueeze(1), 0.0)
    loss = (hinge * others).sum(1) / c
    return _finish(loss, reduction, single)


@autocast_op("multilabel_margin_loss")
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Hinge between every target class (listed first, ended by -1) and every other class."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x, y, single = _as_batch(input, target, "multilabel_margin_loss")
    require(
        tuple(y.shape) == tuple(x.shape),
        RuntimeError,
        lambda: (
            f"multilabel_margin_loss: inconsistent target size: {tuple(target.shape)} "
            f"for input of size: {tuple(input.shape)}"
        ),
    )
    n, c = x.shape
    y = y.long()
    # Entries after the first -1 are ignored.
    valid = (y >= 0).long().cumprod(1).bool()
    require(
        bool((y[valid] < c).all()),
        RuntimeError,
        lambda: "multilabel_margin_loss: target out of range",
    )
    safe = torch.where(valid, y, torch.zeros_like(y))
    is_target = torch.zeros_like(x).scatter_add(1, safe, valid.to(x.dtype)) > 0
    at_targets = x.gather(1, safe)  # (N, C): score of the j-th listed target
    hinge = (1 - at_targets.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)  # (N, j, i)
    pair = valid.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = (hinge * pair.to(x.dtype)).sum((1, 2)) / c
    return _finish(loss, reduction, single)


@autocast_op("multilabel_soft_margin_loss")
def multilabel_soft_margin_loss(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction="mean",
):
    """Per-class logistic loss averaged over classes."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(dim=input.dim() - 1) if input.dim() else loss
    return apply_reduction(loss, reduction)


def triplet_margin_with_distance_loss(
    anchor,
    positive,
    negative,
    *,
    distance_function=None,
    margin=1.0,
    swap=False,
    reduction="mean",
):
    """max(d(a, p) - d(a, n) + margin, 0) for any distance function d."""
    check_reduction(reduction)
    require(
        margin > 0,
        ValueError,
        lambda: (
            f"triplet_margin_with_distance_loss: expected margin to be greater than 0, "
            f"got {margin} instead"
        ),
    )
    dims = (anchor.dim(), positive.dim(), negative.dim())
    require(
        len(set(dims)) == 1,
        RuntimeError,
        lambda: (
            "The anchor, positive, and negative tensors are expected to have the same "
            f"number of dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and "
            f"negative {dims[2]}D inputs"
        ),
    )
    if distance_function is None:
        from .linear import pairwise_distance as distance_function
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = torch.minimum(d_neg, distance_function(positive, negative))
    loss = (margin + d_pos - d_neg).clamp(min=0)
    return apply_reduction(loss, reduction)


# ------------------------------------------------------------------------------ CTC
def _lse3(a, b, c):
    """log(e^a + e^b + e^c) that stays finite, with finite gradients, when all are -inf."""
    top = torch.maximum(torch.maximum(a, b), c)
    dead = top == float("-inf")
    shift = torch.where(dead, torch.zeros_like(top), top)
    total = (a - shift).exp() + (b - shift).exp() + (c - shift).exp()
    total = torch.where(dead, torch.ones_like(total), total)
    return torch.where(dead, top, shift + total.log())


def _padded_targets(targets, target_lengths, n):
    if targets.dim() == 2:
        return targets.long()
    lengths = [int(v) for v in target_lengths]
    width = max(lengths + [0])
    out = torch.zeros(n, width, dtype=torch.int64)
    start = 0
    for b, length in enumerate(lengths):
        if length:
            out[b, :length] = targets[start : start + length].long()
        start += length
    return out


def _lengths(value, n, what):
    if isinstance(value, torch.Tensor):
        value = value.reshape(-1).tolist()
    value = [int(v) for v in value]
    require(
        len(value) == n,
        RuntimeError,
        lambda: f"ctc_loss: expected {what} to have size at least {n}, but got {len(value)}",
    )
    return value


@autocast_op("ctc_loss")
def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank=0,
    reduction="mean",
    zero_infinity=False,
):
    """Connectionist temporal classification loss (negative log-likelihood of the targets)."""
    check_reduction(reduction)
    single = log_probs.dim() == 2
    if single:
        log_probs = log_probs.unsqueeze(1)
        if targets.dim() == 1:
            targets = targets.unsqueeze(0)
    require(
        log_probs.dim() == 3,
        RuntimeError,
        lambda: f"ctc_loss: expected log_probs to be 2-D or 3-D, got {log_probs.dim()}-D",
    )
    t_max, n, c = log_probs.shape
    require(
        0 <= blank < c,
        RuntimeError,
        lambda: "blank must be in label range",
    )
    in_lens = _lengths(input_lengths, n, "input_lengths")
    tgt_lens = _lengths(target_lengths, n, "target_lengths")
    for b in range(n):
        require(
            in_lens[b] <= t_max,
            RuntimeError,
            lambda b=b: (
                f"Expected input_lengths to have value at most {t_max}, "
                f"but got value {in_lens[b]} (while checking arguments for ctc_loss_cpu)"
            ),
        )
    labels = _padded_targets(targets, tgt_lens, n)
    s_max = labels.shape[1] if labels.dim() == 2 else 0
    ext_len = 2 * s_max + 1
    pos = torch.arange(ext_len)
    label_idx = ((pos - 1) // 2).clamp(min=0, max=max(s_max - 1, 0))
    tgt_len_t = torch.tensor(tgt_lens, dtype=torch.int64)
    within = (pos.unsqueeze(0) % 2 == 1) & ((pos.unsqueeze(0) - 1) // 2 < tgt_len_t.unsqueeze(1))
    if s_max:
        picked = labels.gather(1, label_idx.unsqueeze(0).expand(n, ext_len))
    else:
        picked = torch.zeros(n, ext_len, dtype=torch.int64)
    ext = torch.where(within, picked, torch.full_like(picked, blank))
    require(
        bool(((ext >= 0) & (ext < c)).all()),
        RuntimeError,
        lambda: "ctc_loss: target index out of range",
    )
    # A skip from s - 2 is allowed onto a label that differs from the label two back.
    prev2 = torch.cat([torch.full((n, 2), blank, dtype=torch.int64), ext[:, :-2]], 1)
    skip_ok = (ext != blank) & (ext != prev2) & (pos.unsqueeze(0) >= 2)

    emit = log_probs.gather(2, ext.unsqueeze(0).expand(t_max, n, ext_len))  # (T, N, L)
    neg_inf = torch.full((n, 1), float("-inf"), dtype=log_probs.dtype)
    start = (pos < 2).unsqueeze(0).expand(n, ext_len)
    alpha = torch.where(start, emit[0], neg_inf.expand(n, ext_len))
    in_len_t = torch.tensor(in_lens, dtype=torch.int64)
    for t in range(1, max(in_lens + [1])):
        one_back = torch.cat([neg_inf, alpha[:, :-1]], 1)
        two_back = torch.cat([neg_inf, neg_inf, alpha[:, :-2]], 1)
        two_back = torch.where(skip_ok, two_back, neg_inf.expand(n, ext_len))
        step = _lse3(alpha, one_back, two_back) + emit[t]
        alpha = torch.where((t < in_len_t).unsqueeze(1), step, alpha)
    last = (2 * tgt_len_t).unsqueeze(1)
    end_a = alpha.gather(1, last).squeeze(1)
    end_b = alpha.gather(1, (last - 1).clamp(min=0)).squeeze(1)
    end_b = torch.where(tgt_len_t > 0, end_b, torch.full_like(end_b, float("-inf")))
    nll = -_lse3(end_a, end_b, torch.full_like(end_a, float("-inf")))
    # An empty input sequence can only produce an empty target.
    empty = in_len_t == 0
    if bool(empty.any()):
        nll = torch.where(
            empty,
            torch.where(tgt_len_t == 0, torch.zeros_like(nll), torch.full_like(nll, float("inf"))),
            nll,
        )
    if zero_infinity:
        nll = torch.where(nll == float("inf"), torch.zeros_like(nll), nll)
    if reduction == "mean":
        return (nll / tgt_len_t.clamp(min=1).to(nll.dtype)).mean()
    if reduction == "sum":
        return nll.sum()
    return nll.squeeze(0) if single else nll
