"""Constructor signatures, reprs, state_dict keys, errors and default inits of the layers."""

import inspect
import math
import pickle
import warnings

import pytest

import rtorch as torch
import rtorch.nn as nn

# (constructor call, repr) as PyTorch prints them.
REPRS = [
    ("ReLU()", "ReLU()"),
    ("ReLU(True)", "ReLU(inplace=True)"),
    ("ReLU6(inplace=True)", "ReLU6(inplace=True)"),
    ("Hardswish(True)", "Hardswish()"),
    ("Hardtanh()", "Hardtanh(min_val=-1.0, max_val=1.0)"),
    ("Hardtanh(-2, 3, True)", "Hardtanh(min_val=-2, max_val=3, inplace=True)"),
    ("LeakyReLU(0.2, True)", "LeakyReLU(negative_slope=0.2, inplace=True)"),
    ("ELU()", "ELU(alpha=1.0)"),
    ("CELU(2.0, True)", "CELU(alpha=2.0, inplace=True)"),
    ("GELU('tanh')", "GELU(approximate='tanh')"),
    ("Softmax()", "Softmax(dim=None)"),
    ("LogSoftmax(dim=-1)", "LogSoftmax(dim=-1)"),
    ("Softmax2d()", "Softmax2d()"),
    ("GLU()", "GLU(dim=-1)"),
    ("Softplus(2, 10)", "Softplus(beta=2, threshold=10)"),
    ("Threshold(0.1, 20, True)", "Threshold(threshold=0.1, value=20, inplace=True)"),
    ("Softshrink(0.3)", "Softshrink(0.3)"),
    ("RReLU()", "RReLU(lower=0.125, upper=0.3333333333333333)"),
    ("PReLU(3, 0.1)", "PReLU(num_parameters=3)"),
    ("Dropout()", "Dropout(p=0.5, inplace=False)"),
    ("AlphaDropout(0.3)", "AlphaDropout(p=0.3, inplace=False)"),
    ("Flatten(0, 2)", "Flatten(start_dim=0, end_dim=2)"),
    ("Unflatten(1, (2, 3))", "Unflatten(dim=1, unflattened_size=(2, 3))"),
    (
        "MaxPool2d(3, 2, 1, 1, True, True)",
        "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)",
    ),
    ("AvgPool1d(3)", "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"),
    (
        "AvgPool2d((2, 2), 1, 0, True, False, 3)",
        "AvgPool2d(kernel_size=(2, 2), stride=1, padding=0)",
    ),
    ("AdaptiveAvgPool2d((2, None))", "AdaptiveAvgPool2d(output_size=(2, None))"),
    ("AdaptiveMaxPool2d(3, True)", "AdaptiveMaxPool2d(output_size=3)"),
    ("Linear(3, 4, False)", "Linear(in_features=3, out_features=4, bias=False)"),
    ("Bilinear(2, 3, 4)", "Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)"),
    ("Identity(5, a=3)", "Identity()"),
    ("Embedding(10, 3, norm_type=2)", "Embedding(10, 3)"),
    (
        "Embedding(10, 3, padding_idx=-1, max_norm=1.0, norm_type=1.0, "
        "scale_grad_by_freq=True, sparse=True)",
        "Embedding(10, 3, padding_idx=9, max_norm=1.0, norm_type=1.0, "
        "scale_grad_by_freq=True, sparse=True)",
    ),
    (
        "Conv1d(2, 4, 3, padding='valid')",
        "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=valid)",
    ),
    (
        "Conv2d(2, 4, 3, stride=2, padding=1, dilation=2, groups=2, bias=False, "
        "padding_mode='reflect')",
        "Conv2d(2, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
        "groups=2, bias=False, padding_mode=reflect)",
    ),
    (
        "ConvTranspose2d(2, 4, 3, 2, 1, 1, 2, False, 2)",
        "ConvTranspose2d(2, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "dilation=(2, 2), output_padding=(1, 1), groups=2, bias=False)",
    ),
    ("CrossEntropyLoss(label_smoothing=0.1)", "CrossEntropyLoss()"),
]


@pytest.mark.parametrize("call,expected", REPRS, ids=[c for c, _ in REPRS])
def test_repr(call, expected):
    assert repr(eval("nn." + call)) == expected


@pytest.mark.parametrize("call", [c for c, _ in REPRS])
def test_repr_matches_pytorch(call):
    ref = pytest.importorskip("torch")
    assert repr(eval("nn." + call)) == repr(eval("nn." + call, {"nn": ref.nn}))


