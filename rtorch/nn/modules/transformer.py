"""MultiheadAttention and the Transformer encoder/decoder stacks.

An encoder layer is two residual sublayers (self-attention, then feed-forward), each
wrapped the same way: pre-norm `x + f(norm(x))` or post-norm `norm(x + f(x))`. A decoder
layer inserts a third, cross-attention over the encoder's output, between the two.
"""

import copy
import warnings

import rtorch as torch

from .. import functional as F
from ..init import constant_, xavier_normal_, xavier_uniform_
from ..parameter import Parameter
from .activation import GELU, ReLU
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear, NonDynamicallyQuantizableLinear
from .module import Module
from .normalization import LayerNorm

__all__ = [
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]

_PROJECTIONS = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


def _masks(padding, padding_name, mask, mask_name, dtype):
    """Both masks in float additive form (or None), warning when their kinds differ."""
    padding = F._canonical_mask(padding, padding_name, F._none_or_dtype(mask), mask_name, dtype)
    mask = F._canonical_mask(mask, mask_name, None, "", dtype, False)
    return padding, mask


def _swap_batch_and_time(*tensors):
    """Transposes dims 0 and 1 of each distinct tensor once, so aliased arguments stay
    aliased (attention projects q/k/v in one matmul when all three are the same tensor)."""
    swapped = {}
    for t in tensors:
        if id(t) not in swapped:
            swapped[id(t)] = t.transpose(0, 1)
    return [swapped[id(t)] for t in tensors]


class MultiheadAttention(Module):
    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        device=None,
        dtype=None,
    ):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        super().__init__()
        where = {"device": device, "dtype": dtype}

        def fresh(*shape):
            return Parameter(torch.empty(shape, **where))

        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        # One packed (3E, E) projection when keys and values share the query's width.
        self._qkv_same_embed_dim = self.kdim == self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")

        if self._qkv_same_embed_dim:
            projections = {"in_proj_weight": fresh(3 * embed_dim, embed_dim)}
        else:
            projections = {
                "q_proj_weight": fresh(embed_dim, embed_dim),
                "k_proj_weight": fresh(embed_dim, self.kdim),
                "v_proj_weight": fresh(embed_dim, self.vdim),
            }
        # The created projections first, then the unused ones as None (PyTorch's order).
        for name in sorted(_PROJECTIONS, key=lambda n: n not in projections):
            self.register_parameter(name, projections.get(name))
        self.register_parameter("in_proj_bias", fresh(3 * embed_dim) if bias else None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **where)
        if add_bias_kv:
            self.bias_k = fresh(1, 1, embed_dim)
            self.bias_v = fresh(1, 1, embed_dim)
        else:
            self.bias_k = None
            self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        for name in _PROJECTIONS:
            weight = getattr(self, name)
            if weight is not None:
                xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            constant_(self.in_proj_bias, 0.0)
            constant_(self.out_proj.bias, 0.0)
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                xavier_normal_(extra)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        key_padding_mask, attn_mask = _masks(
            key_padding_mask, "key_padding_mask", attn_mask, "attn_mask", query.dtype
        )
        # The functional form is time-major.
        swap = self.batch_first and query.dim() == 3
        if swap:
            query, key, value = _swap_batch_and_time(query, key, value)
        separate = {}
        if not self._qkv_same_embed_dim:
            separate = {name: getattr(self, name) for name in _PROJECTIONS[1:]}
            separate["use_separate_proj_weight"] = True
        out, weights = F.multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            **separate,
        )
        return (out.transpose(0, 1) if swap else out), weights


# Activation names accepted by the encoder layer, and the code recorded for the fused paths
# (1 = relu, 2 = gelu, 0 = anything else).
_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _resolve_activation(activation):
    if not isinstance(activation, str):
        return activation
    if activation not in _ACTIVATIONS:
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    return _ACTIVATIONS[activation]


def _activation_code(fn):
    if fn is F.relu or isinstance(fn, ReLU):
        return 1
    if fn is F.gelu or isinstance(fn, GELU):
        return 2
    return 0


