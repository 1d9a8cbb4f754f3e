"""RNN, LSTM, GRU and their cells against numpy transcriptions of the cell equations."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn

RNG = np.random.default_rng(5)


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


def sig(x):
    return 1 / (1 + np.exp(-x))


def np_cell(mode, x, h, c, p):
    """One step; p = dict of numpy weights for one layer/direction."""
    gi = x @ p["w_ih"].T + p["b_ih"]
    gh = h @ p["w_hh"].T + p["b_hh"]
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        if "w_hr" in p:
            h = h @ p["w_hr"].T
        return h, c
    if mode == "GRU":
        ir, iz, in_ = np.split(gi, 3, axis=-1)
        hr, hz, hn = np.split(gh, 3, axis=-1)
        r, z = sig(ir + hr), sig(iz + hz)
        n = np.tanh(in_ + r * hn)
        return (1 - z) * n + z * h, c
    pre = gi + gh
    return (np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0)), c


def np_rnn(mod, x, h0, c0):
    """x time-major (L, N, I). Returns output, h_n, c_n in PyTorch layout."""
    dirs = 2 if mod.bidirectional else 1
    hs, cs = [], []
    layer_in = x
    for layer in range(mod.num_layers):
        outs = []
        for d in range(dirs):
            sfx = "_reverse" if d else ""
            p = {
                "w_ih": to_np(getattr(mod, f"weight_ih_l{layer}{sfx}")),
                "w_hh": to_np(getattr(mod, f"weight_hh_l{layer}{sfx}")),
                "b_ih": to_np(getattr(mod, f"bias_ih_l{layer}{sfx}")) if mod.bias else 0.0,
                "b_hh": to_np(getattr(mod, f"bias_hh_l{layer}{sfx}")) if mod.bias else 0.0,
            }
            if mod.proj_size:
                p["w_hr"] = to_np(getattr(mod, f"weight_hr_l{layer}{sfx}"))
            k = layer * dirs + d
            h = h0[k]
            c = c0[k] if c0 is not None else None
            steps = range(len(x) - 1, -1, -1) if d else range(len(x))
            out = [None] * len(x)
            for t in steps:
                h, c = np_cell(mod.mode, layer_in[t], h, c, p)
                out[t] = h
            outs.append(np.stack(out))
            hs.append(h)
            cs.append(c)
        layer_in = np.concatenate(outs, -1)
    return layer_in, np.stack(hs), (np.stack(cs) if c0 is not None else None)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize(
    "layers,bidir,batch_first", [(1, False, False), (2, True, True), (2, False, True)]
)
def test_recurrent_matches_numpy(kind, layers, bidir, batch_first):
    cls = getattr(nn, kind)
    mod = cls(3, 4, num_layers=layers, bidirectional=bidir, batch_first=batch_first).double()
    x = RNG.standard_normal((5, 2, 3))
    dirs = 2 if bidir else 1
    h0 = RNG.standard_normal((layers * dirs, 2, 4))
    c0 = RNG.standard_normal((layers * dirs, 2, 4))
    xin = np.swapaxes(x, 0, 1) if batch_first else x
    if kind == "LSTM":
        out, (hn, cn) = mod(T(xin), (T(h0), T(c0)))
        ref_out, ref_h, ref_c = np_rnn(mod, x, h0, c0)
        np.testing.assert_allclose(to_np(cn), ref_c, rtol=1e-9, atol=1e-12)
    else:
        out, hn = mod(T(xin), T(h0))
        ref_out, ref_h, _ = np_rnn(mod, x, h0, None)
    if batch_first:
        ref_out = np.swapaxes(ref_out, 0, 1)
    assert tuple(out.shape) == ref_out.shape
    np.testing.assert_allclose(to_np(out), ref_out, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(to_np(hn), ref_h, rtol=1e-9, atol=1e-12)


def test_default_hidden_unbatched_and_relu():
    lstm = nn.LSTM(3, 4).double()
    x = RNG.standard_normal((6, 3))
    out, (h, c) = lstm(T(x))
    assert tuple(out.shape) == (6, 4) and tuple(h.shape) == (1, 4) and tuple(c.shape) == (1, 4)
    ref_out, _, _ = np_rnn(lstm, x[:, None], np.zeros((1, 1, 4)), np.zeros((1, 1, 4)))
    np.testing.assert_allclose(to_np(out), ref_out[:, 0], rtol=1e-9)
    rnn = nn.RNN(3, 4, nonlinearity="relu", bias=False).double()
    assert rnn.mode == "RNN_RELU"
    out, h = rnn(T(x[:, None]))
    ref_out, _, _ = np_rnn(rnn, x[:, None], np.zeros((1, 1, 4)), None)
    np.testing.assert_allclose(to_np(out), ref_out, rtol=1e-9)


def test_lstm_projection():
    lstm = nn.LSTM(3, 5, proj_size=2, num_layers=2).double()
    assert tuple(lstm.weight_hh_l0.shape) == (20, 2)
    assert tuple(lstm.weight_hr_l0.shape) == (2, 5)
    assert tuple(lstm.weight_ih_l1.shape) == (20, 2)
    x = RNG.standard_normal((4, 2, 3))
    out, (h, c) = lstm(T(x))
    assert tuple(out.shape) == (4, 2, 2) and tuple(h.shape) == (2, 2, 2)
    assert tuple(c.shape) == (2, 2, 5)
    ref_out, ref_h, ref_c = np_rnn(lstm, x, np.zeros((2, 2, 2)), np.zeros((2, 2, 5)))
    np.testing.assert_allclose(to_np(out), ref_out, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError):
        nn.LSTM(3, 4, proj_size=4)


def test_parameter_names_order_and_init():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 16, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:8] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ]
    assert len(names) == 16
    assert tuple(lstm.weight_ih_l1.shape) == (64, 32)
    bound = 1 / math.sqrt(16)
    for p in lstm.parameters():
        assert np.abs(to_np(p)).max() <= bound
    assert np.abs(to_np(lstm.weight_ih_l1)).max() > 0.9 * bound
    gru = nn.GRU(3, 4, bias=False)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert len(lstm.all_weights) == 4


def test_reprs():
    assert repr(nn.LSTM(3, 4, num_layers=2, bidirectional=True)) == (
        "LSTM(3, 4, num_layers=2, bidirectional=True)"
    )
    assert repr(nn.GRU(3, 4, 2, dropout=0.5, batch_first=True)) == (
        "GRU(3, 4, num_layers=2, batch_first=True, dropout=0.5)"
    )
    assert repr(nn.RNN(3, 4, nonlinearity="relu", bias=False)) == "RNN(3, 4, bias=False)"
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"


def test_shape_errors_and_warnings():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError):
        lstm(torch.randn(5, 2, 7))
    with pytest.raises(RuntimeError):
        lstm(torch.randn(5, 2, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4)))
    with pytest.raises(ValueError):
        lstm(torch.randn(5))
    with pytest.warns(UserWarning):
        nn.GRU(3, 4, dropout=0.2)
    with pytest.raises(ValueError):
        nn.GRU(3, 4, dropout=2.0)


@pytest.mark.parametrize("cell_cls", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells(cell_cls):
    cell = getattr(nn, cell_cls)(3, 4).double()
    x = RNG.standard_normal((2, 3))
    h = RNG.standard_normal((2, 4))
    c = RNG.standard_normal((2, 4))
    p = {
        "w_ih": to_np(cell.weight_ih),
        "w_hh": to_np(cell.weight_hh),
        "b_ih": to_np(cell.bias_ih),
        "b_hh": to_np(cell.bias_hh),
    }
    mode = {"LSTMCell": "LSTM", "GRUCell": "GRU", "RNNCell": "RNN_TANH"}[cell_cls]
    ref_h, ref_c = np_cell(mode, x, h, c, p)
    if mode == "LSTM":
        h1, c1 = cell(T(x), (T(h), T(c)))
        np.testing.assert_allclose(to_np(c1), ref_c, rtol=1e-10)
        hu, cu = cell(T(x[0]))
        assert tuple(hu.shape) == (4,)
    else:
        h1 = cell(T(x), T(h))
        assert tuple(cell(T(x[0])).shape) == (4,)
    np.testing.assert_allclose(to_np(h1), ref_h, rtol=1e-10)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_gradcheck(kind):
    mod = getattr(nn, kind)(2, 3, bidirectional=True).double()
    x = T(RNG.standard_normal((3, 1, 2)), True)
    w = mod.weight_hh_l0

    def fn(x, w_hh):
        mod._parameters["weight_hh_l0"] = w_hh
        out = mod(x)[0]
        return out

    try:
        assert torch.autograd.gradcheck(
            fn, (x, w.detach().clone().requires_grad_(True)), eps=1e-6, atol=1e-4
        )
    finally:
        mod._parameters["weight_hh_l0"] = w


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2, dropout=0.5).double()
    x = T(RNG.standard_normal((4, 2, 3)))
    gru.eval()
    a = to_np(gru(x)[0])
    b = to_np(gru(x)[0])
    np.testing.assert_array_equal(a, b)
    gru.train()
    c = to_np(gru(x)[0])
    assert not np.allclose(a, c)
