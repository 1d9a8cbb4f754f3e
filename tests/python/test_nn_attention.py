"""MultiheadAttention and TransformerEncoder(Layer) against numpy."""

import math
import warnings

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn

RNG = np.random.default_rng(6)


def T(a, requires_grad=False):
    a = np.asarray(a)
    t = torch.tensor(a.tolist(), dtype=getattr(torch, str(a.dtype)))
    return t.requires_grad_(True) if requires_grad else t


def to_np(t):
    t = t.detach()
    try:
        return t.numpy()
    except Exception:
        return np.array(t.tolist())


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_mha(mha, q, k, v, key_padding_mask=None, attn_mask=None):
    """Time-major (L, N, E) inputs. Returns output and per-head weights (N, H, L, S)."""
    e, h = mha.embed_dim, mha.num_heads
    d = e // h
    if mha._qkv_same_embed_dim:
        wq, wk, wv = np.split(to_np(mha.in_proj_weight), 3)
    else:
        wq, wk, wv = (to_np(w) for w in (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight))
    bq, bk, bv = np.split(to_np(mha.in_proj_bias), 3)
    qp, kp, vp = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv
    L, N, _ = q.shape
    S = k.shape[0]
    split = lambda x, n: x.reshape(n, N, h, d).transpose(1, 2, 0, 3)  # noqa: E731
    qh, kh, vh = split(qp, L), split(kp, S), split(vp, S)
    scores = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(d)
    if attn_mask is not None:
        scores = scores + (
            np.where(attn_mask, -np.inf, 0) if attn_mask.dtype == bool else attn_mask
        )
    if key_padding_mask is not None:
        scores = scores + np.where(key_padding_mask, -np.inf, 0)[:, None, None, :]
    w = np_softmax(scores)
    out = (w @ vh).transpose(2, 0, 1, 3).reshape(L, N, e)
    out = out @ to_np(mha.out_proj.weight).T + to_np(mha.out_proj.bias)
    return out, w


def randomise(mod):
    with torch.no_grad():
        for p in mod.parameters():
            p.copy_(T(RNG.standard_normal(tuple(p.shape)) * 0.5))


def test_mha_parameters_and_init():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2)
    names = [n for n, _ in mha.named_parameters()]
    assert names == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert tuple(mha.in_proj_weight.shape) == (24, 8)
    assert np.all(to_np(mha.in_proj_bias) == 0) and np.all(to_np(mha.out_proj.bias) == 0)
    bound = math.sqrt(6 / (8 + 24))
    assert np.abs(to_np(mha.in_proj_weight)).max() <= bound
    assert mha.q_proj_weight is None
    assert repr(mha) == (
        "MultiheadAttention(\n"
        "  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, "
        "bias=True)\n)"
    )
    sep = nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert [n for n, _ in sep.named_parameters()][:4] == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "in_proj_bias",
    ]
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(7, 2)


def test_mha_self_attention_values():
    mha = nn.MultiheadAttention(8, 2).double()
    randomise(mha)
    x = RNG.standard_normal((5, 3, 8))
    out, w = mha(T(x), T(x), T(x))
    ref, ref_w = np_mha(mha, x, x, x)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(to_np(w), ref_w.mean(1), rtol=1e-9, atol=1e-12)
    _, w_all = mha(T(x), T(x), T(x), average_attn_weights=False)
    np.testing.assert_allclose(to_np(w_all), ref_w, rtol=1e-9, atol=1e-12)
    out2, none = mha(T(x), T(x), T(x), need_weights=False)
    assert none is None
    np.testing.assert_allclose(to_np(out2), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Support for mismatched")
def test_mha_masks_cross_attention_and_batch_first():
    mha = nn.MultiheadAttention(6, 3, batch_first=True).double()
    randomise(mha)
    q, kv = RNG.standard_normal((2, 4, 6)), RNG.standard_normal((2, 5, 6))
    kpm = np.array([[False, False, True, False, True], [False, False, False, False, True]])
    am = RNG.standard_normal((4, 5))
    out, w = mha(T(q), T(kv), T(kv), key_padding_mask=T(kpm), attn_mask=T(am))
    ref, ref_w = np_mha(mha, q.swapaxes(0, 1), kv.swapaxes(0, 1), kv.swapaxes(0, 1), kpm, am)
    np.testing.assert_allclose(to_np(out), ref.swapaxes(0, 1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(to_np(w), ref_w.mean(1), rtol=1e-9, atol=1e-12)
    bool_mask = RNG.random((4, 5)) > 0.7
    bool_mask[:, 0] = False
    out, _ = mha(T(q), T(kv), T(kv), attn_mask=T(bool_mask), need_weights=False)
    ref, _ = np_mha(mha, q.swapaxes(0, 1), kv.swapaxes(0, 1), kv.swapaxes(0, 1), None, bool_mask)
    np.testing.assert_allclose(to_np(out), ref.swapaxes(0, 1), rtol=1e-9, atol=1e-12)


def test_mha_kdim_vdim_and_unbatched():
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=5).double()
    randomise(mha)
    q, k, v = (
        RNG.standard_normal((3, 1, 4)),
        RNG.standard_normal((6, 1, 3)),
        RNG.standard_normal((6, 1, 5)),
    )
    out, _ = mha(T(q), T(k), T(v))
    ref, _ = np_mha(mha, q, k, v)
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-9, atol=1e-12)
    out_u, w_u = mha(T(q[:, 0]), T(k[:, 0]), T(v[:, 0]))
    assert tuple(out_u.shape) == (3, 4) and tuple(w_u.shape) == (3, 6)
    np.testing.assert_allclose(to_np(out_u), ref[:, 0], rtol=1e-9, atol=1e-12)


def test_mha_bias_kv_and_zero_attn_shapes():
    mha = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True)
    x = torch.randn(3, 2, 4)
    out, w = mha(x, x, x)
    assert tuple(out.shape) == (3, 2, 4)
    assert tuple(w.shape) == (2, 3, 5)