def _causal_mask(size, device=None, dtype=None):
    """Float (size, size) mask: -inf strictly above the diagonal, 0 elsewhere."""
    blocked = torch.full((size, size), float("-inf"), dtype=dtype, device=device)
    return torch.triu(blocked, diagonal=1)


def _infer_causal(mask, is_causal, seq_len):
    """`is_causal=None` means: causal exactly when `mask` equals the causal mask."""
    if is_causal is not None or mask is None:
        return is_causal is True
    size = mask.size(-2) if seq_len is None else seq_len
    reference = _causal_mask(size, device=mask.device, dtype=mask.dtype)
    return tuple(mask.shape) == tuple(reference.shape) and bool((mask == reference).all())


class TransformerEncoderLayer(Module):
    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation=F.relu,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        where = {"device": device, "dtype": dtype}

        def norm():
            return LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where)

        # Registration order fixes the repr and state_dict order.
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **where
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **where)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **where)
        self.norm_first = norm_first
        self.norm1 = norm()
        self.norm2 = norm()
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _resolve_activation(activation)
        self.activation_relu_or_gelu = _activation_code(self.activation)

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "activation"):
            # Pickles from before `activation` was configurable.
            self.activation = F.relu

    def _residual(self, x, norm, branch):
        if self.norm_first:
            return x + branch(norm(x))
        return norm(x + branch(x))

    def _attention_branch(self, x, mask, padding, is_causal):
        attended, _ = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=padding,
            need_weights=False,
            is_causal=is_causal,
        )
        return self.dropout1(attended)

    def _feed_forward_branch(self, x):
        hidden = self.dropout(self.activation(self.linear1(x)))
        return self.dropout2(self.linear2(hidden))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        padding, mask = _masks(
            src_key_padding_mask, "src_key_padding_mask", src_mask, "src_mask", src.dtype
        )
        x = self._residual(
            src, self.norm1, lambda y: self._attention_branch(y, mask, padding, is_causal)
        )
        return self._residual(x, self.norm2, self._feed_forward_branch)


class TransformerEncoder(Module):
    def __init__(
        self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True
    ):
        super().__init__()
        self.layers = ModuleList(copy.deepcopy(encoder_layer) for _ in range(num_layers))
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        # Nested tensors are not implemented: the sparsity fast path is always off.
        self.use_nested_tensor = False
        self.mask_check = mask_check
        reason = _nested_tensor_blocker(encoder_layer)
        if enable_nested_tensor and reason:
            warnings.warn(
                f"enable_nested_tensor is True, but self.use_nested_tensor is False because "
                f"{reason}",
                stacklevel=2,
            )

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        padding, mask = _masks(src_key_padding_mask, "src_key_padding_mask", mask, "mask", src.dtype)
        seq_len = None
        if src.dim() == 2:
            seq_len = src.size(0)
        elif src.dim() == 3:
            seq_len = src.size(1 if self.layers[0].self_attn.batch_first else 0)
        is_causal = _infer_causal(mask, is_causal, seq_len)
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=padding, is_causal=is_causal)
        return out if self.norm is None else self.norm(out)


# Conditions under which PyTorch's nested-tensor fast path would be refused, with the
# reason it reports; the first that holds is named in the warning.
_NESTED_BLOCKERS = [
    (lambda layer: layer.norm_first, "norm_first was True"),
    (
        lambda layer: not layer.self_attn.batch_first,
        "self_attn.batch_first was not True(use batch_first for better inference performance)",
    ),
    (
        lambda layer: not layer.self_attn._qkv_same_embed_dim,
        "self_attn._qkv_same_embed_dim was not True",
    ),
    (lambda layer: layer.self_attn.in_proj_bias is None, "self_attn was passed bias=False"),
    (lambda layer: not layer.activation_relu_or_gelu, "activation_relu_or_gelu was not True"),
    (
        lambda layer: layer.norm1.eps != layer.norm2.eps,
        "norm1.eps was not equal to encoder_layer.norm2.eps",
    ),
    (lambda layer: layer.self_attn.num_heads % 2 == 1, "self_attn.num_heads is odd"),
]


