"""Norm, recurrent and transformer layers: reprs, state layouts, messages and results.

The first part needs only numpy; the tests marked `vs_torch` compare with PyTorch and are
skipped when it is not installed.
"""

import math
import warnings

import numpy as np
import pytest

import rtorch
import rtorch.nn as nn

RNG = np.random.default_rng(11)


def T(a, requires_grad=False):
    a = np.asarray(a)
    t = rtorch.tensor(a.tolist(), dtype=getattr(rtorch, str(a.dtype)))
    return t.requires_grad_(True) if requires_grad else t


def to_np(t):
    t = t.detach()
    try:
        return t.numpy()
    except Exception:
        return np.array(t.tolist())


def layout(module):
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


def message(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the type is part of what is compared
        return type(exc).__name__, str(exc)
    return None


# ---------------------------------------------------------------------------- norms
def test_norm_reprs_and_layouts():
    assert repr(nn.BatchNorm2d(3, momentum=None, affine=False)) == (
        "BatchNorm2d(3, eps=1e-05, momentum=None, affine=False, bias=False, "
        "track_running_stats=True)"
    )
    assert repr(nn.InstanceNorm1d(4)) == (
        "InstanceNorm1d(4, eps=1e-05, momentum=0.1, affine=False, bias=False, "
        "track_running_stats=False)"
    )
    assert repr(nn.LayerNorm([2, 3], bias=False)) == (
        "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True, bias=False)"
    )
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.RMSNorm(3)) == "RMSNorm((3,), eps=None, elementwise_affine=True)"
    bn = nn.BatchNorm1d(3)
    assert layout(bn) == [
        ("weight", (3,)),
        ("bias", (3,)),
        ("running_mean", (3,)),
        ("running_var", (3,)),
        ("num_batches_tracked", ()),
    ]
    assert bn.num_batches_tracked.dtype == rtorch.int64
    assert layout(nn.InstanceNorm2d(3)) == []
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    assert nn.GroupNorm(2, 4, bias=False).bias is None
    assert nn.BatchNorm1d(3, bias=False).bias is None and bn.weight is not None
    np.testing.assert_array_equal(to_np(bn.weight), np.ones(3))
    np.testing.assert_array_equal(to_np(bn.bias), np.zeros(3))


def test_norm_errors_and_warning():
    assert message(lambda: nn.BatchNorm1d(3)(rtorch.randn(2, 3, 4, 5))) == (
        "ValueError",
        "expected 2D or 3D input (got 4D input)",
    )
    assert message(lambda: nn.BatchNorm3d(3)(rtorch.randn(2, 3))) == (
        "ValueError",
        "expected 5D input (got 2D input)",
    )
    assert message(lambda: nn.InstanceNorm2d(3)(rtorch.randn(3))) == (
        "ValueError",
        "expected 3D or 4D input (got 1D input)",
    )
    assert message(lambda: nn.InstanceNorm1d(3, affine=True)(rtorch.randn(2, 4, 5))) == (
        "ValueError",
        "expected input's size at dim=1 to match num_features (3), but got: 4.",
    )
    assert message(lambda: nn.GroupNorm(3, 4)) == (
        "ValueError",
        "num_channels (4) must be divisible by num_groups (3)",
    )
    with pytest.warns(UserWarning, match="input's size at dim=0 does not match num_features"):
        out = nn.InstanceNorm2d(3)(rtorch.randn(4, 3, 3))
    assert tuple(out.shape) == (4, 3, 3)


def test_batch_norm_cumulative_average_and_counter():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [RNG.standard_normal((5, 2)) for _ in range(3)]
    for b in batches:
        bn(T(b))
    assert int(bn.num_batches_tracked) == 3
    np.testing.assert_allclose(to_np(bn.running_mean), np.mean([b.mean(0) for b in batches], 0))
    # The first batch replaces the initial ones (factor 1/1), so the variance is a plain mean.
    unbiased = np.mean([b.var(0, ddof=1) for b in batches], 0)
    np.testing.assert_allclose(to_np(bn.running_var), unbiased)


