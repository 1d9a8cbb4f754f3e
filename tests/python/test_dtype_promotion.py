"""PyTorch's type promotion: promote_types, result_type, can_cast, and the dtypes binary ops
produce for tensor/0-dim tensor/Python-scalar operands."""

import itertools

import numpy as np
import pytest
from tensor_helpers import ALL_DTYPES, np_dtype

import rtorch as torch

ALL = [*ALL_DTYPES, torch.float16, torch.bfloat16]
FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
FLOAT_RANK = {torch.float16: 0, torch.bfloat16: 0, torch.float32: 1, torch.float64: 2}


def expected_promotion(a, b):
    """PyTorch's table: within ints/bool as numpy; int with float → the float; f16+bf16 → f32."""
    fa, fb = a in FLOATS, b in FLOATS
    if fa and fb:
        if {a, b} == {torch.float16, torch.bfloat16}:
            return torch.float32
        return a if FLOAT_RANK[a] >= FLOAT_RANK[b] else b
    if fa or fb:
        return a if fa else b
    npd = np.promote_types(np_dtype(a), np_dtype(b)).type
    return next(d for d in ALL_DTYPES if np_dtype(d) == npd)


@pytest.mark.parametrize("a,b", list(itertools.product(ALL, ALL)))
def test_promote_types_table(a, b):
    assert torch.promote_types(a, b) == expected_promotion(a, b)


@pytest.mark.parametrize("a,b", list(itertools.product(ALL, ALL)))
def test_tensor_tensor_add_dtype(a, b):
    x = torch.ones(2, dtype=a)
    y = torch.ones(2, dtype=b)
    assert (x + y).dtype == expected_promotion(a, b)
    assert torch.result_type(x, y) == expected_promotion(a, b)


# (tensor dtype, other operand, expected result dtype)
MIXED = [
    (torch.int32, 1, torch.int32),
    (torch.uint8, 1000, torch.uint8),
    (torch.int8, 2.5, torch.float32),
    (torch.int64, 2.5, torch.float32),
    (torch.bool, 1, torch.int64),
    (torch.bool, 1.0, torch.float32),
    (torch.bool, True, torch.bool),
    (torch.float16, 2.5, torch.float16),
    (torch.float16, 2, torch.float16),
    (torch.float64, 2, torch.float64),
    (torch.float32, 1e300, torch.float32),
    # 0-dim tensors count less than dimensioned ones, but more than Python scalars
    (torch.int32, ("0d", torch.int64), torch.int32),
    (torch.int32, ("0d", torch.float64), torch.float64),
    (torch.float32, ("0d", torch.float64), torch.float32),
    (torch.float16, ("0d", torch.float64), torch.float16),
    (torch.uint8, ("0d", torch.int8), torch.uint8),
    (torch.bool, ("0d", torch.int32), torch.int32),
    (torch.int64, ("0d", torch.float16), torch.float16),
]


@pytest.mark.parametrize("dtype,other,expected", MIXED)
@pytest.mark.parametrize("op", ["add", "mul", "sub", "radd"])
def test_mixed_operand_promotion(dtype, other, expected, op):
    if op == "sub" and (dtype == torch.bool and (other is True or other == ("0d", torch.bool))):
        pytest.skip("bool subtraction is an error")
    x = torch.ones(3, dtype=dtype)
    o = torch.tensor(1, dtype=other[1]) if isinstance(other, tuple) else other
    r = {"add": lambda: x + o, "mul": lambda: x * o, "sub": lambda: x - o, "radd": lambda: o + x}[
        op
    ]()
    assert r.dtype == expected
    assert torch.result_type(x, o) == expected


def test_zero_dim_pair_promotes_normally():
    a = torch.tensor(1, dtype=torch.int32)
    b = torch.tensor(1.0, dtype=torch.float64)
    assert (a + b).dtype == torch.float64 and (a + b).dim() == 0
    assert (torch.tensor(1.0) + 1).dtype == torch.float32
    assert (torch.tensor(1) + 1.5).dtype == torch.float32


