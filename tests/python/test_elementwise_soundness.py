"""Soundness of the elementwise family: PyTorch's overflow checks when a Python number is
stored into a narrower dtype, isclose/allclose on infinities and NaN, addcmul/addcdiv
promotion, integer division by zero, shifts past the bit width, in-place writes into
self-overlapping tensors, and empty / 0-d / non-contiguous / broadcast inputs of every kernel
(empty views with a non-zero storage offset included)."""

import numpy as np
import pytest
from tensor_helpers import assert_np, f64, gradcheck, make

import rtorch as torch

OVERFLOW = "value cannot be converted to type {} without overflow"


# ---- storing Python numbers into narrower dtypes ------------------------------------------


@pytest.mark.parametrize(
    "value,dtype,cname",
    [
        (300, torch.uint8, "uint8_t"),
        (-256, torch.uint8, "uint8_t"),
        (-1.5, torch.uint8, "uint8_t"),
        (128, torch.int8, "int8_t"),
        (-129, torch.int8, "int8_t"),
        (40000, torch.int16, "int16_t"),
        (2**31, torch.int32, "int"),
        (1e19, torch.int64, "int64_t"),
        (float("nan"), torch.int32, "int"),
        (float("inf"), torch.int64, "int64_t"),
        (70000, torch.float16, "at::Half"),
        (1e300, torch.float32, "float"),
        (1e39, torch.bfloat16, "at::BFloat16"),
    ],
)
def test_full_fill_masked_fill_setitem_overflow(value, dtype, cname):
    msg = OVERFLOW.format(cname).replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(RuntimeError, match=msg):
        torch.full((2,), value, dtype=dtype)
    x = torch.zeros(3, dtype=dtype)
    with pytest.raises(RuntimeError, match=msg):
        x.fill_(value)
    mask = torch.tensor([True, False, True])
    with pytest.raises(RuntimeError, match=msg):
        x.masked_fill(mask, value)
    with pytest.raises(RuntimeError, match=msg):
        x.masked_fill_(mask, value)
    with pytest.raises(RuntimeError, match=msg):
        x[1] = value
    with pytest.raises(RuntimeError, match=msg):
        x[mask] = value
    # nothing was written
    assert x.tolist() == torch.zeros(3, dtype=dtype).tolist()


@pytest.mark.parametrize(
    "value,dtype,expected",
    [
        (-1, torch.uint8, 255),  # negative integers wrap into uint8 (down to -255)
        (-255, torch.uint8, 1),
        (255, torch.uint8, 255),
        (127, torch.int8, 127),
        (-128, torch.int8, -128),
        (2.9, torch.int32, 2),  # floats truncate toward zero
        (-2.9, torch.int32, -2),
        (7, torch.bool, True),  # nothing overflows bool
        (float("inf"), torch.float16, float("inf")),
        (float("-inf"), torch.float32, float("-inf")),
        (65504, torch.float16, 65504.0),
    ],
)
def test_full_fill_in_range(value, dtype, expected):
    assert torch.full((2,), value, dtype=dtype).tolist() == [expected] * 2
    x = torch.zeros(2, dtype=dtype)
    x.fill_(value)
    assert x.tolist() == [expected] * 2
    x = torch.zeros(2, dtype=dtype)
    x[0] = value
    assert x.tolist()[0] == expected
    assert torch.zeros(2, dtype=dtype).masked_fill(torch.tensor([True, False]), value).tolist()[
        0
    ] == expected


def test_nan_fills_float():
    assert np.isnan(torch.full((1,), float("nan"), dtype=torch.float16).item())


def test_arithmetic_with_out_of_range_scalar_wraps():
    # binary ops cast the wrapped number like PyTorch (no overflow check)
    x = torch.tensor([1, 2], dtype=torch.uint8)
    assert (x + 300).tolist() == [45, 46]
    assert (x * 256).tolist() == [0, 0]
    assert x.add_(255).tolist() == [0, 1]


