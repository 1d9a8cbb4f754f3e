"""Side by side with PyTorch (skipped when PyTorch is not installed).

Each case builds the same layer in both libraries, copies the parameters across
through numpy, and compares outputs, input gradients and parameter gradients.
"""

import numpy as np
import pytest

import rtorch
import rtorch.nn as rnn
import rtorch.nn.functional as RF

ref = pytest.importorskip("torch")
if ref is rtorch:  # pragma: no cover - only when rtorch is aliased as torch
    pytest.skip("PyTorch is rtorch here", allow_module_level=True)
tnn = ref.nn
TF = ref.nn.functional

RNG = np.random.default_rng(7)


def np_of(t):
    t = t.detach()
    try:
        return t.cpu().numpy()
    except Exception:
        return np.array(t.tolist())


def r_t(a, grad=False):
    t = rtorch.tensor(np.asarray(a).tolist(), dtype=getattr(rtorch, str(np.asarray(a).dtype)))
    return t.requires_grad_(True) if grad else t


def t_t(a, grad=False):
    return ref.tensor(np.asarray(a), requires_grad=grad)


def copy_params(src_torch, dst_rtorch):
    sd = {k: r_t(np_of(v)) for k, v in src_torch.state_dict().items()}
    dst_rtorch.load_state_dict(sd)


def compare(r_mod, t_mod, inputs, rtol=1e-7, atol=1e-9, out_index=None):
    r_mod.double()
    t_mod.double()
    copy_params(t_mod, r_mod)
    assert list(r_mod.state_dict()) == list(t_mod.state_dict())
    assert [n for n, _ in r_mod.named_parameters()] == [n for n, _ in t_mod.named_parameters()]
    r_in = [r_t(a, a.dtype == np.float64) for a in inputs]
    t_in = [t_t(a, a.dtype == np.float64) for a in inputs]
    r_out, t_out = r_mod(*r_in), t_mod(*t_in)
    if out_index is not None:
        r_out, t_out = r_out[out_index], t_out[out_index]
    np.testing.assert_allclose(np_of(r_out), np_of(t_out), rtol=rtol, atol=atol)
    w = RNG.standard_normal(tuple(t_out.shape))
    (r_out * r_t(w)).sum().backward()
    (t_out * t_t(w)).sum().backward()
    for ri, ti in zip(r_in, t_in):
        if ti.requires_grad:
            np.testing.assert_allclose(np_of(ri.grad), np_of(ti.grad), rtol=rtol, atol=atol)
    for (n, rp), (_, tp) in zip(r_mod.named_parameters(), t_mod.named_parameters()):
        np.testing.assert_allclose(np_of(rp.grad), np_of(tp.grad), rtol=rtol, atol=atol, err_msg=n)
    for (n, rb), (_, tb) in zip(r_mod.named_buffers(), t_mod.named_buffers()):
        np.testing.assert_allclose(np_of(rb), np_of(tb), rtol=rtol, atol=atol, err_msg=n)


def x(*shape):
    return RNG.standard_normal(shape)


LAYERS = [
    ("Linear", lambda m: m.Linear(4, 3), [x(2, 5, 4)]),
    ("Bilinear", lambda m: m.Bilinear(3, 2, 4), [x(5, 3), x(5, 2)]),
    ("Conv1d", lambda m: m.Conv1d(2, 4, 3, stride=2, padding=1, groups=2), [x(2, 2, 9)]),
    (
        "Conv2d",
        lambda m: m.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=2),
        [x(2, 3, 9, 7)],
    ),
    (
        "Conv2d_same",
        lambda m: m.Conv2d(2, 2, 4, padding="same", padding_mode="replicate"),
        [x(1, 2, 6, 5)],
    ),
    (
        "ConvTranspose2d",
        lambda m: m.ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2, dilation=1),
        [x(2, 4, 4, 5)],
    ),
    ("MaxPool2d", lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True), [x(2, 2, 8, 7)]),
    ("MaxPool1d", lambda m: m.MaxPool1d(3, 2, 1, dilation=2), [x(2, 2, 11)]),
    (
        "AvgPool2d",
        lambda m: m.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        [x(2, 2, 8, 7)],
    ),
    ("AdaptiveAvgPool2d", lambda m: m.AdaptiveAvgPool2d((3, 4)), [x(2, 2, 7, 9)]),
    ("AdaptiveMaxPool2d", lambda m: m.AdaptiveMaxPool2d((2, 3)), [x(2, 2, 7, 9)]),
    ("BatchNorm2d", lambda m: m.BatchNorm2d(3), [x(4, 3, 2, 2)]),
    ("BatchNorm1d_cma", lambda m: m.BatchNorm1d(3, momentum=None), [x(4, 3, 5)]),
    ("LayerNorm", lambda m: m.LayerNorm((3, 4)), [x(2, 3, 4)]),
    ("GroupNorm", lambda m: m.GroupNorm(2, 4), [x(3, 4, 5)]),
    ("RMSNorm", lambda m: m.RMSNorm(4), [x(3, 4)]),
    ("InstanceNorm1d", lambda m: m.InstanceNorm1d(3, affine=True), [x(2, 3, 6)]),
    ("PReLU", lambda m: m.PReLU(3), [x(2, 3, 4)]),
    (
        "LSTM",
        lambda m: m.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
        [x(2, 5, 3)],
    ),
    ("LSTM_proj", lambda m: m.LSTM(3, 5, proj_size=2), [x(4, 2, 3)]),
    ("GRU", lambda m: m.GRU(3, 4, num_layers=2), [x(5, 2, 3)]),
    ("RNN", lambda m: m.RNN(3, 4, nonlinearity="relu", bidirectional=True), [x(5, 2, 3)]),
    ("LSTMCell", lambda m: m.LSTMCell(3, 4), [x(2, 3)]),
    ("GRUCell", lambda m: m.GRUCell(3, 4), [x(2, 3)]),
    (
        "MHA",
        lambda m: m.MultiheadAttention(8, 2, batch_first=True),
        [x(2, 4, 8), x(2, 6, 8), x(2, 6, 8)],
    ),
    (
        "MHA_kv",
        lambda m: m.MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True),
        [x(3, 2, 4), x(6, 2, 3), x(6, 2, 5)],
    ),
    (
        "EncoderLayer",
        lambda m: m.TransformerEncoderLayer(
            8, 2, 16, dropout=0.0, activation="gelu", norm_first=True
        ),
        [x(5, 2, 8)],
    ),
]


