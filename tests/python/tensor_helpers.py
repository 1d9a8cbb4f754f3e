"""Shared helpers for the tensor-core and autograd tests: build matching numpy arrays and
rtorch tensors (contiguous or not), compare them, run gradcheck, and hypothesis strategies
for shapes (0-size and broadcast included)."""

import numpy as np
from hypothesis import strategies as st

import rtorch as torch

FLOAT_DTYPES = [torch.float32, torch.float64]
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]
ALL_DTYPES = [torch.bool, *INT_DTYPES, *FLOAT_DTYPES]

_NP = {
    torch.bool: np.bool_,
    torch.uint8: np.uint8,
    torch.int8: np.int8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.int64: np.int64,
    torch.float16: np.float16,
    torch.float32: np.float32,
    torch.float64: np.float64,
}

# default (rtol, atol) per dtype for value comparisons against numpy
TOL = {torch.float16: (1e-3, 1e-3), torch.float32: (1e-5, 1e-6), torch.float64: (1e-10, 1e-12)}


def np_dtype(dtype):
    return _NP[dtype]


def to_np(t):
    """A tensor's values as a numpy array (bfloat16 widened to float32)."""
    t = t.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.numpy()


def random_array(shape, dtype, rng, low=None, high=None):
    """Random values valid for `dtype` (small ints; floats in [low, high))."""
    shape = tuple(shape)
    if dtype == torch.bool:
        return rng.random(shape) < 0.5
    npd = np_dtype(dtype)
    if dtype in INT_DTYPES:
        lo = 0 if dtype == torch.uint8 else -9
        lo = lo if low is None else int(low)
        hi = 10 if high is None else int(high)
        return rng.integers(lo, hi, size=shape).astype(npd)
    lo = -2.0 if low is None else low
    hi = 2.0 if high is None else high
    return (rng.random(shape) * (hi - lo) + lo).astype(npd)


def as_layout(t, layout):
    """The same values as `t` in a different memory layout: 'contiguous', 'transposed'
    (a permuted view of a reversed-dims tensor) or 'sliced' (every other element of the last
    dim of a wider tensor). Non-contiguous layouts need at least one dim."""
    if layout == "contiguous" or t.dim() == 0:
        return t
    if layout == "transposed":
        rev = list(range(t.dim()))[::-1]
        out = t.permute(*rev).contiguous().permute(*rev)
    elif layout == "sliced":
        wide = torch.zeros(*t.shape[:-1], t.shape[-1] * 2, dtype=t.dtype)
        wide[..., ::2] = t
        out = wide[..., ::2]
    else:
        raise ValueError(layout)
    assert torch.equal(out, t)
    return out


def make(
    shape,
    dtype=torch.float32,
    rng=None,
    layout="contiguous",
    low=None,
    high=None,
    requires_grad=False,
):
    """`(numpy array, rtorch tensor)` with equal values; the tensor in `layout`."""
    rng = rng if rng is not None else np.random.default_rng(0)
    a = random_array(shape, dtype, rng, low, high)
    t = as_layout(torch.tensor(a, dtype=dtype), layout)
    if requires_grad:
        t.requires_grad_(True)
    return a, t


def assert_np(t, expected, rtol=None, atol=None, check_dtype=True, equal_nan=True):
    """`t` (a tensor) equals the numpy array/value `expected` in shape, dtype and values."""
    assert isinstance(t, torch.Tensor), type(t)
    e = np.asarray(expected)
    assert tuple(t.shape) == e.shape, f"shape {tuple(t.shape)} != {e.shape}"
    if check_dtype:
        assert np_dtype(t.dtype) == e.dtype.type, f"dtype {t.dtype} != numpy {e.dtype}"
    a = to_np(t)
    if t.is_floating_point():
        d_rtol, d_atol = TOL.get(t.dtype, (1e-5, 1e-6))
        np.testing.assert_allclose(
            a.astype(np.float64),
            e.astype(np.float64),
            rtol=d_rtol if rtol is None else rtol,
            atol=d_atol if atol is None else atol,
            equal_nan=equal_nan,
        )
    else:
        np.testing.assert_array_equal(a, e)


def gradcheck(fn, *inputs, atol=1e-5, rtol=1e-3):
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=atol, rtol=rtol)


def gradgradcheck(fn, *inputs):
    assert torch.autograd.gradgradcheck(fn, inputs, eps=1e-6, atol=1e-4, rtol=1e-3)


def f64(shape, rng=None, low=-2.0, high=2.0, layout="contiguous"):
    """A float64 leaf requiring grad (for gradcheck), possibly non-contiguous."""
    _, t = make(shape, torch.float64, rng, layout, low, high)
    if layout != "contiguous":
        # keep it a leaf: build the strided view first, then mark it
        t = t.detach()
    return t.requires_grad_(True)


# hypothesis strategies ---------------------------------------------------------------------


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        tuple
    )


@st.composite
def broadcastable_pair(draw, max_dims=3, max_side=4, min_side=0):
    """Two shapes that broadcast together (some dims 1, different ranks)."""
    out = draw(shapes(0, max_dims, min_side, max_side))
    a, b = list(out), list(out)
    for s in (a, b):
        for i in range(len(s)):
            if draw(st.booleans()) and draw(st.booleans()):
                s[i] = 1
    drop_a = draw(st.integers(0, len(a)))
    drop_b = draw(st.integers(0, len(b)))
    return tuple(a[drop_a:]) if draw(st.booleans()) else tuple(a), tuple(b[drop_b:]) if draw(
        st.booleans()
    ) else tuple(b)


layouts = st.sampled_from(["contiguous", "transposed", "sliced"])
seeds = st.integers(0, 2**31 - 1)


def try_import_torch():
    """Real PyTorch if it is importable (comparisons then run), else None."""
    try:
        import torch as real_torch  # noqa: PLC0415
    except Exception:
        return None
    if getattr(real_torch, "__name__", "") != "torch" or not hasattr(real_torch, "autograd"):
        return None
    return real_torch