def test_clamp_bound_overflow():
    x = torch.tensor([1, 200], dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="uint8_t without overflow"):
        x.clamp(max=300)
    assert x.clamp(max=100).tolist() == [1, 100]
    with pytest.raises(RuntimeError, match="at::Half without overflow"):
        torch.ones(2, dtype=torch.float16).clamp(min=-1e9)
    # a float bound promotes an integer tensor to float32 first
    assert x.clamp(max=1e10).dtype == torch.float32


# ---- isclose / allclose ----------------------------------------------------------------------


def test_isclose_infinities_and_nan():
    inf, nan = float("inf"), float("nan")
    a = torch.tensor([1.0, inf, -inf, inf, 1e30, nan, nan, 0.0])
    b = torch.tensor([inf, inf, -inf, -inf, inf, nan, 1.0, -0.0])
    assert torch.isclose(a, b).tolist() == [False, True, True, False, False, False, False, True]
    assert torch.isclose(a, b, equal_nan=True).tolist() == [
        False, True, True, False, False, True, False, True,
    ]
    assert not torch.allclose(torch.tensor([1.0]), torch.tensor([inf]))
    assert not torch.allclose(torch.tensor([inf]), torch.tensor([1.0]), atol=1e30)
    assert torch.allclose(torch.tensor([inf, 2.0]), torch.tensor([inf, 2.0]))
    assert not torch.allclose(torch.tensor([nan]), torch.tensor([nan]))
    assert torch.allclose(torch.tensor([nan]), torch.tensor([nan]), equal_nan=True)
    # matches numpy away from the infinities
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5))
    y = x + rng.normal(size=(4, 5)) * 1e-6
    got = torch.isclose(torch.tensor(x), torch.tensor(y), rtol=1e-6, atol=1e-7)
    assert got.tolist() == np.isclose(x, y, rtol=1e-6, atol=1e-7).tolist()


def test_isclose_broadcast_zero_tolerance_ints_and_errors():
    a = torch.tensor([[1.0], [2.0]])
    b = torch.tensor([1.0, 2.0, 3.0])
    assert torch.isclose(a, b).tolist() == [[True, False, False], [False, True, False]]
    assert torch.isclose(a.t(), a.t()).shape == (1, 2)
    # zero tolerances: plain equality
    assert torch.isclose(torch.tensor([1.0]), torch.tensor([1.0 + 1e-7]), rtol=0, atol=0).tolist() == [
        False
    ]
    # integers compare through their difference
    i = torch.tensor([1, 5, 10])
    assert torch.isclose(i, torch.tensor([1, 6, 12]), rtol=0, atol=1).tolist() == [True, True, False]
    assert torch.isclose(torch.tensor([True, False]), torch.tensor([True, True])).tolist() == [
        True,
        False,
    ]
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        torch.isclose(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64))
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        torch.isclose(torch.tensor([1.0]), torch.tensor([1.0]), rtol=-1)
    with pytest.raises(RuntimeError, match="atol must be greater than or equal to zero"):
        torch.allclose(torch.tensor([1.0]), torch.tensor([1.0]), atol=-1)
    # empty and empty-offset views
    e = torch.zeros(3, 0)[2:]
    assert torch.isclose(e, e).shape == (1, 0)
    assert torch.allclose(e, e)


# ---- addcmul / addcdiv -----------------------------------------------------------------------


def test_addcmul_promotes_before_computing():
    # float32 tensors into a float64 self: the product is computed in float64
    s = torch.zeros(1, dtype=torch.float64)
    t1 = torch.tensor([16777217.0], dtype=torch.float64).float()  # 2**24 + 1 rounds in f32
    t2 = torch.tensor([3.0])
    big = torch.tensor([1.0 + 2**-30], dtype=torch.float64)
    r = torch.addcmul(s, big, big, value=1)
    assert r.dtype == torch.float64 and r.item() == (1.0 + 2**-30) ** 2
    r = torch.addcmul(s, t1, t2)
    assert r.dtype == torch.float64
    # int32 products would wrap; a float self promotes them first
    s = torch.zeros(1)
    a = torch.tensor([100000], dtype=torch.int32)
    assert torch.addcmul(s, a, a).item() == 1e10
    # integer tensors keep their dtype; a float value is truncated like PyTorch's kernel
    i = torch.tensor([1, 2], dtype=torch.int64)
    r = torch.addcmul(i, i, i, value=2.7)
    assert r.dtype == torch.int64 and r.tolist() == [3, 10]
    # 0-d tensors do not promote dimensioned ones of the same category
    r = torch.addcmul(torch.zeros(2), torch.tensor(2.0, dtype=torch.float64), torch.ones(2))
    assert r.dtype == torch.float32
    r = torch.addcmul(torch.zeros(2, dtype=torch.int32), torch.tensor(2.0), torch.ones(2, dtype=torch.int32))
    assert r.dtype == torch.float32


