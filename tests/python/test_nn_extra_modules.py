"""Transformer decoder stack, padding / shuffle / upsampling / fold layers, the pixel and
channel shuffle functionals, and nn.utils.rnn packing (with packed input to the RNNs).

Values are checked against numpy first; the `_torch()` tests compare with PyTorch side by
side (copied weights) and are skipped when it is not installed.
"""

import warnings

import numpy as np
import pytest

import rtorch
import rtorch.nn as nn
import rtorch.nn.functional as F
from rtorch.autograd import gradcheck
from rtorch.nn.utils import rnn as rnn_utils

RNG = np.random.default_rng(10)


def T(a, requires_grad=False):
    a = np.asarray(a)
    t = rtorch.tensor(a.tolist(), dtype=getattr(rtorch, str(a.dtype)))
    return t.requires_grad_(True) if requires_grad else t


def to_np(t):
    return np.array(t.detach().tolist())


def randn(*shape):
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------- module paths
@pytest.mark.parametrize(
    "path,names",
    [
        ("padding", ["ZeroPad2d", "ConstantPad1d", "ReflectionPad3d", "CircularPad2d"]),
        ("pixelshuffle", ["PixelShuffle", "PixelUnshuffle"]),
        ("channelshuffle", ["ChannelShuffle"]),
        ("upsampling", ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]),
        ("fold", ["Fold", "Unfold"]),
        ("transformer", ["TransformerDecoderLayer", "TransformerDecoder", "Transformer"]),
    ],
)
def test_layers_live_at_pytorchs_module_paths(path, names):
    import importlib

    module = importlib.import_module(f"rtorch.nn.modules.{path}")
    for name in names:
        assert getattr(module, name) is getattr(nn, name)


# ---------------------------------------------------------------- padding vs numpy
@pytest.mark.parametrize(
    "layer,np_mode,dims",
    [
        (nn.ReflectionPad1d, "reflect", 1),
        (nn.ReflectionPad2d, "reflect", 2),
        (nn.ReflectionPad3d, "reflect", 3),
        (nn.ReplicationPad1d, "edge", 1),
        (nn.ReplicationPad2d, "edge", 2),
        (nn.ReplicationPad3d, "edge", 3),
        (nn.CircularPad1d, "wrap", 1),
        (nn.CircularPad2d, "wrap", 2),
        (nn.CircularPad3d, "wrap", 3),
    ],
)
def test_border_padding_matches_numpy(layer, np_mode, dims):
    x = randn(2, 2, *([4] * dims))
    amounts = [(1, 2), (2, 0), (0, 3)][:dims]
    flat = tuple(v for pair in amounts for v in pair)
    widths = [(0, 0), (0, 0)] + list(reversed(amounts))
    np.testing.assert_allclose(to_np(layer(flat)(T(x))), np.pad(x, widths, mode=np_mode))
    # Unbatched (C, *spatial) input pads the same way.
    np.testing.assert_allclose(to_np(layer(flat)(T(x[0]))), np.pad(x[0], widths[1:], np_mode))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_constant_and_zero_padding_match_numpy(dims):
    x = randn(2, *([3] * dims))
    widths = [(0, 0)] + [(1, 2)] * dims
    got = getattr(nn, f"ConstantPad{dims}d")((1, 2) * dims, 3.5)(T(x))
    np.testing.assert_allclose(to_np(got), np.pad(x, widths, constant_values=3.5))
    got = getattr(nn, f"ZeroPad{dims}d")(2)(T(x))
    np.testing.assert_allclose(to_np(got), np.pad(x, [(0, 0)] + [(2, 2)] * dims))


def test_negative_constant_padding_crops():
    x = randn(3, 5)
    np.testing.assert_allclose(to_np(nn.ConstantPad1d((-1, 2), 0.0)(T(x)))[:, :4], x[:, 1:])


