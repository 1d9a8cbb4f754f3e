"""Anomaly mode: ``detect_anomaly`` / ``set_detect_anomaly`` / ``is_anomaly_enabled``.

The switches behave as in PyTorch (context manager, decorator, nesting, the warning on
enabling). rtorch's backward engine does not expose per-node hooks to Python, so the NaN check
of anomaly mode covers what Python sees: the gradients returned by ``autograd.grad`` and those
accumulated for the explicit ``inputs=`` of ``autograd.backward`` / ``Tensor.backward``. A NaN
there raises ``RuntimeError``; unlike PyTorch the message names the gradient, not the node that
first produced it, and a plain ``loss.backward()`` (no ``inputs=``) is not checked. Forward
tracebacks are not recorded.
"""

import functools
import inspect
import warnings

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]

_state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled():
    return _state["enabled"]


def is_anomaly_check_nan_enabled():
    return _state["check_nan"]


def _set(enabled, check_nan):
    _state["enabled"] = bool(enabled)
    _state["check_nan"] = bool(check_nan)


def _warn_enabled():
    warnings.warn(
        "Anomaly Detection has been enabled. This mode will increase the runtime and should "
        "only be enabled for debugging.",
        UserWarning,
        stacklevel=3,
    )


class _AnomalySwitch:
    """Shared decorator support: the wrapped function runs inside a fresh copy."""

    def _copy(self):
        raise NotImplementedError

    def __call__(self, fn):
        if inspect.isclass(fn) or not callable(fn):
            raise TypeError("anomaly-mode decorators apply to functions")

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with self._copy():
                return fn(*args, **kwargs)

        return run


class detect_anomaly(_AnomalySwitch):
    """Turns anomaly mode on inside the block (or the decorated function)."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.saved = None
        _warn_enabled()

    def _copy(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return detect_anomaly(self.check_nan)

    def __enter__(self):
        self.saved = (_state["enabled"], _state["check_nan"])
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.saved)
        return False


class set_detect_anomaly(_AnomalySwitch):
    """Sets anomaly mode when called; used as a context manager it restores the previous
    mode on exit."""

    def __init__(self, mode, check_nan=True):
        self.mode = mode
        self.check_nan = check_nan
        self.saved = (_state["enabled"], _state["check_nan"])
        _set(mode, check_nan)

    def _copy(self):
        return set_detect_anomaly(self.mode, self.check_nan)

    def __call__(self, fn):
        _set(*self.saved)  # as a decorator, only the call is affected
        return super().__call__(fn)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.saved)
        return False


def _check_grads(grads, what):
    """Raises when anomaly mode (with the NaN check) is on and a gradient holds NaN."""
    if not (_state["enabled"] and _state["check_nan"]):
        return
    for i, g in enumerate(grads):
        if g is not None and g.is_floating_point() and bool(g.isnan().any()):
            raise RuntimeError(f"Anomaly detected: {what} {i} of backward contains nan values.")


def _install_tensor_backward(tensor_cls):
    """Wraps ``Tensor.backward`` so that, in anomaly mode, the gradients of explicit
    ``inputs=`` are checked for NaN; outside anomaly mode it adds one flag test."""
    native = tensor_cls.backward

    @functools.wraps(native)
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        native(self, gradient, retain_graph, create_graph, inputs)
        if inputs is not None and _state["enabled"]:
            seq = [inputs] if isinstance(inputs, tensor_cls) else list(inputs)
            _check_grads([t.grad for t in seq], "gradient of input")

    tensor_cls.backward = backward
