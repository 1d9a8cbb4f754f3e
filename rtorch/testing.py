"""``rtorch.testing.assert_close``: PyTorch's closeness check, tolerances and messages.

Inputs are compared pairwise: tensors with tensors, numpy arrays with numpy arrays, Python
numbers with numbers of the same type, and sequences / mappings of those element by element.
Two values match when ``|actual - expected| <= atol + rtol * |expected|`` (or they are equal,
which covers infinities; NaNs match only with ``equal_nan``). Omitted tolerances default per
dtype (the larger of the two inputs' defaults); integer and bool values must be equal.
"""

import collections.abc

import numpy as np

from rtorch import _C

__all__ = ["assert_close"]

# dtype name -> (rtol, atol) defaults; dtypes not listed compare exactly.
_DEFAULT_TOL = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}


class _Mismatch(Exception):
    """A failed comparison, before the location suffix and the user's ``msg`` are applied."""


def _dtype_name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def _tolerances(names, rtol, atol):
    if rtol is not None:
        return rtol, atol
    pairs = [_DEFAULT_TOL.get(n, (0.0, 0.0)) for n in names]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _as_python(x):
    return int(x) if isinstance(x, (np.integer, np.bool_)) else float(x)


def _location(index):
    if len(index) == 1:
        return f"({int(index[0])},)"
    return "(" + ", ".join(str(int(i)) for i in index) + ")"


def _round_bf16(x):
    """float32 values rounded to bfloat16 precision (round half to even), as float32."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32("nan"), out)


def _compare_values(a, e, floating, rtol, atol, equal_nan, bf16=False):
    """Element-wise match mask, absolute and relative differences (numpy arrays)."""
    narrow = _round_bf16 if bf16 else (lambda v: v)
    if floating:
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            near = np.abs(a64 - e64) <= atol + rtol * np.abs(e64)
            # Infinities only match themselves.
            ok = (a64 == e64) | (near & np.isfinite(a64) & np.isfinite(e64))
            abs_diff = narrow(np.abs(a - e))
        if equal_nan:
            ok |= np.isnan(a64) & np.isnan(e64)
    else:
        a64, e64 = a.astype(np.int64), e.astype(np.int64)
        abs_diff = np.abs(a64 - e64)
        ok = abs_diff.astype(np.float64) <= atol + rtol * np.abs(e64.astype(np.float64))
    # PyTorch reports relative differences in the floating type of the compared values.
    rel_type = a.dtype if floating else np.float32
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_diff = narrow(abs_diff.astype(rel_type) / np.abs(e).astype(rel_type))
    return ok, abs_diff, rel_diff


def _allowed(value, exact):
    return "" if exact else f" (up to {value} allowed)"


def _worst(diff, mask):
    """Greatest value of ``diff`` among mismatched elements (NaN wins) and its index."""
    flat = np.where(mask.ravel())[0]
    vals = diff.ravel()[flat]
    nan = np.isnan(vals) if vals.dtype.kind == "f" else np.zeros(vals.shape, bool)
    pick = flat[np.argmax(nan)] if nan.any() else flat[np.argmax(vals)]
    return _as_python(diff.ravel()[pick]), np.unravel_index(pick, diff.shape)


def _check_arrays(a, e, names, floating, scalar, rtol, atol, equal_nan, bf16=False):
    rtol, atol = _tolerances(names, rtol, atol)
    if scalar and floating:
        # Scalars are compared as Python numbers (double precision).
        a, e = a.astype(np.float64), e.astype(np.float64)
    ok, abs_diff, rel_diff = _compare_values(a, e, floating, rtol, atol, equal_nan, bf16 and not scalar)
    if ok.all():
        return
    exact = rtol == 0 and atol == 0
    verdict = "equal" if exact else "close"
    if scalar:
        got, want = _as_python(a.reshape(())[()]), _as_python(e.reshape(())[()])
        raise _Mismatch(
            f"Scalars are not {verdict}!\n\n"
            f"Expected {want} but got {got}.\n"
            f"Absolute difference: {_as_python(abs_diff.reshape(())[()])}{_allowed(atol, exact)}\n"
            f"Relative difference: {_as_python(rel_diff.reshape(())[()])}{_allowed(rtol, exact)}"
        )
    bad = ~ok
    n_bad, total = int(bad.sum()), ok.size
    worst_abs, at_abs = _worst(abs_diff, bad)
    worst_rel, at_rel = _worst(rel_diff, bad)
    raise _Mismatch(
        f"Tensor-likes are not {verdict}!\n\n"
        f"Mismatched elements: {n_bad} / {total} ({100.0 * n_bad / total:.1f}%)\n"
        f"Greatest absolute difference: {worst_abs} at index {_location(at_abs)}"
        f"{_allowed(atol, exact)}\n"
        f"Greatest relative difference: {worst_rel} at index {_location(at_rel)}"
        f"{_allowed(rtol, exact)}"
    )


def _attr_mismatch(name, a, e):
    return _Mismatch(f"The values for attribute '{name}' do not match: {a} != {e}.")


def _tensor_numpy(t, dtype):
    """``t`` as a numpy array holding values of ``dtype`` (bfloat16 widened to float32)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype != dtype:
        t = t.to(dtype)
    if t.dtype == _C.bfloat16:
        t = t.float()
    return t.numpy()