def test_padding_attributes_and_reprs():
    assert nn.ZeroPad2d((1, 2, 3, 4)).padding == (1, 2, 3, 4)
    assert nn.ZeroPad2d([1, 2, 3, 4]).padding == (1, 2, 3, 4)
    assert nn.ReplicationPad3d(1).padding == (1,) * 6
    assert nn.ZeroPad1d(2).value == 0.0
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d)
    assert repr(nn.ZeroPad1d(2)) == "ZeroPad1d((2, 2))"
    assert repr(nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
    assert repr(nn.ReflectionPad2d((1, 1, 2, 0))) == "ReflectionPad2d((1, 1, 2, 0))"
    assert repr(nn.CircularPad2d(1)) == "CircularPad2d((1, 1, 1, 1))"
    assert nn.ZeroPad2d(1).state_dict() == {}


def test_padding_bad_inputs():
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D"):
        nn.ReflectionPad1d(2)(T(randn(5)))
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D"):
        nn.ReplicationPad1d(1)(T(randn(2, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 1D input\)"):
        nn.CircularPad1d(1)(T(randn(2)))
    with pytest.raises(ValueError, match=r"expected 4D or 5D input \(got 3D input\)"):
        nn.CircularPad3d(1)(T(randn(2, 2, 2)))
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        nn.ZeroPad2d((1, 2, 3))(T(randn(1, 2, 3)))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        nn.ReflectionPad1d(3)(T(randn(1, 2, 3)))


def test_padding_gradients():
    x = T(randn(1, 2, 3, 4), requires_grad=True)
    assert gradcheck(lambda v: nn.ReflectionPad2d((2, 1, 1, 2))(v), (x,))
    assert gradcheck(lambda v: nn.ReplicationPad2d(2)(v), (x,))
    assert gradcheck(lambda v: nn.CircularPad2d((1, 2, 0, 1))(v), (x,))


# ---------------------------------------------------------------- shuffles vs numpy
def _np_pixel_shuffle(x, r):
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 2), 2), ((2, 2, 9, 3, 2), 3), ((4, 2, 3), 2)])
def test_pixel_shuffle_round_trip_matches_numpy(shape, r):
    x = randn(*shape)
    y = F.pixel_shuffle(T(x), r)
    np.testing.assert_allclose(to_np(y), _np_pixel_shuffle(x, r))
    np.testing.assert_allclose(to_np(F.pixel_unshuffle(y, r)), x)
    np.testing.assert_allclose(to_np(nn.PixelShuffle(r)(T(x))), _np_pixel_shuffle(x, r))
    np.testing.assert_allclose(to_np(nn.PixelUnshuffle(r)(y)), x)


def test_pixel_shuffle_places_each_channel_in_its_tile():
    x = np.arange(4.0).reshape(1, 4, 1, 1)
    np.testing.assert_array_equal(to_np(F.pixel_shuffle(T(x), 2)), [[[[0.0, 1.0], [2.0, 3.0]]]])


def test_channel_shuffle_matches_numpy():
    x = randn(2, 6, 2, 3)
    expected = x.reshape(2, 3, 2, 2, 3).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    np.testing.assert_allclose(to_np(F.channel_shuffle(T(x), 3)), expected)
    np.testing.assert_allclose(to_np(nn.ChannelShuffle(3)(T(x))), expected)
    got = to_np(F.native_channel_shuffle(T(np.arange(6.0).reshape(1, 6, 1)), 2)).ravel()
    np.testing.assert_array_equal(got, [0, 3, 1, 4, 2, 5])


def test_shuffle_gradchecks():
    x = T(randn(2, 8, 2, 3), requires_grad=True)
    assert gradcheck(lambda v: F.pixel_shuffle(v, 2), (x,))
    assert gradcheck(lambda v: F.channel_shuffle(v, 4), (x,))
    y = T(randn(1, 2, 4, 6), requires_grad=True)
    assert gradcheck(lambda v: F.pixel_unshuffle(v, 2), (y,))