def _nested_tensor_blocker(layer):
    if not isinstance(layer, TransformerEncoderLayer):
        return "encoder_layer was not TransformerEncoderLayer"
    for blocked, reason in _NESTED_BLOCKERS:
        if blocked(layer):
            return f"encoder_layer.{reason}"
    return ""


def _time_steps(x, batch_first):
    """Sequence length of an (L, E), (L, N, E) or (N, L, E) input; None for other ranks."""
    if x.dim() == 2:
        return x.size(0)
    if x.dim() == 3:
        return x.size(1 if batch_first else 0)
    return None


class TransformerDecoderLayer(Module):
    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation=F.relu,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        where = {"device": device, "dtype": dtype}

        def attention():
            return MultiheadAttention(
                d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **where
            )

        def norm():
            return LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where)

        # Registration order fixes the repr and state_dict order.
        self.self_attn = attention()
        self.multihead_attn = attention()
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **where)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **where)
        self.norm_first = norm_first
        self.norm1 = norm()
        self.norm2 = norm()
        self.norm3 = norm()
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _resolve_activation(activation)

    def __setstate__(self, state):
        if "activation" not in state:
            state["activation"] = F.relu
        super().__setstate__(state)

    def _residual(self, x, norm, branch):
        if self.norm_first:
            return x + branch(norm(x))
        return norm(x + branch(x))

    def forward(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=False,
        memory_is_causal=False,
    ):
        def self_attention(y):
            out, _ = self.self_attn(
                y,
                y,
                y,
                attn_mask=tgt_mask,
                key_padding_mask=tgt_key_padding_mask,
                need_weights=False,
                is_causal=tgt_is_causal,
            )
            return self.dropout1(out)

        def cross_attention(y):
            out, _ = self.multihead_attn(
                y,
                memory,
                memory,
                attn_mask=memory_mask,
                key_padding_mask=memory_key_padding_mask,
                need_weights=False,
                is_causal=memory_is_causal,
            )
            return self.dropout2(out)

        def feed_forward(y):
            hidden = self.dropout(self.activation(self.linear1(y)))
            return self.dropout3(self.linear2(hidden))

        x = self._residual(tgt, self.norm1, self_attention)
        x = self._residual(x, self.norm2, cross_attention)
        return self._residual(x, self.norm3, feed_forward)


class TransformerDecoder(Module):
    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = ModuleList(copy.deepcopy(decoder_layer) for _ in range(num_layers))
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt,
        memory,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal=None,
        memory_is_causal=False,
    ):
        batch_first = self.layers[0].self_attn.batch_first if len(self.layers) else False
        tgt_is_causal = _infer_causal(tgt_mask, tgt_is_causal, _time_steps(tgt, batch_first))
        masks = (tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, *masks, tgt_is_causal, memory_is_causal)
        return out if self.norm is None else self.norm(out)


class Transformer(Module):
    def __init__(
        self,
        d_model=512,
        nhead=8,
        num_encoder_layers=6,
        num_decoder_layers=6,
        dim_feedforward=2048,
        dropout=0.1,
        activation=F.relu,
        custom_encoder=None,
        custom_decoder=None,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        where = {"device": device, "dtype": dtype}
        shared = dict(
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
            **where,
        )

        def final_norm():
            return LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where)

        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **shared)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, final_norm())
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **shared)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, final_norm())
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self):
        # Every matrix (custom encoder/decoder included) gets Glorot-uniform weights.
        for p in self.parameters():
            if p.dim() > 1:
                xavier_uniform_(p)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """Float (sz, sz) causal mask: -inf above the diagonal, 0.0 on and below it."""
        if dtype is None:
            dtype = torch.get_default_dtype()
        return _causal_mask(sz, device=device, dtype=dtype)

    def forward(
        self,
        src,
        tgt,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal=None,
        tgt_is_causal=None,
        memory_is_causal=False,
    ):
        if src.dim() == 3:
            batch_dim = 0 if self.batch_first else 1
            if src.size(batch_dim) != tgt.size(batch_dim):
                raise RuntimeError("the batch number of src and tgt must be equal")
        if {src.size(-1), tgt.size(-1)} != {self.d_model}:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        masks = (tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)
        return self.decoder(tgt, memory, *masks, tgt_is_causal, memory_is_causal)