def test_batch_norm_stops_updating_when_tracking_is_switched_off():
    bn = nn.BatchNorm1d(2).double()
    with rtorch.no_grad():
        bn.running_mean.fill_(3.0)
    bn.track_running_stats = False
    x = RNG.standard_normal((6, 2)) + 1.0
    out = to_np(bn(T(x)))
    # Training: batch statistics, buffers untouched.
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), atol=1e-12)
    np.testing.assert_array_equal(to_np(bn.running_mean), [3.0, 3.0])
    assert int(bn.num_batches_tracked) == 0
    # Eval: the stored running statistics are still used.
    bn.eval()
    np.testing.assert_allclose(to_np(bn(T(x))), (x - 3.0) / np.sqrt(1 + 1e-5), atol=1e-12)


def test_batch_norm_without_buffers_uses_batch_stats_in_eval():
    bn = nn.BatchNorm1d(2, track_running_stats=False).double().eval()
    x = RNG.standard_normal((6, 2))
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(to_np(bn(T(x))), expected, atol=1e-12)


def test_batch_norm_loads_checkpoint_saved_before_counter():
    src = nn.BatchNorm1d(3)
    state = dict(src.state_dict())  # a plain dict carries no version metadata
    del state["num_batches_tracked"]
    dst = nn.BatchNorm1d(3)
    dst.num_batches_tracked.fill_(7)
    dst.load_state_dict(state)
    assert int(dst.num_batches_tracked) == 7
    state = src.state_dict()
    del state["num_batches_tracked"]
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        nn.BatchNorm1d(3).load_state_dict(state)


def test_reset_running_stats():
    bn = nn.BatchNorm2d(2)
    bn(rtorch.randn(3, 2, 2, 2) * 4 + 2)
    bn.reset_running_stats()
    np.testing.assert_array_equal(to_np(bn.running_mean), [0, 0])
    np.testing.assert_array_equal(to_np(bn.running_var), [1, 1])
    assert int(bn.num_batches_tracked) == 0