def test_addcmul_addcdiv_values_grads_and_inplace():
    rng = np.random.default_rng(1)
    a, ta = make((2, 3), torch.float64, rng)
    b, tb = make((3,), torch.float32, rng)
    c, tc = make((2, 1), torch.float32, rng, low=0.5)
    r = torch.addcmul(ta, tb, tc, value=0.5)
    assert_np(r, a + 0.5 * b.astype(np.float64) * c.astype(np.float64))
    r = torch.addcdiv(ta, tb, tc, value=2)
    assert_np(r, a + 2 * b.astype(np.float64) / c.astype(np.float64))
    gradcheck(lambda x, y, w: torch.addcdiv(x, y, w, value=-1.5), f64((2, 3)), f64((3,)), f64((2, 1), low=0.5))
    gradcheck(lambda x, y, w: torch.addcmul(x, y, w, value=3), f64((2, 3), layout="transposed"), f64((3,)), f64(()))
    # in place: computed in the common dtype, written back into self
    s = torch.zeros(2, dtype=torch.float32)
    s.addcmul_(torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([3.0, 4.0], dtype=torch.float64))
    assert s.dtype == torch.float32 and s.tolist() == [3.0, 8.0]
    s = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        s.addcmul_(torch.ones(2), torch.ones(2))
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        s.addcdiv_(torch.ones(2), torch.ones(2))


def test_addcdiv_integer_raises():
    i = torch.tensor([4, 6])
    msg = "Integer division with addcdiv is no longer supported"
    with pytest.raises(RuntimeError, match=msg):
        torch.addcdiv(torch.zeros(2), i, torch.tensor([2, 3]))
    with pytest.raises(RuntimeError, match=msg):
        torch.addcdiv(i, i, torch.tensor([True, True]))
    with pytest.raises(RuntimeError, match=msg):
        torch.zeros(2).addcdiv_(i, i)
    # one float operand is enough
    assert torch.addcdiv(i, i, torch.tensor([2.0, 3.0])).tolist() == [6.0, 8.0]


