"""Foreign memory at the Python boundary: `from_numpy`, `as_tensor` and `tensor` on NumPy
arrays and hand-made `__array_interface__` objects. Malformed descriptions (NULL data, bad
typestrs, overflowing shapes or extents, negative or odd strides) are rejected with Python
errors; memory that cannot be shared soundly (misaligned, byte-swapped, read-only, bool bytes
other than 0/1) is rejected or copied into a fresh native buffer, never read or written in
place."""

import ctypes
import sys
import warnings

import numpy as np
import pytest

import rtorch as torch

SUPPORTED = (
    "The only supported types are: float64, float32, float16, int64, int32, int16, int8, "
    "uint8, and bool."
)
NOT_WRITABLE = "The given NumPy array is not writable"
BYTE_ORDER = (
    "given numpy array has byte order different from the native byte order. "
    "Conversion between byte orders is currently not supported."
)
NEGATIVE_STRIDE = "At least one stride in the given numpy array is negative"
FOREIGN = "big" if sys.byteorder == "little" else "little"
SWAPPED = ">" if sys.byteorder == "little" else "<"


class Iface:
    """An object that describes memory only through `__array_interface__`."""

    def __init__(self, ptr, typestr, shape, strides=None, readonly=False, keep=None, **extra):
        self.__array_interface__ = {
            "data": (ptr, readonly),
            "typestr": typestr,
            "shape": shape,
            "strides": strides,
            "version": 3,
            **extra,
        }
        self.keep = keep  # keeps the described memory alive


def _buf(n):
    """A writable, zeroed, 16-byte aligned uint8 array of n bytes and its address."""
    raw = np.zeros(n + 16, dtype=np.uint8)
    off = (-raw.ctypes.data) % 16
    view = raw[off : off + n]
    return view, view.ctypes.data


def _quiet():
    """Turns warnings into errors for the block (no warning may be emitted)."""
    cm = warnings.catch_warnings()
    cm.__enter__()
    warnings.simplefilter("error")
    return cm


CONSTRUCTORS = [torch.from_numpy, torch.as_tensor, torch.tensor]


# --- malformed descriptions -----------------------------------------------------------------


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_null_data_pointer_with_elements_is_rejected(make):
    with pytest.raises(ValueError, match="NULL"):
        make(Iface(0, "<f4", (3,)))
    with pytest.raises(ValueError, match="NULL"):
        make(Iface(0, "<f8", (2, 2), strides=(16, 8)))


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_null_data_pointer_without_elements_gives_empty_tensor(make):
    t = make(Iface(0, "<f4", (0, 3)))
    assert t.shape == (0, 3) and t.dtype == torch.float32 and t.tolist() == []


@pytest.mark.parametrize("make", CONSTRUCTORS)
@pytest.mark.parametrize("ts", ["", "<", "f4", "<f3", "<x4", "<f4junk", "é", "<é4", "<f", "|V8"])
def test_empty_or_unknown_typestr_is_rejected(make, ts):
    a, p = _buf(64)
    with pytest.raises(TypeError):
        make(Iface(p, ts, (2,), keep=a))


@pytest.mark.parametrize("make", CONSTRUCTORS)
@pytest.mark.parametrize(
    "dtype,name",
    [
        (np.uint16, "uint16"),
        (np.uint32, "uint32"),
        (np.uint64, "uint64"),
        (np.complex64, "complex64"),
        (np.complex128, "complex128"),
        (np.object_, "object_"),
        (np.str_, "str_"),
        ("datetime64[ns]", "datetime64"),
    ],
)
def test_unsupported_numpy_dtype_message(make, dtype, name):
    arr = np.zeros(3, dtype=dtype)
    with pytest.raises(TypeError) as e:
        make(arr)
    if make is not torch.tensor or name not in ("object_", "str_"):
        # PyTorch's message names the NumPy type and lists what is supported.
        assert str(e.value) == f"can't convert np.ndarray of type numpy.{name}. {SUPPORTED}"


def test_structured_array_is_rejected():
    arr = np.zeros(3, dtype=[("a", np.float32), ("b", np.int32)])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy.void"):
        torch.from_numpy(arr)


@pytest.mark.parametrize("make", CONSTRUCTORS)
@pytest.mark.parametrize(
    "shape,strides",
    [
        ((2**40, 2**40), None),  # element count overflows
        ((2**62, 4), None),
        ((2**31, 2**31, 2**31), None),
        ((3,), (2**62,)),  # byte extent overflows
        ((3, 3), (2**61, 2**61)),
        ((2**61,), (8,)),
    ],
)
def test_overflowing_shape_or_extent_is_rejected(make, shape, strides):
    a, p = _buf(64)
    with pytest.raises(ValueError):
        make(Iface(p, "<f8", shape, strides=strides, keep=a))


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_negative_dimension_is_rejected(make):
    a, p = _buf(64)
    with pytest.raises(ValueError):
        make(Iface(p, "<f4", (2, -1), keep=a))


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_negative_strides_are_rejected(make):
    with pytest.raises(ValueError, match=NEGATIVE_STRIDE):
        make(np.arange(6.0)[::-1])
    a, p = _buf(64)
    with pytest.raises(ValueError, match=NEGATIVE_STRIDE):
        make(Iface(p + 32, "<f4", (3,), strides=(-4,), keep=a))


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_bad_strides_are_rejected(make):
    a, p = _buf(64)
    with pytest.raises(ValueError, match="not a multiple of the element byte size"):
        make(Iface(p, "<f4", (3,), strides=(6,), keep=a))
    with pytest.raises(ValueError):
        make(Iface(p, "<f4", (3, 2), strides=(8,), keep=a))  # one stride for two dims


