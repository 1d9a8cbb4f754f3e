"""torch.set_default_dtype: Python floats, float creation functions, integer-to-float
results and new layers follow it; it is restored after each test."""

import pytest

import rtorch as torch


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def test_default_is_float32():
    assert torch.get_default_dtype() == torch.float32
    assert torch.tensor([1.5]).dtype == torch.float32


def test_creation_follows_the_default(float64_default):
    assert torch.get_default_dtype() == torch.float64
    for t in (torch.tensor([1.5]), torch.tensor(2.0), torch.zeros(2), torch.ones(2, 2),
              torch.empty(3), torch.full((2,), 1.5), torch.rand(2), torch.randn(2),
              torch.arange(0.0, 1.0, 0.5), torch.linspace(0, 1, 3), torch.Tensor(2, 3),
              torch.Tensor([1, 2]), torch.tensor([])):
        assert t.dtype == torch.float64, t
    assert torch.tensor([1, 2]).dtype == torch.int64  # integers stay integers
    assert torch.full((2,), 3).dtype == torch.int64


def test_integer_to_float_results_follow_the_default(float64_default):
    i = torch.tensor([1, 2, 3])
    assert (i / 2).dtype == torch.float64
    assert (i * 1.5).dtype == torch.float64
    assert i.sqrt().dtype == torch.float64
    assert i.float().dtype == torch.float32  # explicit casts are unchanged
    f32 = torch.ones(2, dtype=torch.float32)
    assert (f32 * 2.5).dtype == torch.float32  # a wrapped number never widens a float tensor


def test_layers_and_precision(float64_default):
    layer = torch.nn.Linear(3, 2)
    assert layer.weight.dtype == torch.float64 and layer.bias.dtype == torch.float64
    x = torch.tensor([0.1, 0.2, 0.3])
    assert (x.sum() - 0.6).abs().item() < 1e-15  # float64 arithmetic, not float32


def test_half_precision_defaults_and_errors():
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.bfloat16)
        assert torch.tensor([1.5]).dtype == torch.bfloat16
    finally:
        torch.set_default_dtype(previous)
    with pytest.raises(TypeError, match="only floating-point types"):
        torch.set_default_dtype(torch.int64)
    with pytest.raises(TypeError, match="must be torch.dtype"):
        torch.set_default_dtype("float64")
    assert torch.get_default_dtype() == previous