@pytest.mark.parametrize("name,make,inputs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_pytorch(name, make, inputs):
    rtorch.manual_seed(0)
    ref.manual_seed(0)
    index = (
        0
        if name.startswith(("LSTM", "GRU", "RNN", "MHA", "AdaptiveMax")) and "Cell" not in name
        else None
    )
    if name == "LSTMCell":
        index = 1
    if name == "AdaptiveMaxPool2d":
        index = None
    compare(make(rnn), make(tnn), inputs, out_index=index)


ACTIVATIONS = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {"negative_slope": 0.3}),
    ("elu", {"alpha": 1.3}),
    ("selu", {}),
    ("celu", {"alpha": 0.7}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("hardswish", {}),
    ("hardsigmoid", {}),
    ("logsigmoid", {}),
    ("softsign", {}),
    ("tanhshrink", {}),
    ("softshrink", {}),
    ("hardshrink", {}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{a}{b}" for a, b in ACTIVATIONS])
def test_activation_matches_pytorch_including_kinks(name, kw):
    vals = np.concatenate(
        [RNG.uniform(-5, 5, 40), [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 1.5, -60.0, 60.0]]
    )
    r_in, t_in = r_t(vals, True), t_t(vals, True)
    r_out = getattr(RF, name)(r_in, **kw)
    t_out = getattr(TF, name)(t_in, **kw)
    np.testing.assert_allclose(np_of(r_out), np_of(t_out), rtol=1e-10, atol=1e-14)
    r_out.sum().backward()
    t_out.sum().backward()
    # PyTorch rounds some coefficients (celu's 1/alpha) to float32: 1e-6 relative.
    np.testing.assert_allclose(np_of(r_in.grad), np_of(t_in.grad), rtol=1e-6, atol=1e-12)


def _loss_inputs():
    logits = x(6, 4)
    target = np.array([0, 3, 1, 2, 3, 0])
    probs = RNG.random((6, 4))
    probs /= probs.sum(1, keepdims=True)
    return logits, target, probs


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_losses_match_pytorch(reduction):
    logits, target, probs = _loss_inputs()
    w = RNG.uniform(0.5, 2, 4)
    a, b = x(6, 4), x(6, 4)
    p = RNG.uniform(0.05, 0.95, (6, 4))
    y = (RNG.random((6, 4)) > 0.5).astype(np.float64)
    sgn = np.sign(x(6))
    cases = [
        ("mse_loss", (a, b), {}),
        ("l1_loss", (a, b), {}),
        ("smooth_l1_loss", (a, b), {"beta": 0.4}),
        ("huber_loss", (a, b), {"delta": 0.6}),
        (
            "cross_entropy",
            (logits, target),
            {"weight": w, "label_smoothing": 0.15, "ignore_index": 3},
        ),
        ("cross_entropy", (logits, probs), {"weight": w, "label_smoothing": 0.1}),
        ("cross_entropy", (x(2, 4, 3, 2), RNG.integers(0, 4, (2, 3, 2))), {}),
        ("nll_loss", (logits, target), {"weight": w}),
        ("binary_cross_entropy", (p, y), {"weight": RNG.random((6, 4))}),
        ("binary_cross_entropy_with_logits", (a, y), {"pos_weight": w}),
        ("kl_div", (a, probs), {}),
        ("kl_div", (a, b), {"log_target": True}),
        ("cosine_embedding_loss", (a, b, sgn), {"margin": 0.2}),
        ("margin_ranking_loss", (a[:, 0], b[:, 0], sgn), {"margin": 0.3}),
        ("soft_margin_loss", (a[:, 0], sgn), {}),
        ("hinge_embedding_loss", (a[:, 0], sgn), {"margin": 0.5}),
        ("poisson_nll_loss", (a, np.abs(b)), {}),
    ]
    for name, args, kw in cases:
        r_args = [r_t(v, v.dtype == np.float64 and i == 0) for i, v in enumerate(args)]
        t_args = [t_t(v, v.dtype == np.float64 and i == 0) for i, v in enumerate(args)]
        r_kw = {k: (r_t(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        t_kw = {k: (t_t(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        red = reduction if name != "kl_div" or reduction != "mean" else "batchmean"
        r_out = getattr(RF, name)(*r_args, reduction=red, **r_kw)
        t_out = getattr(TF, name)(*t_args, reduction=red, **t_kw)
        np.testing.assert_allclose(np_of(r_out), np_of(t_out), rtol=1e-10, atol=1e-12, err_msg=name)
        r_out.sum().backward()
        t_out.sum().backward()
        np.testing.assert_allclose(
            np_of(r_args[0].grad), np_of(t_args[0].grad), rtol=1e-9, atol=1e-12, err_msg=name
        )


def test_functional_utilities_match_pytorch():
    img = x(2, 3, 5, 6)
    for kw in [
        dict(size=(7, 4), mode="nearest"),
        dict(scale_factor=2.5, mode="nearest"),
        dict(size=(3, 9), mode="bilinear", align_corners=False),
        dict(scale_factor=(1.5, 0.7), mode="bilinear", align_corners=False),
        dict(size=(8, 8), mode="bilinear", align_corners=True),
        dict(scale_factor=1.7, mode="nearest-exact"),
    ]:
        np.testing.assert_allclose(
            np_of(RF.interpolate(r_t(img), **kw)),
            np_of(TF.interpolate(t_t(img), **kw)),
            rtol=1e-9,
            atol=1e-12,
            err_msg=str(kw),
        )
    for mode in ("constant", "reflect", "replicate", "circular"):
        np.testing.assert_allclose(
            np_of(RF.pad(r_t(img), (1, 2, 2, 1), mode=mode)),
            np_of(TF.pad(t_t(img), (1, 2, 2, 1), mode=mode)),
        )
    np.testing.assert_allclose(
        np_of(RF.unfold(r_t(img), (2, 3), 2, 1, (1, 2))),
        np_of(TF.unfold(t_t(img), (2, 3), 2, 1, (1, 2))),
    )
    cols = x(2, 12, 12)
    np.testing.assert_allclose(
        np_of(RF.fold(r_t(cols), (4, 5), 2, 1, 0, 1)),
        np_of(TF.fold(t_t(cols), (4, 5), 2, 1, 0, 1)),
        rtol=1e-12,
    )
    a, b = x(4, 5), x(4, 5)
    np.testing.assert_allclose(
        np_of(RF.cosine_similarity(r_t(a), r_t(b))),
        np_of(TF.cosine_similarity(t_t(a), t_t(b))),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        np_of(RF.normalize(r_t(a), p=3, dim=0)), np_of(TF.normalize(t_t(a), p=3, dim=0)), rtol=1e-12
    )
    q, k, v = x(2, 2, 4, 8), x(2, 2, 6, 8), x(2, 2, 6, 3)
    mask = RNG.random((4, 6)) > 0.3
    mask[:, 0] = True
    np.testing.assert_allclose(
        np_of(RF.scaled_dot_product_attention(r_t(q), r_t(k), r_t(v), attn_mask=r_t(mask))),
        np_of(TF.scaled_dot_product_attention(t_t(q), t_t(k), t_t(v), attn_mask=t_t(mask))),
        rtol=1e-10,
    )
    vals, idx = RF.max_pool2d(r_t(img), 3, 2, 1, return_indices=True)
    tv, ti = TF.max_pool2d(t_t(img), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(np_of(idx), np_of(ti))
    _, idx = RF.adaptive_max_pool2d(r_t(img), (2, 4), return_indices=True)
    np.testing.assert_array_equal(
        np_of(idx), np_of(TF.adaptive_max_pool2d(t_t(img), (2, 4), return_indices=True)[1])
    )


def test_default_init_distribution_matches_pytorch():
    rtorch.manual_seed(0)
    for make in (
        lambda m: m.Linear(50, 40),
        lambda m: m.Conv2d(3, 8, 3),
        lambda m: m.LSTM(4, 6),
        lambda m: m.MultiheadAttention(8, 2),
        lambda m: m.Embedding(40, 5, padding_idx=1),
    ):
        r_mod, t_mod = make(rnn), make(tnn)
        for (n, rp), (_, tp) in zip(r_mod.named_parameters(), t_mod.named_parameters()):
            ra, ta = np_of(rp), np_of(tp)
            assert ra.shape == ta.shape, n
            assert np.abs(ra).max() <= np.abs(ta).max() * 1.6 + 1e-12, n
            assert abs(ra.std() - ta.std()) <= 0.35 * ta.std() + 1e-12, n