@pytest.mark.parametrize(
    "fn,exc,pattern",
    [
        (lambda: F.pixel_shuffle(T(randn(1, 8, 2, 3)), 3), RuntimeError, "divisible by 9"),
        (lambda: F.pixel_shuffle(T(randn(4, 2)), 2), RuntimeError, "at least 3 dimensions"),
        (lambda: F.pixel_shuffle(T(randn(1, 4, 2, 2)), 0), RuntimeError, "positive upscale"),
        (lambda: F.pixel_shuffle(T(randn(1, 4, 2, 2)), 2.0), TypeError, "must be int"),
        (lambda: F.pixel_unshuffle(T(randn(1, 8, 2, 3)), 2), RuntimeError, "width to be"),
        (lambda: F.pixel_unshuffle(T(randn(2, 3, 5)), 2), RuntimeError, "height to be"),
        (lambda: F.pixel_unshuffle(T(randn(2, 4, 4)), -1), RuntimeError, "positive downscale"),
        (lambda: F.channel_shuffle(T(randn(1, 8, 2)), 3), RuntimeError, "8 channels and 3"),
        (lambda: F.channel_shuffle(T(randn(2, 8)), 2), RuntimeError, "> 2 dims"),
        (lambda: F.channel_shuffle(T(randn(2, 8, 1)), 0), RuntimeError, "must be positive"),
    ],
)
def test_shuffle_bad_inputs(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_shuffle_reprs():
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    assert repr(nn.ChannelShuffle(2)) == "ChannelShuffle(groups=2)"


# ---------------------------------------------------------------- upsampling and fold
def test_upsample_nearest_matches_numpy_repeat():
    x = randn(1, 2, 3, 2)
    expected = x.repeat(2, axis=2).repeat(2, axis=3)
    np.testing.assert_allclose(to_np(nn.Upsample(scale_factor=2)(T(x))), expected)
    np.testing.assert_allclose(to_np(nn.UpsamplingNearest2d(scale_factor=2)(T(x))), expected)


def test_upsampling_bilinear_aligns_corners():
    x = np.array([[[[0.0, 2.0], [4.0, 6.0]]]])
    got = to_np(nn.UpsamplingBilinear2d(size=3)(T(x)))
    np.testing.assert_allclose(got[0, 0], [[0, 1, 2], [2, 3, 4], [4, 5, 6]])


def test_upsample_attributes_and_reprs():
    up = nn.Upsample(scale_factor=2)
    assert (up.name, up.scale_factor, up.mode, up.align_corners) == (
        "Upsample",
        2.0,
        "nearest",
        None,
    )
    assert repr(up) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert (
        repr(nn.Upsample(size=(3, 4), mode="bilinear")) == "Upsample(size=(3, 4), mode='bilinear')"
    )
    assert nn.Upsample(scale_factor=(2, 3)).scale_factor == (2.0, 3.0)
    assert repr(nn.UpsamplingBilinear2d(size=4)) == "UpsamplingBilinear2d(size=4, mode='bilinear')"
    assert nn.UpsamplingBilinear2d(size=4).align_corners is True
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        nn.Upsample()(T(randn(1, 1, 2, 2)))


def test_deprecated_upsample_functionals_warn():
    x = T(randn(1, 1, 2, 2))
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        y = F.upsample_nearest(x, scale_factor=2)
    assert tuple(y.shape) == (1, 1, 4, 4)
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        y = F.upsample_bilinear(x, size=3)
    np.testing.assert_allclose(to_np(y), to_np(nn.UpsamplingBilinear2d(size=3)(x)))


def test_fold_inverts_unfold_on_non_overlapping_blocks():
    x = randn(2, 3, 4, 6)
    blocks = nn.Unfold(2, stride=2)(T(x))
    assert tuple(blocks.shape) == (2, 12, 6)
    np.testing.assert_allclose(to_np(nn.Fold((4, 6), 2, stride=2)(blocks)), x)
    assert (
        repr(nn.Fold(4, 2)) == "Fold(output_size=4, kernel_size=2, dilation=1, padding=0, stride=1)"
    )
    assert repr(nn.Unfold((2, 3), padding=1)) == (
        "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
    )


# ---------------------------------------------------------------- transformer
def _decoder_layer(**kw):
    return nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **kw).double()


