"""torch.finfo / torch.iinfo limits, and the in-place module functions (torch.relu_(x) …)."""

import numpy as np
import pytest

import rtorch as torch


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_numpy(name):
    ours, ref = torch.finfo(getattr(torch, name)), np.finfo(name)
    assert ours.bits == ref.bits and ours.eps == float(ref.eps)
    assert ours.max == float(ref.max) and ours.min == float(ref.min)
    assert ours.tiny == float(ref.tiny) == ours.smallest_normal
    assert ours.resolution == pytest.approx(float(ref.resolution), rel=1e-3)  # a power of ten
    assert ours.dtype == name


def test_finfo_bfloat16_and_default():
    b = torch.finfo(torch.bfloat16)
    assert (b.bits, b.eps, b.resolution) == (16, 2.0**-7, 0.01)
    assert b.max == 3.3895313892515355e38 == -b.min
    assert b.tiny == torch.finfo(torch.float32).tiny
    assert torch.finfo() == torch.finfo(torch.float32)
    assert repr(torch.finfo(torch.float32)).startswith("finfo(resolution=1e-06, min=-3.40282e+38")


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_numpy(name):
    ours, ref = torch.iinfo(getattr(torch, name)), np.iinfo(name)
    assert (ours.bits, ours.min, ours.max, ours.dtype) == (ref.bits, ref.min, ref.max, name)


def test_info_type_errors():
    with pytest.raises(TypeError, match="requires a floating point input type"):
        torch.finfo(torch.int32)
    with pytest.raises(TypeError, match="requires an integer input type"):
        torch.iinfo(torch.float32)
    with pytest.raises(TypeError, match="bool is not supported"):
        torch.iinfo(torch.bool)


@pytest.mark.parametrize("name", ["relu_", "exp_", "sqrt_", "tanh_", "neg_", "sigmoid_", "floor_"])
def test_inplace_module_functions_write_into_their_input(name):
    x = torch.tensor([0.25, 1.5, 4.0])
    expected = getattr(x.clone(), name.rstrip("_"))()
    result = getattr(torch, name)(x)
    assert result is x
    np.testing.assert_allclose(x.tolist(), expected.tolist(), rtol=1e-6)


def test_clamp_and_fill_module_functions():
    x = torch.tensor([-2.0, 0.5, 3.0])
    torch.clamp_(x, min=-1.0, max=1.0)
    assert x.tolist() == [-1.0, 0.5, 1.0]
    torch.fill_(x, 7.0)
    assert x.tolist() == [7.0, 7.0, 7.0]
    assert torch.is_signed(x) and not torch.is_signed(torch.tensor([1], dtype=torch.uint8))