@pytest.mark.parametrize("make", CONSTRUCTORS)
@pytest.mark.parametrize(
    "iface",
    [
        {"typestr": "<f4", "shape": (2,)},  # no data
        {"data": "nope", "typestr": "<f4", "shape": (2,)},
        {"data": (1 << 12, False), "shape": (2,)},  # no typestr
        {"data": (1 << 12, False), "typestr": 7, "shape": (2,)},
        {"data": (1 << 12, False), "typestr": "<f4"},  # no shape
        {"data": (1 << 12, False), "typestr": "<f4", "shape": ("a",)},
        {"data": (1 << 12, False), "typestr": "<f4", "shape": (2,), "mask": object()},
        {"data": (-8, False), "typestr": "<f4", "shape": (2,)},
    ],
)
def test_malformed_interface_dict_is_rejected(make, iface):
    class Bad:
        __array_interface__ = iface

    with pytest.raises((TypeError, ValueError)):
        make(Bad())


def test_interface_that_is_not_a_dict_is_rejected():
    class Bad:
        __array_interface__ = [("typestr", "<f4")]

    with pytest.raises(TypeError):
        torch.from_numpy(Bad())


# --- alignment --------------------------------------------------------------------------------


def _misaligned(dtype, n):
    raw, _ = _buf(n * np.dtype(dtype).itemsize + 1)
    arr = np.frombuffer(raw.data, dtype=dtype, count=n, offset=1)
    assert arr.flags.writeable
    return raw, arr


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int16, np.float16])
def test_misaligned_memory_is_copied_or_rejected(dtype):
    raw, arr = _misaligned(dtype, 4)
    arr[:] = np.arange(4)
    assert not arr.flags.aligned
    with pytest.raises(ValueError, match="aligned"):
        torch.from_numpy(arr)
    for make in (torch.tensor, torch.as_tensor):
        t = make(arr)
        assert t.tolist() == [0, 1, 2, 3]
        assert t.data_ptr() % np.dtype(dtype).itemsize == 0
        t.add_(1)  # writes go to the copy
        assert arr.tolist() == [0, 1, 2, 3]


def test_misaligned_hand_made_interface():
    a, p = _buf(64)
    with pytest.raises(ValueError, match="aligned"):
        torch.from_numpy(Iface(p + 2, "<f8", (2,), keep=a))
    t = torch.tensor(Iface(p + 2, "<f8", (2,), keep=a))
    assert t.tolist() == [0.0, 0.0] and t.dtype == torch.float64


def test_one_byte_types_need_no_alignment():
    raw = np.arange(9, dtype=np.uint8)
    view = raw[1:]
    t = torch.from_numpy(view)
    t[0] = 100
    assert raw[1] == 100  # still shared


# --- byte order -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["f4", "f8", "i2", "i4", "i8", "f2"])
def test_from_numpy_rejects_foreign_byte_order(dtype):
    arr = np.arange(5, dtype=SWAPPED + dtype)
    with pytest.raises(ValueError) as e:
        torch.from_numpy(arr)
    assert str(e.value) == BYTE_ORDER


@pytest.mark.parametrize("dtype", ["f4", "f8", "i2", "i4", "i8", "f2"])
@pytest.mark.parametrize("make", [torch.tensor, torch.as_tensor])
def test_tensor_copies_foreign_byte_order(make, dtype):
    arr = np.arange(5, dtype=SWAPPED + dtype).reshape(1, 5)[:, ::2]
    t = make(arr)
    assert t.dtype == torch.from_numpy(np.zeros(1, dtype="=" + dtype)).dtype
    assert t.tolist() == [[0, 2, 4]]
    t.add_(1)
    assert arr.tolist() == [[0, 2, 4]]


def test_byte_order_irrelevant_for_single_bytes():
    arr = np.arange(4, dtype="|u1")
    assert torch.from_numpy(arr).tolist() == [0, 1, 2, 3]
    a, p = _buf(8)
    a[:] = 7
    t = torch.from_numpy(Iface(p, SWAPPED + "u1", (8,), keep=a))
    assert t.tolist() == [7] * 8
    t[0] = 1
    assert a[0] == 1  # shared


# --- bool bytes -------------------------------------------------------------------------------