# ---------------------------------------------------------------------- recurrent
def test_rnn_parameter_table_and_repr():
    lstm = nn.LSTM(3, 4, 2, proj_size=2, bidirectional=True)
    assert layout(lstm) == [
        ("weight_ih_l0", (16, 3)),
        ("weight_hh_l0", (16, 2)),
        ("bias_ih_l0", (16,)),
        ("bias_hh_l0", (16,)),
        ("weight_hr_l0", (2, 4)),
        ("weight_ih_l0_reverse", (16, 3)),
        ("weight_hh_l0_reverse", (16, 2)),
        ("bias_ih_l0_reverse", (16,)),
        ("bias_hh_l0_reverse", (16,)),
        ("weight_hr_l0_reverse", (2, 4)),
        ("weight_ih_l1", (16, 4)),
        ("weight_hh_l1", (16, 2)),
        ("bias_ih_l1", (16,)),
        ("bias_hh_l1", (16,)),
        ("weight_hr_l1", (2, 4)),
        ("weight_ih_l1_reverse", (16, 4)),
        ("weight_hh_l1_reverse", (16, 2)),
        ("bias_ih_l1_reverse", (16,)),
        ("bias_hh_l1_reverse", (16,)),
        ("weight_hr_l1_reverse", (2, 4)),
    ]
    assert [len(ws) for ws in lstm.all_weights] == [5, 5, 5, 5]
    assert layout(nn.GRU(3, 4, bias=False)) == [("weight_ih_l0", (12, 3)), ("weight_hh_l0", (12, 4))]
    assert layout(nn.GRUCell(3, 4, bias=False)) == [("weight_ih", (12, 3)), ("weight_hh", (12, 4))]
    assert nn.RNNCell(3, 4, bias=False).bias_ih is None
    bound = 1 / math.sqrt(4)
    assert all(np.abs(to_np(p)).max() <= bound for p in lstm.parameters())
    assert repr(nn.RNN(3, 4, 2, "relu", False, True, 0.5, True)) == (
        "RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"
    )
    rnn = nn.RNN(3, 4, 1, "relu")
    assert rnn.nonlinearity == "relu" and rnn.mode == "RNN_RELU" and repr(rnn) == "RNN(3, 4)"
    assert repr(nn.LSTM(3, 4, proj_size=2)) == "LSTM(3, 4, proj_size=2)"
    assert repr(nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == (
        "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    )
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"


CONFIG_ERRORS = [
    (dict(bias=1), "TypeError", "bias should be of type bool, got: int"),
    (dict(batch_first=1), "TypeError", "batch_first should be of type bool, got: int"),
    (dict(input_size=3.0), "TypeError", "input_size should be of type int, got: float"),
    (dict(input_size=0), "ValueError", "input_size must be greater than zero"),
    (dict(hidden_size=2.0), "TypeError", "hidden_size should be of type int, got: float"),
    (dict(hidden_size=0), "ValueError", "hidden_size must be greater than zero"),
    (dict(num_layers=0), "ValueError", "num_layers must be greater than zero"),
    (
        dict(proj_size=-1),
        "ValueError",
        "proj_size should be a positive integer or zero to disable projections",
    ),
    (dict(proj_size=4), "ValueError", "proj_size has to be smaller than hidden_size"),
    (
        dict(dropout=True),
        "ValueError",
        "dropout should be a number in range [0, 1] representing the probability of an "
        "element being zeroed",
    ),
]


@pytest.mark.parametrize("kw,kind,text", CONFIG_ERRORS)
def test_rnn_config_errors(kw, kind, text):
    args = dict(input_size=3, hidden_size=4)
    args.update(kw)
    assert message(lambda: nn.LSTM(**args)) == (kind, text)


def test_rnn_mode_errors_and_dropout_warning():
    assert message(lambda: nn.RNNBase("FOO", 3, 4)) == ("ValueError", "Unrecognized RNN mode: FOO")
    assert message(lambda: nn.GRU(3, 4, proj_size=2)) == (
        "ValueError",
        "proj_size argument is only supported for LSTM, not RNN or GRU",
    )
    assert message(lambda: nn.RNN(3, 4, 2, "x")) == (
        "ValueError",
        "Unknown nonlinearity 'x'. Select from 'tanh' or 'relu'.",
    )
    with pytest.warns(UserWarning, match="dropout=0.5 and num_layers=1"):
        nn.GRU(3, 4, dropout=0.5)


RUN_ERRORS = [
    (
        lambda: nn.LSTM(3, 4)(rtorch.randn(5, 2, 3), (rtorch.randn(1, 3, 4), rtorch.randn(1, 2, 4))),
        ("RuntimeError", "Expected hidden[0] size (1, 2, 4), got [1, 3, 4]"),
    ),
    (
        lambda: nn.LSTM(3, 4)(rtorch.randn(5, 2, 3), (rtorch.randn(1, 2, 4), rtorch.randn(1, 2, 3))),
        ("RuntimeError", "Expected hidden[1] size (1, 2, 4), got [1, 2, 3]"),
    ),
    (
        lambda: nn.LSTM(3, 4)(rtorch.randn(5, 3), (rtorch.randn(2, 4), rtorch.randn(1, 2, 3))),
        (
            "RuntimeError",
            "For unbatched 2-D input, hx and cx should also be 2-D but got (2-D, 3-D) tensors",
        ),
    ),
    (
        lambda: nn.GRU(3, 4)(rtorch.randn(5, 2, 3), rtorch.randn(2, 4)),
        ("RuntimeError", "For batched 3-D input, hx should also be 3-D but got 2-D tensor"),
    ),
    (
        lambda: nn.GRU(3, 4)(rtorch.randn(5, 2, 4)),
        ("RuntimeError", "input.size(-1) must be equal to input_size. Expected 3, got 4"),
    ),
    (
        lambda: nn.GRU(3, 4)(rtorch.randn(5, 2, 4, 1)),
        ("ValueError", "GRU: Expected input to be 2D or 3D, got 4D instead"),
    ),
    (
        lambda: nn.RNN(3, 4)(rtorch.randn(5, 2, 4, 1)),
        ("ValueError", "RNN: Expected input to be 2D or 3D, got 4D tensor instead"),
    ),
    (
        lambda: nn.GRU(3, 4, batch_first=True)(rtorch.randn(2, 5, 3), rtorch.randn(1, 5, 4)),
        ("RuntimeError", "Expected hidden size (1, 2, 4), got [1, 5, 4]"),
    ),
    (
        lambda: nn.GRU(3, 4)(rtorch.randn(0, 2, 3)),
        ("RuntimeError", "Expected sequence length to be larger than 0 in RNN"),
    ),
    (
        lambda: nn.RNNCell(3, 4, nonlinearity="x")(rtorch.randn(2, 3)),
        ("RuntimeError", "Unknown nonlinearity: x"),
    ),
    (
        lambda: nn.RNNCell(3, 4)(rtorch.randn(2, 2, 3)),
        ("ValueError", "RNNCell: Expected input to be 1D or 2D, got 3D instead"),
    ),
    (
        lambda: nn.GRUCell(3, 4)(rtorch.randn(2, 3), rtorch.randn(1, 2, 4)),
        ("ValueError", "GRUCell: Expected hidden to be 1D or 2D, got 3D instead"),
    ),
    (
        lambda: nn.LSTMCell(3, 4)(rtorch.randn(2, 3), (rtorch.randn(2, 4), rtorch.randn(1, 2, 4))),
        ("ValueError", "LSTMCell: Expected hx[1] to be 1D or 2D, got 3D instead"),
    ),
    (
        lambda: nn.GRUCell(3, 4)(rtorch.randn(2, 3), rtorch.randn(3, 4)),
        ("RuntimeError", "Input batch size 2 doesn't match hidden0 batch size 3"),
    ),
    (
        lambda: nn.GRUCell(3, 4)(rtorch.randn(2, 5)),
        ("RuntimeError", "input has inconsistent input_size: got 5 expected 3"),
    ),
]


@pytest.mark.parametrize("call,expected", RUN_ERRORS)
def test_rnn_forward_errors(call, expected):
    assert message(call) == expected


def np_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    xr, xz, xn = np.split(x @ w_ih.T + b_ih, 3, -1)
    hr, hz, hn = np.split(h @ w_hh.T + b_hh, 3, -1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def test_unbatched_reverse_gru_matches_numpy():
    gru = nn.GRU(3, 2, bidirectional=True).double()
    p = {k: to_np(v) for k, v in gru.state_dict().items()}
    x = RNG.standard_normal((4, 3))
    h0 = RNG.standard_normal((2, 2))
    out, h_n = gru(T(x), T(h0))
    assert tuple(out.shape) == (4, 4) and tuple(h_n.shape) == (2, 2)
    for d, suffix in enumerate(["", "_reverse"]):
        w = [p[f"{n}_l0{suffix}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h = h0[d]
        steps = range(3, -1, -1) if d else range(4)
        for t in steps:
            h = np_gru_cell(x[t], h, *w)
            np.testing.assert_allclose(to_np(out)[t, 2 * d : 2 * d + 2], h, atol=1e-12)
        np.testing.assert_allclose(to_np(h_n)[d], h, atol=1e-12)


def test_unbatched_cells_keep_rank():
    h, c = nn.LSTMCell(3, 4)(rtorch.randn(3), (rtorch.randn(4), rtorch.randn(4)))
    assert tuple(h.shape) == (4,) and tuple(c.shape) == (4,)
    assert tuple(nn.GRUCell(3, 4)(rtorch.randn(3)).shape) == (4,)
    assert tuple(nn.RNNCell(3, 4)(rtorch.randn(2, 3)).shape) == (2, 4)


# -------------------------------------------------------------------- transformer
def test_mha_parameter_slots():
    packed = nn.MultiheadAttention(4, 2)
    assert list(packed._parameters) == [
        "in_proj_weight",
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "in_proj_bias",
    ]
    split = nn.MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    assert list(split._parameters) == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "in_proj_weight",
        "in_proj_bias",
        "bias_k",
        "bias_v",
    ]
    assert layout(split) == [
        ("q_proj_weight", (4, 4)),
        ("k_proj_weight", (4, 3)),
        ("v_proj_weight", (4, 5)),
        ("bias_k", (1, 1, 4)),
        ("bias_v", (1, 1, 4)),
        ("out_proj.weight", (4, 4)),
    ]
    assert packed.bias_k is None and packed.head_dim == 2 and not split._qkv_same_embed_dim
    assert message(lambda: nn.MultiheadAttention(5, 2)) == (
        "AssertionError",
        "embed_dim must be divisible by num_heads",
    )
    assert message(lambda: nn.MultiheadAttention(0, 2)) == (
        "ValueError",
        "embed_dim and num_heads must be greater than 0, got embed_dim=0 and num_heads=2 instead",
    )


def test_encoder_layer_activation_codes_and_errors():
    assert nn.TransformerEncoderLayer(4, 2, 8).activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(4, 2, 8, activation="gelu").activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(4, 2, 8, activation=nn.GELU()).activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(4, 2, 8, activation=rtorch.tanh).activation_relu_or_gelu == 0
    assert message(lambda: nn.TransformerEncoderLayer(4, 2, 8, activation="tanh")) == (
        "RuntimeError",
        "activation should be relu/gelu, not tanh",
    )
    layer = nn.TransformerEncoderLayer(4, 2, 8, bias=False)
    assert [n for n, _ in layer.named_children()] == [
        "self_attn",
        "linear1",
        "dropout",
        "linear2",
        "norm1",
        "norm2",
        "dropout1",
        "dropout2",
    ]
    assert layer.norm1.bias is None and layer.linear1.bias is None


@pytest.mark.parametrize(
    "layer_kw,reason",
    [
        (dict(), "encoder_layer.self_attn.batch_first was not True"),
        (dict(batch_first=True, norm_first=True), "encoder_layer.norm_first was True"),
        (dict(batch_first=True, bias=False), "encoder_layer.self_attn was passed bias=False"),
        (
            dict(batch_first=True, activation=rtorch.tanh),
            "encoder_layer.activation_relu_or_gelu was not True",
        ),
    ],
)
def test_encoder_nested_tensor_warning(layer_kw, reason):
    layer = nn.TransformerEncoderLayer(4, 2, 8, **layer_kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = nn.TransformerEncoder(layer, 2)
    texts = [str(w.message) for w in caught]
    assert len(texts) == 1 and texts[0].startswith(
        "enable_nested_tensor is True, but self.use_nested_tensor is False because " + reason
    )
    assert enc.use_nested_tensor is False and len(enc.layers) == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    assert not caught


def test_encoder_layers_are_independent_copies():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2, enable_nested_tensor=False)
    a, b = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert a is not b
    np.testing.assert_array_equal(to_np(a), to_np(b))


# ---------------------------------------------------------------- against PyTorch
def _torch():
    ref = pytest.importorskip("torch")
    if ref is rtorch:  # pragma: no cover
        pytest.skip("PyTorch is rtorch here")
    return ref


def _same_params(t_mod, r_mod):
    r_mod.load_state_dict({k: T(v.detach().numpy()) for k, v in t_mod.state_dict().items()})


def _close(r, t):
    np.testing.assert_allclose(to_np(r), t.detach().numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    "kw,unbatched",
    [
        (dict(num_layers=2, proj_size=2, bidirectional=True, batch_first=True), False),
        (dict(num_layers=2, proj_size=2, bidirectional=True), True),
        (dict(num_layers=2, bidirectional=True), True),
    ],
)
def test_lstm_with_given_state_matches_pytorch(kw, unbatched):
    ref = _torch()
    ref.manual_seed(0)
    t_mod = ref.nn.LSTM(3, 4, **kw).double()
    r_mod = nn.LSTM(3, 4, **kw).double()
    _same_params(t_mod, r_mod)
    out_size = kw.get("proj_size", 0) or 4
    layers = 2 * kw["num_layers"]
    x = RNG.standard_normal((5, 3) if unbatched else (2, 5, 3))
    h0 = RNG.standard_normal((layers, out_size) if unbatched else (layers, 2, out_size))
    c0 = RNG.standard_normal((layers, 4) if unbatched else (layers, 2, 4))
    r_out, (r_h, r_c) = r_mod(T(x), (T(h0), T(c0)))
    t_out, (t_h, t_c) = t_mod(ref.tensor(x), (ref.tensor(h0), ref.tensor(c0)))
    for r, t in ((r_out, t_out), (r_h, t_h), (r_c, t_c)):
        _close(r, t)


def test_cells_match_pytorch():
    ref = _torch()
    x, h, c = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4)), RNG.standard_normal((2, 4))
    for name, kw in [("RNNCell", dict(nonlinearity="relu")), ("GRUCell", {}), ("LSTMCell", {})]:
        t_mod = getattr(ref.nn, name)(3, 4, **kw).double()
        r_mod = getattr(nn, name)(3, 4, **kw).double()
        _same_params(t_mod, r_mod)
        if name == "LSTMCell":
            r_out = r_mod(T(x), (T(h), T(c)))
            t_out = t_mod(ref.tensor(x), (ref.tensor(h), ref.tensor(c)))
            for r, t in zip(r_out, t_out):
                _close(r, t)
        else:
            _close(r_mod(T(x), T(h)), t_mod(ref.tensor(x), ref.tensor(h)))


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_with_causal_mask_matches_pytorch(norm_first):
    ref = _torch()
    kw = dict(dropout=0.0, batch_first=True, norm_first=norm_first, activation="gelu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_mod = ref.nn.TransformerEncoder(
            ref.nn.TransformerEncoderLayer(8, 2, 16, **kw), 2, norm=ref.nn.LayerNorm(8)
        ).double()
        r_mod = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(8, 2, 16, **kw), 2, norm=nn.LayerNorm(8)
        ).double()
    _same_params(t_mod, r_mod)
    x = RNG.standard_normal((2, 5, 8))
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    pad = np.zeros((2, 5))
    pad[1, 3:] = -np.inf
    t_mod.eval()
    r_mod.eval()
    t_out = t_mod(ref.tensor(x), mask=ref.tensor(causal), src_key_padding_mask=ref.tensor(pad))
    r_out = r_mod(T(x), mask=T(causal), src_key_padding_mask=T(pad))
    _close(r_out, t_out)


def test_self_attention_batch_first_matches_pytorch():
    ref = _torch()
    t_mod = ref.nn.MultiheadAttention(6, 3, batch_first=True).double()
    r_mod = nn.MultiheadAttention(6, 3, batch_first=True).double()
    _same_params(t_mod, r_mod)
    x = RNG.standard_normal((2, 4, 6))
    rx, tx = T(x), ref.tensor(x)
    r_out, r_w = r_mod(rx, rx, rx, average_attn_weights=False)
    t_out, t_w = t_mod(tx, tx, tx, average_attn_weights=False)
    _close(r_out, t_out)
    _close(r_w, t_w)
    # key is value but not query
    y = RNG.standard_normal((2, 3, 6))
    ry, ty = T(y), ref.tensor(y)
    _close(r_mod(rx, ry, ry)[0], t_mod(tx, ty, ty)[0])