def test_uint8_wraps_like_pytorch():
    x = torch.tensor([250], dtype=torch.uint8)
    assert (x + 10).tolist() == [4]
    assert (x * 2).dtype == torch.uint8


def test_true_division_of_ints_is_float():
    assert (torch.tensor([1, 2]) / torch.tensor([2, 4])).dtype == torch.float32
    assert (torch.tensor([1, 2]) / 2).tolist() == [0.5, 1.0]
    assert torch.tensor([3], dtype=torch.int32).div(2).dtype == torch.float32
    assert (torch.tensor([True]) / 2).dtype == torch.float32
    assert torch.tensor([7, -7]).div(2, rounding_mode="floor").tolist() == [3, -4]
    assert torch.tensor([7, -7]).div(2, rounding_mode="trunc").tolist() == [3, -3]
    assert torch.tensor([7, -7]).div(2, rounding_mode="floor").dtype == torch.int64
    assert (torch.tensor([1.0], dtype=torch.float64) / 2).dtype == torch.float64


@pytest.mark.parametrize(
    "op", ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"]
)
@pytest.mark.parametrize(
    "a,b", [(torch.int32, torch.float64), (torch.uint8, torch.bool), (torch.float16, torch.int64)]
)
def test_comparisons_and_logical_return_bool(op, a, b):
    assert getattr(torch.ones(2, dtype=a), op)(torch.ones(2, dtype=b)).dtype == torch.bool


@pytest.mark.parametrize("name", ["sqrt", "exp", "sin", "log", "sigmoid", "tanh", "erf"])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_float_unary_on_ints_gives_default_float(name, dtype):
    assert getattr(torch.ones(2, dtype=dtype), name)().dtype == torch.float32


@pytest.mark.parametrize(
    "name", ["neg", "abs", "square", "floor", "ceil", "round", "trunc", "sign"]
)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16])
def test_int_preserving_unary(name, dtype):
    assert getattr(torch.ones(2, dtype=dtype), name)().dtype == dtype


CASTS = [
    (torch.float32, torch.int32, False),
    (torch.int32, torch.float32, True),
    (torch.int64, torch.bool, False),
    (torch.bool, torch.int8, True),
    (torch.float64, torch.float16, True),
    (torch.uint8, torch.int8, True),
    (torch.float16, torch.uint8, False),
]


@pytest.mark.parametrize("a,b,ok", CASTS)
def test_can_cast(a, b, ok):
    assert torch.can_cast(a, b) is ok


def test_inplace_cannot_downcast_category():
    x = torch.ones(2, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.mul_(torch.ones(2))
    b = torch.ones(2, dtype=torch.bool)
    with pytest.raises(RuntimeError):
        b.add_(torch.ones(2, dtype=torch.int64))
    y = torch.ones(2)
    y.add_(torch.ones(2, dtype=torch.float64))  # same category: allowed, stays float32
    assert y.dtype == torch.float32 and y.tolist() == [2.0, 2.0]
    z = torch.ones(2, dtype=torch.float16)
    z += 1
    assert z.dtype == torch.float16


def test_result_type_with_scalars():
    assert torch.result_type(torch.ones(1, dtype=torch.int8), 1) == torch.int8
    assert torch.result_type(torch.ones(1, dtype=torch.int8), 1.0) == torch.float32
    assert torch.result_type(torch.ones(1, dtype=torch.float16), 1.0) == torch.float16
    assert torch.result_type(torch.tensor(1.0, dtype=torch.float64), torch.ones(1)) == torch.float32


def test_reductions_promote_ints_to_int64():
    for d in [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32]:
        x = torch.ones(3, dtype=d)
        assert x.sum().dtype == torch.int64
        assert x.prod().dtype == torch.int64
        assert x.cumsum(0).dtype == torch.int64
    assert torch.ones(3, dtype=torch.int32).sum(dtype=torch.float64).dtype == torch.float64
    assert torch.ones(3, dtype=torch.float16).sum().dtype == torch.float16
    assert torch.ones(3).max().dtype == torch.float32
    assert torch.ones(3, dtype=torch.int16).amax().dtype == torch.int16