# ---- integer division by zero, shifts, powers ------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_integer_division_by_zero_raises(dtype):
    a = torch.tensor([5, 6], dtype=dtype)
    z = torch.tensor([1, 0], dtype=dtype)
    for f in [
        lambda: a // 0,
        lambda: a % 0,
        lambda: torch.fmod(a, 0),
        lambda: torch.fmod(a, z),
        lambda: torch.remainder(a, z),
        lambda: torch.floor_divide(a, z),
        lambda: torch.div(a, z, rounding_mode="trunc"),
        lambda: torch.div(a, z, rounding_mode="floor"),
        lambda: a.fmod_(z),
        lambda: 7 % z,
    ]:
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f()
    # a zero-size result evaluates nothing
    assert (a[:0] // torch.tensor(0, dtype=dtype)).shape == (0,)
    # a broadcast divisor is checked once per stored element
    assert (a // torch.tensor([2], dtype=dtype).expand(2)).tolist() == [2, 3]
    # true division and float division by zero are fine
    assert torch.isinf(a / 0).all()
    assert torch.isnan(torch.fmod(torch.tensor([1.0]), 0)).all()


def test_fmod_int_extremes():
    m = torch.tensor([-(2**63)], dtype=torch.int64)
    assert torch.fmod(m, -1).tolist() == [0]
    assert torch.remainder(m, -1).tolist() == [0]


@pytest.mark.parametrize("dtype,bits", [(torch.int8, 8), (torch.int16, 16), (torch.int32, 32), (torch.int64, 64)])
def test_shifts_past_bit_width_signed(dtype, bits):
    x = torch.tensor([5, -5, 1, -1], dtype=dtype)
    for s in [bits, bits + 1, 100, -1, -100]:
        sh = torch.tensor([s] * 4, dtype=torch.int64).to(dtype) if -(2 ** (bits - 1)) <= s < 2 ** (bits - 1) else None
        if sh is None:
            continue
        assert (x << sh).tolist() == [0, 0, 0, 0], s
        assert (x >> sh).tolist() == [0, -1, 0, -1], s
    assert (x << (bits - 1)).tolist()[2] == -(2 ** (bits - 1))
    assert (x >> (bits - 1)).tolist() == [0, -1, 0, -1]
    assert (x >> 1).tolist() == [2, -3, 0, -1]
    assert (x << 1).tolist() == [10, -10, 2, -2]


def test_shifts_uint8_and_scalar_forms():
    x = torch.tensor([1, 128, 255], dtype=torch.uint8)
    assert (x << 8).tolist() == [0, 0, 0]
    assert (x >> 8).tolist() == [0, 0, 0]
    assert (x >> 7).tolist() == [0, 1, 1]
    assert (x << 7).tolist() == [128, 0, 128]
    assert (x << torch.tensor([200, 3, 9], dtype=torch.uint8)).tolist() == [0, 0, 0]
    assert torch.bitwise_left_shift(torch.tensor([1], dtype=torch.int32), 40).tolist() == [0]
    assert torch.bitwise_right_shift(torch.tensor([-8], dtype=torch.int32), 40).tolist() == [-1]
    with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
        torch.tensor([True]) << torch.tensor([True])
    with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
        torch.tensor([1.0]) >> 1


def test_integer_pow_negative_tensor_exponent():
    base = torch.tensor([2, 1, -1, -1, 0, 3])
    exp = torch.tensor([-1, -3, -3, -2, 2, 0])
    assert torch.pow(base, exp).tolist() == [0, 1, -1, 1, 0, 1]
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        base ** -2


# ---- in-place writes into self-overlapping tensors -------------------------------------------

OVERLAP = "unsupported operation: more than one element of the written-to tensor refers to a single memory location"


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.add_(1),
        lambda x: x.mul_(torch.ones(3)),
        lambda x: x.sub_(1),
        lambda x: x.exp_(),
        lambda x: x.clamp_(min=0),
        lambda x: x.copy_(torch.ones(3)),
        lambda x: x.pow_(2),
        lambda x: x.uniform_(),
        lambda x: x.__setitem__(slice(None), torch.ones(3)),
    ],
)
def test_inplace_into_expanded_raises(op):
    base = torch.zeros(1)
    x = base.expand(3)
    with pytest.raises(RuntimeError, match=OVERLAP):
        op(x)
    assert base.tolist() == [0.0]


def test_idempotent_inplace_into_expanded_allowed():
    base = torch.zeros(1)
    base.expand(3).fill_(2.0)
    assert base.tolist() == [2.0]
    base.expand(2, 3).zero_()
    assert base.tolist() == [0.0]
    base.expand(3).masked_fill_(torch.tensor([True, True, True]), 5.0)
    assert base.tolist() == [5.0]
    # size-1 broadcast dims and non-overlapping strided views are fine
    y = torch.zeros(2, 1).expand(2, 1)
    y.add_(1)
    z = torch.zeros(4)
    z[::2].add_(1)
    assert z.tolist() == [1.0, 0.0, 1.0, 0.0]


# ---- empty views with an offset, 0-d, non-contiguous and broadcast inputs ------------------


def _empty_offset():
    e = torch.zeros(3, 0)[2:]
    assert e.shape == (1, 0)
    return e