def _compare_tensors(a, e, opts):
    if tuple(a.shape) != tuple(e.shape):
        raise _attr_mismatch("shape", a.shape, e.shape)
    if opts["check_device"] and a.device != e.device:
        raise _attr_mismatch("device", a.device, e.device)
    if opts["check_dtype"] and a.dtype != e.dtype:
        raise _attr_mismatch("dtype", a.dtype, e.dtype)
    if opts["check_stride"] and a.numel() > 0 and tuple(a.stride()) != tuple(e.stride()):
        raise _attr_mismatch("stride()", tuple(a.stride()), tuple(e.stride()))
    common = _C.promote_types(a.dtype, e.dtype)
    names = (_dtype_name(a.dtype), _dtype_name(e.dtype))
    _check_arrays(
        _tensor_numpy(a, common),
        _tensor_numpy(e, common),
        names,
        common.is_floating_point,
        a.dim() == 0,
        opts["rtol"],
        opts["atol"],
        opts["equal_nan"],
        bf16=common == _C.bfloat16,
    )


def _compare_ndarrays(a, e, opts):
    if a.shape != e.shape:
        raise _attr_mismatch("shape", f"torch.Size({list(a.shape)})", f"torch.Size({list(e.shape)})")
    if opts["check_dtype"] and a.dtype != e.dtype:
        raise _attr_mismatch("dtype", f"torch.{a.dtype}", f"torch.{e.dtype}")
    common = np.promote_types(a.dtype, e.dtype)
    _check_arrays(
        a.astype(common),
        e.astype(common),
        (str(a.dtype), str(e.dtype)),
        common.kind == "f",
        a.ndim == 0,
        opts["rtol"],
        opts["atol"],
        opts["equal_nan"],
    )


def _compare_numbers(a, e, opts):
    if isinstance(a, bool) or isinstance(e, bool):
        if a is not e:
            raise _Mismatch(f"Booleans mismatch: {a} is not {e}")
        return
    if opts["check_dtype"] and type(a) is not type(e):
        raise _Mismatch(f"The (d)types do not match: {type(a)} != {type(e)}.")
    floating = isinstance(a, float) or isinstance(e, float)
    kind = np.float64 if floating else np.int64
    _check_arrays(
        np.asarray(a, dtype=kind),
        np.asarray(e, dtype=kind),
        ("float64",) if floating else ("int64",),
        floating,
        True,
        opts["rtol"],
        opts["atol"],
        opts["equal_nan"],
    )


def _is_number(x):
    return isinstance(x, (bool, int, float)) and not isinstance(x, complex)


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, (str, bytes))


def _compare(a, e, opts, path):
    """Compares one pair; a failure raises ``_Mismatch`` carrying the item path."""
    try:
        if isinstance(a, _C.Tensor) and isinstance(e, _C.Tensor):
            return _compare_tensors(a, e, opts)
        if isinstance(a, np.ndarray) and isinstance(e, np.ndarray):
            return _compare_ndarrays(a, e, opts)
        if _is_number(a) and _is_number(e):
            return _compare_numbers(a, e, opts)
    except _Mismatch as err:
        err.path = path
        raise
    if _is_sequence(a) and _is_sequence(e):
        if len(a) != len(e):
            err = _Mismatch(f"The length of the sequences mismatch: {len(a)} != {len(e)}")
            err.path = path
            raise err
        for i, (x, y) in enumerate(zip(a, e)):
            _compare(x, y, opts, f"{path}[{i}]")
        return
    if isinstance(a, collections.abc.Mapping) and isinstance(e, collections.abc.Mapping):
        missing = [k for k in e if k not in a]
        extra = [k for k in a if k not in e]
        if missing or extra:
            err = _Mismatch(
                "The keys of the mappings do not match:\n"
                f"Missing keys in the actual mapping: {sorted(missing, key=repr)}\n"
                f"Additional keys in the actual mapping: {sorted(extra, key=repr)}"
            )
            err.path = path
            raise err
        for k in e:
            _compare(a[k], e[k], opts, f"{path}[{k!r}]")
        return
    raise TypeError(
        f"No comparison pair was able to handle inputs of type {type(a)} and {type(e)}."
    )


def assert_close(
    actual,
    expected,
    *,
    allow_subclasses=True,
    rtol=None,
    atol=None,
    equal_nan=False,
    check_device=True,
    check_dtype=True,
    check_layout=True,
    check_stride=False,
    msg=None,
):
    """Raises ``AssertionError`` unless ``actual`` and ``expected`` are close.

    ``rtol``/``atol`` must be given together; ``check_device``/``check_dtype``/``check_stride``
    make those attributes part of the comparison (without them, values are compared on the
    CPU in the promoted dtype). ``msg`` replaces the message, or, if callable, receives the
    generated one and returns the message to use. ``check_layout`` has nothing to check in
    rtorch (all tensors are strided); ``allow_subclasses`` is accepted for compatibility.
    """
    if (rtol is None) != (atol is None):
        missing = "atol" if atol is None else "rtol"
        raise ValueError(
            f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}."
        )
    opts = {
        "rtol": rtol,
        "atol": atol,
        "equal_nan": equal_nan,
        "check_device": check_device,
        "check_dtype": check_dtype,
        "check_stride": check_stride,
    }
    try:
        _compare(actual, expected, opts, "")
    except _Mismatch as err:
        text = str(err)
        if getattr(err, "path", ""):
            text += f"\n\nThe failure occurred for item {err.path}"
        if callable(msg):
            text = msg(text)
        elif msg is not None:
            text = msg
        raise AssertionError(text) from None

