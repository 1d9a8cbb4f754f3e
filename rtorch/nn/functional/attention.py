"""scaled_dot_product_attention and multi_head_attention_forward.

multi_head_attention_forward works in a (batch, heads, seq, head_dim) layout
throughout and folds the attention mask and the key padding mask into one
additive float mask that broadcasts against the (batch, heads, tgt, src) scores.
"""

import math
import warnings

import rtorch as torch
from rtorch._autocast_ops import autocast_op
from rtorch._checks import require

from ._core import maybe
from .activation import _softmax_impl
from .conv import pad
from .linear import dropout, linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _none_or_dtype(x):
    """The dtype of an optional mask, for comparing the types of two masks."""
    require(
        x is None or isinstance(x, torch.Tensor),
        RuntimeError,
        "input to _none_or_dtype() must be None or torch.Tensor",
    )
    return maybe(lambda t: t.dtype, x)


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """Bool masks become float masks with -inf where True."""
    if mask is None:
        return None
    is_float = mask.dtype.is_floating_point
    if mask.dtype != torch.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same "
            "type for both instead.",
            stacklevel=3,
        )
    if not is_float:
        mask = torch.zeros_like(mask, dtype=target_type).masked_fill(mask, float("-inf"))
    return mask


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p=0.0,
    is_causal=False,
    scale=None,
    enable_gqa=False,
):
    L, S = query.size(-2), key.size(-2)
    scale_factor = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    if enable_gqa and query.dim() >= 3 and key.size(-3) != query.size(-3):
        rep = query.size(-3) // key.size(-3)
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    scores = torch.matmul(query, key.transpose(-2, -1)) * scale_factor
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                "is_causal=True"
            )
        causal = torch.ones(L, S, dtype=torch.bool, device=query.device).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = _softmax_impl(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return torch.matmul(weights, value)


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Check the ranks of the inputs; True when the query is batched (3-D)."""
    rank = query.dim()
    if rank not in (2, 3):
        raise AssertionError(
            "query should be unbatched 2D or batched 3D tensor but received "
            f"{rank}-D query tensor"
        )
    which = "batched (3-D)" if rank == 3 else "unbatched (2-D)"
    if key.dim() != rank or value.dim() != rank:
        raise AssertionError(
            f"For {which} `query`, expected `key` and `value` to be {rank}-D but found "
            f"{key.dim()}-D and {value.dim()}-D tensors respectively"
        )
    if key_padding_mask is not None and key_padding_mask.dim() != rank - 1:
        raise AssertionError(
            f"For {which} `query`, expected `key_padding_mask` to be `None` or {rank - 1}-D "
            f"but found {key_padding_mask.dim()}-D tensor instead"
        )
    if attn_mask is not None and attn_mask.dim() not in (2, 3):
        raise AssertionError(
            f"For {which} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
            f"found {attn_mask.dim()}-D tensor instead"
        )
    if rank == 2 and attn_mask is not None and attn_mask.dim() == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if tuple(attn_mask.shape) != expected:
            raise AssertionError(
                f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
            )
    return rank == 3


def _project(query, key, value, w, b, separate):
    """q, k, v from the packed (3E, E) weight, or from three separate weights."""
    biases = (None, None, None) if b is None else b.chunk(3)
    if separate is not None:
        weights = separate
    elif query is key and key is value:
        # Self-attention: one matmul for all three, split afterwards.
        return linear(query, w, b).chunk(3, dim=-1)
    else:
        weights = w.chunk(3)
    return tuple(linear(x, wi, bi) for x, wi, bi in zip((query, key, value), weights, biases))


def _split_heads(t, batch, num_heads):
    """(seq, batch, heads * d) -> (batch, heads, seq, d)."""
    return t.reshape(t.shape[0], batch, num_heads, -1).permute(1, 2, 0, 3)


def _attn_mask_4d(mask, batch, num_heads, tgt_len, src_len):
    """A 2-D (tgt, src) or 3-D (batch * heads, tgt, src) mask, checked, as a 4-D one."""
    expected = (tgt_len, src_len) if mask.dim() == 2 else (batch * num_heads, tgt_len, src_len)
    if tuple(mask.shape) != expected:
        raise RuntimeError(
            f"The shape of the {mask.dim()}D attn_mask is {mask.shape}, but should be "
            f"{expected}."
        )
    return mask.reshape(-1, 1 if mask.dim() == 2 else num_heads, tgt_len, src_len)


def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    if static_k is not None or static_v is not None:
        raise NotImplementedError("rtorch: static_k/static_v are not supported")
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        # Run as a batch of one; the batch dim is dropped from the results again.
        query, key, value = (t.unsqueeze(1) for t in (query, key, value))
        key_padding_mask = maybe(lambda m: m.unsqueeze(0), key_padding_mask)
    tgt_len, bsz, embed_dim = query.shape
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    # A causal hint lets attention build the mask itself, but only when nothing else needs
    # the explicit one (no padding to merge, no weights to return).
    implicit_causal = is_causal and key_padding_mask is None and not need_weights
    if implicit_causal:
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    separate = None
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(
                f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                f"{value.shape[:2]}"
            )
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    q, k, v = (
        _split_heads(t, bsz, num_heads)
        for t in _project(query, key, value, in_proj_weight, in_proj_bias, separate)
    )
    attn_mask = maybe(
        lambda m: _attn_mask_4d(m, bsz, num_heads, tgt_len, key.shape[0]), attn_mask
    )

    # Extra key/value positions every query may attend to: the learned biases, then zeros.
    if (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k and bias_v must both be set or both be None")
    extra = [] if bias_k is None else [(bias_k, bias_v)]
    if add_zero_attn:
        zero = torch.zeros(1, 1, embed_dim, dtype=k.dtype, device=k.device)
        extra.append((zero, zero))
    for ek, ev in extra:
        k = torch.cat([k, _split_heads(ek, 1, num_heads).expand(bsz, -1, -1, -1)], dim=2)
        v = torch.cat([v, _split_heads(ev, 1, num_heads).expand(bsz, -1, -1, -1)], dim=2)
    if extra:
        attn_mask = maybe(lambda m: pad(m, (0, len(extra))), attn_mask)
        key_padding_mask = maybe(lambda m: pad(m, (0, len(extra))), key_padding_mask)

    src_len = k.shape[2]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                f"{key_padding_mask.shape}"
            )
        padding = key_padding_mask.reshape(bsz, 1, 1, src_len)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    if not training:
        dropout_p = 0.0

    weights = None
    if need_weights:
        scores = torch.matmul(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = _softmax_impl(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = torch.matmul(weights, v)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    else:
        out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, implicit_causal)
    # Merge the heads back: (batch, heads, tgt, d) -> (tgt, batch, embed).
    out = out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not batched:
        out = out.squeeze(1)
        weights = maybe(lambda w: w.squeeze(0), weights)
    return out, weights