@pytest.mark.parametrize(
    "fn",
    [
        lambda e: e + 1,
        lambda e: 1 - e,
        lambda e: e * e,
        lambda e: e.exp(),
        lambda e: e.sigmoid(),
        lambda e: e.abs(),
        lambda e: e.to(torch.int64) // 1,
        lambda e: e.to(torch.int64) % torch.tensor(0),
        lambda e: e < 1,
        lambda e: e == e,
        lambda e: torch.where(e > 0, e, 1.0),
        lambda e: e.clamp(0, 1),
        lambda e: e.to(torch.float16),
        lambda e: e.to(torch.int32),
        lambda e: e.isnan(),
        lambda e: e.isfinite(),
        lambda e: e.logical_not(),
        lambda e: e.to(torch.int64).bitwise_not(),
        lambda e: e.nan_to_num(),
        lambda e: e.neg(),
        lambda e: e.to(torch.int64) << 1,
        lambda e: torch.maximum(e, e),
        lambda e: e.signbit(),
        lambda e: e.clone(),
    ],
)
def test_empty_offset_views(fn):
    r = fn(_empty_offset())
    assert r.shape == (1, 0)


def test_empty_offset_inplace_and_equal():
    e = _empty_offset()
    e.add_(1)
    e.exp_()
    e.fill_(3)
    e.zero_()
    e.copy_(torch.ones(1, 0))
    assert torch.equal(e, torch.zeros(1, 0))
    assert e.allclose(e)


def test_zero_dim_and_broadcast_inputs():
    s = torch.tensor(2.0)
    assert (s + 1).shape == ()
    assert s.exp().item() == pytest.approx(np.exp(2.0))
    assert torch.where(torch.tensor(True), s, torch.tensor(0.0)).item() == 2.0
    assert s.clamp(max=1).item() == 1.0
    assert s.isfinite().item() is True
    rng = np.random.default_rng(2)
    a, ta = make((3, 1), torch.float64, rng)
    b, tb = make((4,), torch.float64, rng)
    assert_np(torch.atan2(ta, tb), np.arctan2(a, b))
    assert_np(torch.where(ta > 0, ta, tb), np.where(a > 0, a, b))
    x, tx = make((3, 4), torch.float32, rng, layout="transposed")
    assert_np(tx.exp(), np.exp(x))
    assert_np(tx.clamp(-0.5, 0.5), np.clip(x, -0.5, 0.5))
    assert_np(tx.nan_to_num(), x)
    i, ti = make((3, 4), torch.int32, rng, layout="sliced")
    assert_np(ti.bitwise_not(), ~i)
    assert_np(ti // torch.tensor(3, dtype=torch.int32), i // 3)
    assert_np(torch.fmod(ti, torch.tensor([3], dtype=torch.int32)), np.fmod(i, 3))
    h, th = make((5,), torch.float16, rng)
    assert_np(th.sigmoid(), 1 / (1 + np.exp(-h.astype(np.float32))), rtol=2e-3, atol=2e-3, check_dtype=False)
    assert th.sigmoid().dtype == torch.float16
    # integer inputs of float-only functions compute in float32
    assert torch.tensor([1, 2]).sqrt().dtype == torch.float32


def test_where_scalar_and_non_contiguous():
    rng = np.random.default_rng(3)
    a, ta = make((4, 3), torch.float32, rng, layout="transposed")
    c = a > 0
    tc = torch.tensor(c).t().contiguous().t()
    assert_np(torch.where(tc, ta, 0.0), np.where(c, a, np.float32(0)))
    assert_np(torch.where(tc, 1.0, ta), np.where(c, np.float32(1), a))
    u8 = torch.tensor(c.astype(np.uint8))
    assert_np(torch.where(u8, ta, -ta), np.where(c, a, -a))


def test_bernoulli_multinomial_after_migration():
    torch.manual_seed(0)
    p = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).t()  # non-contiguous probabilities
    assert torch.bernoulli(p).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    w = torch.tensor([0.0, 0.0, 5.0])
    assert torch.multinomial(w, 4, replacement=True).tolist() == [2, 2, 2, 2]
    assert torch.multinomial(w[None].expand(2, 3), 1).tolist() == [[2], [2]]
    assert torch.eye(3, 2).tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    assert torch.eye(2, 4, dtype=torch.int64).tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]
    assert torch.eye(0, 3).shape == (0, 3)