def test_positional_order_and_attributes():
    m = nn.Hardtanh(-2.0, 3.0, True)
    assert (m.min_val, m.max_val, m.inplace) == (-2.0, 3.0, True)
    m = nn.NLLLoss(None, None, 7)
    assert (m.ignore_index, m.reduction) == (7, "mean")
    m = nn.PoissonNLLLoss(False, True, None, 1e-3)
    assert (m.log_input, m.full, m.eps) == (False, True, 1e-3)
    m = nn.MaxPool1d(3)
    assert m.stride == 3 and m.return_indices is False
    m = nn.ConvTranspose1d(2, 4, 3, 2, 1, 1, 1, True, 2)
    assert (m.stride, m.padding, m.output_padding, m.dilation) == ((2,), (1,), (1,), (2,))
    assert nn.Conv2d(2, 4, 3).kernel_size == (3, 3)
    assert nn.Conv2d(2, 4, 3, padding="same").padding == "same"
    assert list(inspect.signature(nn.Threshold).parameters) == ["threshold", "value", "inplace"]
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)
    with pytest.raises(TypeError):
        nn.ReLU(foo=1)


def test_deprecated_reduction_flags():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = nn.MSELoss(size_average=False)
    assert m.reduction == "sum" and not hasattr(m, "size_average")
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    with pytest.warns(FutureWarning, match="min_value"):
        assert nn.Hardtanh(min_value=-3).min_val == -3


def test_state_dict_keys():
    assert list(nn.Linear(3, 4).state_dict()) == ["weight", "bias"]
    assert list(nn.Linear(3, 4, bias=False).state_dict()) == ["weight"]
    assert "bias" in nn.Linear(3, 4, bias=False)._parameters
    assert list(nn.Conv2d(2, 4, 3, bias=False).state_dict()) == ["weight"]
    assert list(nn.PReLU(2).state_dict()) == ["weight"]
    assert list(nn.NLLLoss(torch.ones(3)).state_dict()) == ["weight"]
    assert list(nn.NLLLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=torch.ones(2)).state_dict()) == ["pos_weight"]
    assert list(nn.ReLU().state_dict()) == []