def test_mha_gradcheck():
    mha = nn.MultiheadAttention(4, 2).double()
    randomise(mha)
    kpm = T(np.array([[False, True, False]]))
    fn = lambda q, k: mha(q, k, k, key_padding_mask=kpm)[0]  # noqa: E731
    assert torch.autograd.gradcheck(
        fn,
        (T(RNG.standard_normal((2, 1, 4)), True), T(RNG.standard_normal((3, 1, 4)), True)),
        eps=1e-6,
        atol=1e-4,
    )


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps) * w + b


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_numpy(norm_first, activation):
    layer = nn.TransformerEncoderLayer(
        8,
        2,
        dim_feedforward=16,
        dropout=0.0,
        activation=activation,
        norm_first=norm_first,
        batch_first=True,
    ).double()
    randomise(layer)
    x = RNG.standard_normal((2, 5, 8))
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    out = layer(T(x), src_mask=T(mask))

    def sa(z):
        o, _ = np_mha(
            layer.self_attn, z.swapaxes(0, 1), z.swapaxes(0, 1), z.swapaxes(0, 1), attn_mask=mask
        )
        return o.swapaxes(0, 1)

    def ff(z):
        hdn = z @ to_np(layer.linear1.weight).T + to_np(layer.linear1.bias)
        if activation == "relu":
            hdn = np.maximum(hdn, 0)
        else:
            hdn = 0.5 * hdn * (1 + np.vectorize(math.erf)(hdn / math.sqrt(2)))
        return hdn @ to_np(layer.linear2.weight).T + to_np(layer.linear2.bias)

    n1 = lambda z: np_layer_norm(z, to_np(layer.norm1.weight), to_np(layer.norm1.bias))  # noqa
    n2 = lambda z: np_layer_norm(z, to_np(layer.norm2.weight), to_np(layer.norm2.bias))  # noqa
    if norm_first:
        y = x + sa(n1(x))
        y = y + ff(n2(y))
    else:
        y = n1(x + sa(x))
        y = n2(y + ff(y))
    np.testing.assert_allclose(to_np(out), y, rtol=1e-8, atol=1e-10)


def test_encoder_stack_and_repr():
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = nn.TransformerEncoder(layer, 2)
    assert any("enable_nested_tensor" in str(w.message) for w in caught)
    assert enc.layers[0] is not layer and enc.layers[0].linear1.weight is not layer.linear1.weight
    np.testing.assert_array_equal(to_np(enc.layers[1].linear1.weight), to_np(layer.linear1.weight))
    assert len(list(enc.parameters())) == 2 * len(list(layer.parameters()))
    enc.eval()
    x = torch.randn(5, 3, 4)
    out = enc(x, src_key_padding_mask=T(np.zeros((3, 5), bool)))
    assert tuple(out.shape) == (5, 3, 4)
    ref = layer.eval()(layer.eval()(x))
    np.testing.assert_allclose(to_np(out), to_np(ref), rtol=1e-5, atol=1e-6)
    text = repr(nn.TransformerEncoder(layer, 2, enable_nested_tensor=False))
    assert text.startswith(
        "TransformerEncoder(\n  (layers): ModuleList(\n    (0-1): 2 x TransformerEncoderLayer(\n"
        "      (self_attn): MultiheadAttention(\n"
    )
    assert "      (norm1): LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)\n" in text
    assert "      (dropout): Dropout(p=0.1, inplace=False)\n" in text