def test_decoder_layer_layout_and_repr():
    layer = nn.TransformerDecoderLayer(8, 2, 16)
    keys = list(layer.state_dict())
    assert keys[:4] == [
        "self_attn.in_proj_weight",
        "self_attn.in_proj_bias",
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
    ]
    assert keys[4] == "multihead_attn.in_proj_weight"
    assert keys[-6:] == [f"norm{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]
    names = [name for name, _ in layer.named_children()]
    assert names == [
        "self_attn",
        "multihead_attn",
        "linear1",
        "dropout",
        "linear2",
        "norm1",
        "norm2",
        "norm3",
        "dropout1",
        "dropout2",
        "dropout3",
    ]
    assert "(dropout3): Dropout(p=0.1, inplace=False)" in repr(layer)


def test_decoder_layer_post_norm_by_hand():
    layer = _decoder_layer()
    tgt, memory = T(randn(3, 2, 8)), T(randn(4, 2, 8))

    def attend(mha, q, kv):
        return mha(q, kv, kv, need_weights=False)[0]

    x = layer.norm1(tgt + attend(layer.self_attn, tgt, tgt))
    x = layer.norm2(x + attend(layer.multihead_attn, x, memory))
    x = layer.norm3(x + layer.linear2(F.relu(layer.linear1(x))))
    np.testing.assert_allclose(to_np(layer(tgt, memory)), to_np(x), atol=1e-12)


def test_decoder_causal_mask_keeps_the_past_independent_of_the_future():
    dec = nn.TransformerDecoder(_decoder_layer(norm_first=True), 2).eval()
    tgt, memory = randn(5, 1, 8), T(randn(4, 1, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=rtorch.float64)
    changed = tgt.copy()
    changed[3:] += 1.0
    a = to_np(dec(T(tgt), memory, tgt_mask=mask))
    b = to_np(dec(T(changed), memory, tgt_mask=mask))
    np.testing.assert_allclose(a[:3], b[:3], atol=1e-12)
    assert not np.allclose(a[3:], b[3:])


def test_generate_square_subsequent_mask():
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.dtype == rtorch.float32
    expected = np.array([[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    np.testing.assert_array_equal(to_np(mask), expected)
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=rtorch.float64).dtype == (
        rtorch.float64
    )


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_bool_and_float_masks_agree():
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0).double()
    src, tgt = T(randn(4, 2, 8)), T(randn(3, 2, 8))
    blocked = np.triu(np.ones((3, 3), dtype=bool), 1)
    a = model(src, tgt, tgt_mask=T(blocked))
    b = model(
        src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3, dtype=rtorch.float64)
    )
    np.testing.assert_allclose(to_np(a), to_np(b), atol=1e-12)


def test_transformer_layout_batch_first_and_custom_parts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nn.Transformer(8, 2, 2, 1, 16, batch_first=True)
    keys = list(model.state_dict())
    assert keys[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert "encoder.norm.weight" in keys and "decoder.norm.bias" in keys
    assert "decoder.layers.0.multihead_attn.out_proj.weight" in keys
    assert (model.d_model, model.nhead, model.batch_first) == (8, 2, True)
    out = model(T(randn(2, 5, 8).astype(np.float32)), T(randn(2, 3, 8).astype(np.float32)))
    assert tuple(out.shape) == (2, 3, 8)

    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1, enable_nested_tensor=False)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 1)
    custom = nn.Transformer(8, 2, custom_encoder=enc, custom_decoder=dec)
    assert custom.encoder is enc and custom.decoder is dec
    assert "encoder.norm.weight" not in custom.state_dict()


def test_transformer_bad_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(T(randn(3, 2, 8).astype(np.float32)), T(randn(4, 3, 8).astype(np.float32)))
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal"):
        model(T(randn(3, 2, 8).astype(np.float32)), T(randn(4, 2, 6).astype(np.float32)))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_backward_reaches_every_parameter():
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0).double()
    model(T(randn(4, 2, 8)), T(randn(3, 2, 8))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


# ---------------------------------------------------------------- nn.utils.rnn
def _seqs(lengths, width=3):
    return [randn(n, width) for n in lengths]


def test_pack_sequence_layout_by_hand():
    a, b, c = T([1.0, 2.0, 3.0]), T([4.0, 5.0]), T([6.0])
    packed = rnn_utils.pack_sequence([b, a, c], enforce_sorted=False)
    assert packed.data.tolist() == [1.0, 4.0, 6.0, 2.0, 5.0, 3.0]
    assert packed.batch_sizes.tolist() == [3, 2, 1]
    assert packed.batch_sizes.dtype == rtorch.int64
    assert packed.sorted_indices.tolist() == [1, 0, 2]
    assert packed.unsorted_indices.tolist() == [1, 0, 2]
    padded, lengths = rnn_utils.pad_packed_sequence(
        packed, batch_first=True, padding_value=-1, total_length=4
    )
    assert padded.tolist() == [[4, 5, -1, -1], [1, 2, 3, -1], [6, -1, -1, -1]]
    assert lengths.tolist() == [2, 3, 1]


def test_packed_sequence_is_a_namedtuple():
    packed = rnn_utils.pack_sequence([T([1.0, 2.0]), T([3.0])])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert sorted_indices is None and unsorted_indices is None
    assert packed.double().data.dtype == rtorch.float64
    assert isinstance(packed.to(rtorch.float64), rnn_utils.PackedSequence)
    assert packed.is_cuda is False
    same = rnn_utils.PackedSequence(data, batch_sizes)
    assert same.batch_sizes.tolist() == [2, 1]


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_matches_numpy(side, batch_first):
    seqs = _seqs([2, 4, 1])
    rows = []
    for s in seqs:
        fill = np.full((4 - len(s), 3), 7.0)
        rows.append(np.concatenate([s, fill] if side == "right" else [fill, s]))
    expected = np.stack(rows, 0 if batch_first else 1)
    got = rnn_utils.pad_sequence([T(s) for s in seqs], batch_first, 7.0, side)
    np.testing.assert_allclose(to_np(got), expected)


def test_pack_unpack_round_trip_and_gradient():
    seqs = _seqs([2, 5, 1, 3])
    tensors = [T(s, requires_grad=True) for s in seqs]
    packed = rnn_utils.pack_sequence(tensors, enforce_sorted=False)
    back = rnn_utils.unpack_sequence(packed)
    for s, r in zip(seqs, back):
        np.testing.assert_allclose(to_np(r), s)
    sum(r.sum() * (i + 1) for i, r in enumerate(back)).backward()
    for i, t in enumerate(tensors):
        np.testing.assert_allclose(to_np(t.grad), np.full(t.shape, i + 1.0))
    padded = rnn_utils.pad_sequence(tensors)
    for s, r in zip(seqs, rnn_utils.unpad_sequence(padded, T([2, 5, 1, 3]))):
        np.testing.assert_allclose(to_np(r), s)


def test_pack_gradcheck():
    x = T(randn(4, 3, 2), requires_grad=True)
    lengths = [3, 4, 1]

    def round_trip(v):
        packed = rnn_utils.pack_padded_sequence(v, lengths, enforce_sorted=False)
        return rnn_utils.pad_packed_sequence(packed)[0]

    assert gradcheck(round_trip, (x,))


@pytest.mark.parametrize(
    "fn,exc,pattern",
    [
        (
            lambda: rnn_utils.pack_padded_sequence(T(randn(3, 2, 4)), [2, 3]),
            RuntimeError,
            "must be sorted in decreasing order",
        ),
        (
            lambda: rnn_utils.pack_padded_sequence(T(randn(3, 2, 4)), [0, 3], enforce_sorted=False),
            RuntimeError,
            "has to be greater than 0",
        ),
        (
            lambda: rnn_utils.pack_padded_sequence(T(randn(3, 2, 4)), [3, 3, 3]),
            RuntimeError,
            r"got 3 \(batch_size=2\)",
        ),
        (
            lambda: rnn_utils.pad_packed_sequence(
                rnn_utils.pack_sequence([T([1.0, 2.0, 3.0])]), total_length=2
            ),
            ValueError,
            "total_length=2 and max sequence length being 3",
        ),
        (lambda: rnn_utils.pad_sequence([T([1.0])], padding_side="mid"), RuntimeError, "mid"),
        (lambda: rnn_utils.pad_sequence([]), RuntimeError, "empty list of sequences"),
    ],
)
def test_packing_bad_inputs(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_recurrent_layers_on_packed_input_match_per_sequence_runs(cls):
    layer = cls(3, 4, num_layers=2, bidirectional=True).double()
    seqs = _seqs([2, 5, 1])
    out, hidden = layer(rnn_utils.pack_sequence([T(s) for s in seqs], enforce_sorted=False))
    assert isinstance(out, rnn_utils.PackedSequence)
    padded, lengths = rnn_utils.pad_packed_sequence(out)
    assert lengths.tolist() == [2, 5, 1]
    h_n = hidden[0] if cls is nn.LSTM else hidden
    for b, s in enumerate(seqs):
        alone, alone_hidden = layer(T(s)[:, None])
        np.testing.assert_allclose(to_np(padded[: len(s), b]), to_np(alone[:, 0]), atol=1e-12)
        assert np.all(to_np(padded[len(s) :, b]) == 0)
        alone_h = alone_hidden[0] if cls is nn.LSTM else alone_hidden
        np.testing.assert_allclose(to_np(h_n[:, b]), to_np(alone_h[:, 0]), atol=1e-12)


# ---------------------------------------------------------------- against PyTorch
def _torch():
    ref = pytest.importorskip("torch")
    if ref is rtorch:  # pragma: no cover
        pytest.skip("PyTorch is rtorch here")
    return ref


def _from(t):
    return T(t.detach().numpy())


def _same_params(t_mod, r_mod):
    r_mod.load_state_dict({k: _from(v) for k, v in t_mod.state_dict().items()})


def _close(r, t, atol=1e-10):
    np.testing.assert_allclose(to_np(r), t.detach().numpy(), rtol=1e-7, atol=atol)


_LAYERS = [
    ("ZeroPad2d", ((1, 2, 0, 3),), (2, 3, 4)),
    ("ConstantPad3d", (1, 3), (1, 2, 2, 2, 2)),
    ("ReflectionPad2d", ((1, 2, 0, 3),), (1, 3, 4, 5)),
    ("ReplicationPad3d", ((1, 0, 2, 1, 0, 3),), (2, 3, 3, 2)),
    ("CircularPad1d", (2,), (2, 3, 4)),
    ("PixelShuffle", (3,), (2, 2, 9, 3, 2)),
    ("PixelUnshuffle", (2,), (2, 2, 4, 6)),
    ("ChannelShuffle", (2,), (2, 4, 3)),
    ("Upsample", ((5, 4), None, "bilinear", True), (1, 2, 3, 3)),
    ("Upsample", (None, (2.0, 1.5), "bilinear"), (1, 2, 3, 4)),
    ("UpsamplingNearest2d", (None, 2), (1, 2, 3, 3)),
    ("UpsamplingBilinear2d", (5,), (1, 2, 3, 3)),
    ("Fold", ((4, 5), 2), (2, 12, 12)),
    ("Unfold", ((2, 3), 1, 1, 2), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("name,args,shape", _LAYERS)
def test_layers_match_pytorch(name, args, shape):
    ref = _torch()
    t_mod, r_mod = getattr(ref.nn, name)(*args), getattr(nn, name)(*args)
    x = ref.randn(*shape, dtype=ref.float64)
    _close(r_mod(_from(x)), t_mod(x))
    assert repr(r_mod) == repr(t_mod)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_pytorch(norm_first, batch_first):
    ref = _torch()
    ref.manual_seed(0)
    kw = dict(dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_mod = ref.nn.Transformer(8, 2, 2, 2, 16, **kw).double()
        r_mod = nn.Transformer(8, 2, 2, 2, 16, **kw).double()
    _same_params(t_mod, r_mod)
    assert list(r_mod.state_dict()) == list(t_mod.state_dict())
    assert repr(r_mod) == repr(t_mod)
    src = ref.randn(5, 3, 8, dtype=ref.float64)
    tgt = ref.randn(4, 3, 8, dtype=ref.float64)
    if batch_first:
        src, tgt = src.transpose(0, 1).contiguous(), tgt.transpose(0, 1).contiguous()
    mask = ref.nn.Transformer.generate_square_subsequent_mask(4, dtype=ref.float64)
    padding = ref.tensor([[False] * 5, [False, False, False, True, True], [False] * 4 + [True]])
    args = dict(src_key_padding_mask=padding, memory_key_padding_mask=padding)
    expected = t_mod(src, tgt, tgt_mask=mask, tgt_is_causal=True, **args)
    args = {k: _from(v) for k, v in args.items()}
    got = r_mod(_from(src), _from(tgt), tgt_mask=_from(mask), tgt_is_causal=True, **args)
    _close(got, expected)
    blocked = ref.ones(4, 4, dtype=ref.bool).triu(1)
    _close(
        r_mod(_from(src), _from(tgt), tgt_mask=_from(blocked)), t_mod(src, tgt, tgt_mask=blocked)
    )
    one_src, one_tgt = (src[0], tgt[0]) if batch_first else (src[:, 0], tgt[:, 0])
    _close(r_mod(_from(one_src), _from(one_tgt)), t_mod(one_src, one_tgt))


def test_decoder_layer_matches_pytorch_with_memory_mask():
    ref = _torch()
    ref.manual_seed(1)
    t_mod = ref.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation="gelu").double()
    r_mod = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation="gelu").double()
    _same_params(t_mod, r_mod)
    assert repr(r_mod) == repr(t_mod)
    tgt, memory = ref.randn(3, 2, 8, dtype=ref.float64), ref.randn(4, 2, 8, dtype=ref.float64)
    mem_mask = ref.randn(3, 4, dtype=ref.float64)
    _close(
        r_mod(_from(tgt), _from(memory), memory_mask=_from(mem_mask)),
        t_mod(tgt, memory, memory_mask=mem_mask),
    )


def test_packing_matches_pytorch():
    ref = _torch()
    from torch.nn.utils import rnn as t_rnn

    seqs = [ref.randn(n, 3, dtype=ref.float64) for n in (2, 5, 1, 5, 3)]
    t_packed = t_rnn.pack_sequence(seqs, enforce_sorted=False)
    r_packed = rnn_utils.pack_sequence([_from(s) for s in seqs], enforce_sorted=False)
    for r_field, t_field in zip(r_packed, t_packed):
        _close(r_field, t_field)
    for batch_first in (False, True):
        t_pad, t_len = t_rnn.pad_packed_sequence(t_packed, batch_first, -2.0, 7)
        r_pad, r_len = rnn_utils.pad_packed_sequence(r_packed, batch_first, -2.0, 7)
        _close(r_pad, t_pad)
        assert r_len.tolist() == t_len.tolist()
    for side in ("left", "right"):
        _close(
            rnn_utils.pad_sequence([_from(s) for s in seqs], True, 1.5, side),
            t_rnn.pad_sequence(seqs, True, 1.5, side),
        )


@pytest.mark.parametrize(
    "name,kw",
    [
        ("RNN", dict(nonlinearity="relu", bidirectional=True)),
        ("GRU", dict(num_layers=2, bidirectional=True)),
        ("LSTM", dict(num_layers=2, bidirectional=True)),
        ("LSTM", dict(proj_size=2)),
    ],
)
def test_recurrent_packed_input_matches_pytorch(name, kw):
    ref = _torch()
    from torch.nn.utils import rnn as t_rnn

    ref.manual_seed(0)
    t_mod = getattr(ref.nn, name)(3, 4, **kw).double()
    r_mod = getattr(nn, name)(3, 4, **kw).double()
    _same_params(t_mod, r_mod)
    seqs = [ref.randn(n, 3, dtype=ref.float64) for n in (2, 5, 1, 5, 3)]
    t_packed = t_rnn.pack_sequence(seqs, enforce_sorted=False)
    r_packed = rnn_utils.pack_sequence([_from(s) for s in seqs], enforce_sorted=False)
    layers = t_mod.num_layers * (2 if t_mod.bidirectional else 1)
    h0 = ref.randn(layers, 5, kw.get("proj_size", 4), dtype=ref.float64)
    if name == "LSTM":
        t_hx = (h0, ref.randn(layers, 5, 4, dtype=ref.float64))
        r_hx = tuple(_from(s) for s in t_hx)
    else:
        t_hx, r_hx = h0, _from(h0)
    t_out, t_hidden = t_mod(t_packed, t_hx)
    r_out, r_hidden = r_mod(r_packed, r_hx)
    _close(r_out.data, t_out.data)
    assert r_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    if name != "LSTM":
        t_hidden, r_hidden = (t_hidden,), (r_hidden,)
    for r_state, t_state in zip(r_hidden, t_hidden):
        _close(r_state, t_state)