def test_shapes_of_parameters():
    assert tuple(nn.Conv2d(4, 6, (3, 5), groups=2).weight.shape) == (6, 2, 3, 5)
    assert tuple(nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape) == (4, 3, 3, 3)
    assert tuple(nn.Bilinear(2, 3, 4).weight.shape) == (4, 2, 3)
    emb = nn.Embedding(5, 2, padding_idx=-2)
    assert emb.padding_idx == 3 and emb.weight[3].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "call,error,message",
    [
        ("nn.Hardtanh(2, 1)", AssertionError, r"max_val \(1\) must be greater than min_val \(2\)"),
        ("nn.Dropout(1.5)", ValueError, "between 0 and 1, but got 1.5"),
        ("nn.Unflatten(1, 3)", TypeError, "found type int"),
        ("nn.Unflatten(1, (2, 'a'))", TypeError, "element of type str at pos 1"),
        ("nn.Embedding(5, 2, padding_idx=5)", AssertionError, "Padding_idx must be within"),
        ("nn.Embedding.from_pretrained(torch.ones(4))", AssertionError, "2-dimensional"),
        ("nn.Conv2d(3, 4, 3, groups=2)", ValueError, "in_channels must be divisible by groups"),
        ("nn.Conv2d(2, 3, 3, groups=2)", ValueError, "out_channels must be divisible by groups"),
        ("nn.Conv2d(2, 4, 3, groups=0)", ValueError, "groups must be a positive integer"),
        ("nn.Conv2d(2, 4, 3, padding='foo')", ValueError, "Invalid padding string 'foo'"),
        ("nn.Conv2d(2, 4, 3, stride=2, padding='same')", ValueError, "strided convolutions"),
        ("nn.Conv2d(2, 4, 3, padding_mode='x')", ValueError, "but got padding_mode='x'"),
        ("nn.ConvTranspose1d(2, 4, 3, padding_mode='reflect')", ValueError, "ConvTranspose1d"),
        ("nn.TripletMarginLoss(margin=0)", ValueError, "greater than 0, got 0 instead"),
        ("nn.Bilinear(0, 3, 2)", ValueError, r"in1_features must be > 0"),
        ("nn.Softmax2d()(torch.ones(2))", ValueError, "3D or 4D, got 1D instead"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        eval(call)


def test_conv_transpose_output_size():
    m = nn.ConvTranspose2d(2, 4, 3, stride=2)
    x = torch.ones(1, 2, 5, 5)
    assert tuple(m(x, output_size=(12, 12)).shape) == (1, 4, 12, 12)
    assert tuple(m(x, output_size=(1, 4, 11, 11)).shape) == (1, 4, 11, 11)
    with pytest.raises(ValueError, match=r"valid sizes range from \[11, 11\] to \[12, 12\]"):
        m(x, output_size=(20, 20))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        m(x, output_size=(1, 20, 20))


def test_padding_modes_pad_explicitly():
    m = nn.Conv2d(2, 4, (3, 4), padding="same", dilation=(1, 2), padding_mode="circular")
    assert list(m._reversed_padding_repeated_twice) == [3, 3, 1, 1]
    assert tuple(m(torch.ones(1, 2, 6, 7)).shape) == (1, 4, 6, 7)
    assert tuple(nn.Conv2d(2, 4, 3, padding=(1, 2))._reversed_padding_repeated_twice) == (
        2,
        2,
        1,
        1,
    )


def test_default_init_bounds():
    torch.manual_seed(0)
    for layer, fan_in in (
        (nn.Linear(50, 40), 50),
        (nn.Conv2d(3, 8, 3), 27),
        (nn.ConvTranspose2d(3, 8, 3), 72),
        (nn.Bilinear(20, 30, 10), 20),
    ):
        bound = 1 / math.sqrt(fan_in)
        for p in (layer.weight, layer.bias):
            assert float(p.abs().max()) <= bound
            assert float(p.abs().max()) > 0.8 * bound
    assert float(nn.PReLU(4, 0.1).weight.sum()) == pytest.approx(0.4)


def test_uniform_fan_in_helper():
    w, b = torch.empty(6, 4), torch.empty(6)
    nn.init._uniform_fan_in_(w, b)
    assert float(w.abs().max()) <= 0.5 and float(b.abs().max()) <= 0.5
    nn.init._uniform_fan_in_(w, b, fan_in=0)
    assert float(b.abs().max()) == 0.0


def test_zero_element_linear_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        nn.Linear(0, 3)


def test_gains_and_fans():
    init = nn.init
    assert init.calculate_gain("conv_transpose3d") == 1
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    with pytest.raises(ValueError, match=r"Mode fan_x not supported, please use one of \['fan_in'"):
        init.kaiming_uniform_(torch.empty(3, 4), mode="fan_x")
    assert init._calculate_correct_fan(torch.empty(3, 4, 2), "FAN_OUT") == 6
    for call in (
        "eye_(torch.empty(3))",
        "dirac_(torch.empty(3, 3))",
        "orthogonal_(torch.empty(3))",
    ):
        with pytest.raises(ValueError, match="Only tensors with"):
            eval("init." + call)


def test_init_values():
    init = nn.init
    w = init.dirac_(torch.empty(4, 2, 3), groups=2)
    assert float(w.sum()) == 4.0 and float(w[3, 1, 1]) == 1.0
    q = init.orthogonal_(torch.empty(3, 5))
    assert torch.allclose(q @ q.t(), torch.eye(3), atol=1e-5)
    t = init.trunc_normal_(torch.empty(2000), mean=0.5, std=1.0, a=-1.0, b=1.0)
    assert float(t.min()) >= -1.0 and float(t.max()) <= 1.0
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(torch.empty(3), mean=10.0)
    s = init.sparse_(torch.empty(10, 4), 0.3)
    assert all(int((s[:, c] == 0).sum()) >= 3 for c in range(4))
    with pytest.warns(FutureWarning, match="nn.init.uniform_"):
        init.uniform(torch.empty(3))
    x = torch.empty(5, 6)
    init.xavier_uniform_(x, gain=2.0)
    assert float(x.abs().max()) <= 2.0 * math.sqrt(6.0 / 11)


def test_functional_forwarding_and_pickle():
    x = torch.tensor([[-2.0, -0.5, 0.5, 2.0]])
    assert nn.LeakyReLU(0.5)(x).tolist() == [[-1.0, -0.25, 0.5, 2.0]]
    assert nn.ReLU6()(x * 4).tolist() == [[0.0, 0.0, 2.0, 6.0]]
    assert nn.Hardtanh(-1.0, 1.0)(x).tolist() == [[-1.0, -0.5, 0.5, 1.0]]
    assert nn.Threshold(1.0, 9.0)(x).tolist() == [[9.0, 9.0, 9.0, 2.0]]
    m = pickle.loads(pickle.dumps(nn.ELU(0.5)))
    assert m.alpha == 0.5 and repr(m) == "ELU(alpha=0.5)"
    state = nn.Softmax(1).__dict__.copy()
    del state["dim"]
    old = nn.Softmax.__new__(nn.Softmax)
    old.__setstate__(state)
    assert old.dim is None
    d = nn.Dropout(0.9).eval()
    assert d(x).tolist() == x.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Softmax(dim=1)(x)


def test_loss_subclassing_contract():
    class Scaled(nn.modules.loss._Loss):
        def __init__(self, k):
            super().__init__(reduction="sum")
            self.k = k

        def forward(self, a, b):
            return ((a - b) ** 2).sum() * self.k

    m = Scaled(2)
    assert m.reduction == "sum" and float(m(torch.ones(2), torch.zeros(2))) == 4.0
    w = nn.modules.loss._WeightedLoss(torch.ones(3))
    assert list(w.state_dict()) == ["weight"]


def test_inputs_by_keyword():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0])
    assert float(nn.MSELoss()(input=x, target=y)) == 2.0
    assert nn.ReLU()(input=-x).tolist() == [0.0, 0.0]