def test_bool_bytes_are_normalised_read_only():
    arr = np.frombuffer(bytes([0, 2, 255, 1]), dtype=np.bool_)
    t = torch.tensor(arr)
    assert t.tolist() == [False, True, True, True]
    assert t.to(torch.uint8).tolist() == [0, 1, 1, 1]
    assert t.sum().item() == 3
    with pytest.warns(UserWarning, match=NOT_WRITABLE):
        u = torch.from_numpy(arr)
    assert u.to(torch.uint8).tolist() == [0, 1, 1, 1]
    assert (u == torch.tensor([False, True, True, True])).all().item()


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_bool_bytes_are_normalised_writable(make):
    raw = np.array([0, 2, 255, 1, 0, 3], dtype=np.uint8)
    arr = raw.view(np.bool_)
    assert arr.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = make(arr)
    assert t.dtype == torch.bool
    assert t.to(torch.uint8).tolist() == [0, 1, 1, 1, 0, 1]
    assert t.to(torch.int64).sum().item() == 4
    assert t.logical_not().tolist() == [True, False, False, False, True, False]
    assert raw.tolist() == [0, 2, 255, 1, 0, 3]  # the array is never rewritten


def test_from_numpy_warns_when_bool_bytes_force_a_copy():
    raw = np.array([0, 7], dtype=np.uint8)
    with pytest.warns(UserWarning, match="0 and 1"):
        t = torch.from_numpy(raw.view(np.bool_))
    assert t.tolist() == [False, True]


def test_valid_bool_array_is_still_shared():
    arr = np.array([True, False, True])
    cm = _quiet()
    try:
        t = torch.from_numpy(arr)
    finally:
        cm.__exit__(None, None, None)
    t[1] = True
    assert arr.tolist() == [True, True, True]


def test_bool_hand_made_interface_with_strides():
    a, p = _buf(16)
    a[:8] = [1, 9, 0, 200, 1, 1, 0, 5]
    t = torch.tensor(Iface(p, "|b1", (4,), strides=(2,), keep=a))
    assert t.to(torch.uint8).tolist() == [1, 0, 1, 0]
    u = torch.tensor(Iface(p + 1, "|b1", (4,), strides=(2,), keep=a))
    assert u.to(torch.uint8).tolist() == [1, 1, 1, 1]


# --- read-only memory -------------------------------------------------------------------------


def test_from_numpy_copies_read_only_array_and_warns():
    arr = np.arange(4.0)
    arr.flags.writeable = False
    with pytest.warns(UserWarning, match=NOT_WRITABLE) as rec:
        t = torch.from_numpy(arr)
    assert "copies" in str(rec[0].message)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    t.add_(1)
    t[0] = 99
    assert arr.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert t.tolist() == [99.0, 2.0, 3.0, 4.0]


def test_as_tensor_copies_read_only_array_and_warns():
    arr = np.arange(6, dtype=np.int32).reshape(2, 3)
    arr.flags.writeable = False
    with pytest.warns(UserWarning, match=NOT_WRITABLE):
        t = torch.as_tensor(arr)
    t.mul_(0)
    assert arr.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_tensor_of_read_only_array_copies_silently():
    arr = np.arange(3.0)
    arr.flags.writeable = False
    cm = _quiet()
    try:
        t = torch.tensor(arr)
    finally:
        cm.__exit__(None, None, None)
    t.add_(1)
    assert arr.tolist() == [0.0, 1.0, 2.0]


def test_bytes_backed_memory_is_never_written():
    data = bytes(range(16))
    arr = np.frombuffer(data, dtype=np.uint8)
    with pytest.warns(UserWarning, match=NOT_WRITABLE):
        t = torch.from_numpy(arr)
    t.add_(1)
    assert data == bytes(range(16))
    assert t.tolist() == list(range(1, 17))


def test_hand_made_read_only_interface_over_bytes():
    data = bytes(range(8)) * 2
    ptr = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    obj = Iface(ptr, "|u1", (16,), readonly=True, keep=data)
    for make in (torch.from_numpy, torch.as_tensor):
        with pytest.warns(UserWarning, match=NOT_WRITABLE):
            t = make(obj)
        t.fill_(0)
        assert data == bytes(range(8)) * 2
    assert torch.tensor(obj).tolist() == list(range(8)) * 2


def test_writable_array_is_shared_without_warning():
    arr = np.zeros(3, dtype=np.float32)
    cm = _quiet()
    try:
        t = torch.from_numpy(arr)
        u = torch.as_tensor(arr)
    finally:
        cm.__exit__(None, None, None)
    t[0] = 1
    u[1] = 2
    assert arr.tolist() == [1.0, 2.0, 0.0]


def test_zero_size_arrays():
    for dt in (np.float32, np.bool_, np.int64):
        a = np.zeros((0, 4), dtype=dt)
        for make in CONSTRUCTORS:
            assert make(a).shape == (0, 4)


def test_shared_array_is_kept_alive():
    a, p = _buf(4)
    a[:] = [1, 2, 3, 4]
    obj = Iface(p, "|u1", (4,), keep=a)
    t = torch.from_numpy(obj)
    del obj, a
    import gc

    gc.collect()
    assert t.tolist() == [1, 2, 3, 4]
