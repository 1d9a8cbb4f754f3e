"""``rtorch.testing.assert_close``."""

import numpy as np

from rtorch import _C

_TOL = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _np(x):
    if isinstance(x, _C.Tensor):
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        return x.detach().numpy()
    return np.asarray(x)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True, msg=None, **_kw):
    if isinstance(actual, (list, tuple)) and not isinstance(expected, _C.Tensor):
        assert len(actual) == len(expected), "sequence lengths differ"
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype, msg=msg)
        return
    if isinstance(actual, _C.Tensor) and isinstance(expected, _C.Tensor):
        if check_dtype and actual.dtype != expected.dtype:
            raise AssertionError(f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}.")
        if tuple(actual.shape) != tuple(expected.shape):
            raise AssertionError(f"The values for attribute 'shape' do not match: {actual.shape} != {expected.shape}.")
    name = str(actual.dtype).replace("torch.", "") if isinstance(actual, _C.Tensor) else "float64"
    d_rtol, d_atol = _TOL.get(name, (0.0, 0.0))
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    a, e = _np(actual), _np(expected)
    if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan):
        diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        raise AssertionError(msg or f"Tensor-likes are not close!\nGreatest absolute difference: {np.nanmax(diff) if diff.size else 0}")
