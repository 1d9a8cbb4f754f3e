"""``rtorch.autograd``: backward, grad, custom Functions, gradient checks, grad mode."""

from rtorch import _C
from rtorch.autograd.function import Function, FunctionCtx, once_differentiable
from rtorch.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from rtorch.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from rtorch.autograd import anomaly_mode, profiler
from rtorch.autograd.anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly

__all__ = [
    "Function", "FunctionCtx", "once_differentiable", "backward", "grad", "gradcheck",
    "gradgradcheck", "GradcheckError", "no_grad", "enable_grad", "set_grad_enabled",
    "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "Variable",
    "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
]

anomaly_mode._install_tensor_backward(_C.Tensor)


def _seq(x):
    if x is None:
        return None
    if isinstance(x, _C.Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Accumulates gradients of ``tensors`` into the leaves' ``.grad``."""
    if grad_tensors is None:
        grad_tensors = grad_variables
    _C._backward(_seq(tensors), _seq(grad_tensors), retain_graph, create_graph, _seq(inputs))
    if inputs is not None and anomaly_mode.is_anomaly_enabled():
        anomaly_mode._check_grads([t.grad for t in _seq(inputs)], "gradient of input")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Returns the gradients of ``outputs`` with respect to ``inputs`` (a tuple)."""
    if is_grads_batched:
        raise NotImplementedError("autograd.grad(is_grads_batched=True) is not supported")
    grads = _C._grad(_seq(outputs), _seq(inputs), _seq(grad_outputs), retain_graph, create_graph, allow_unused, materialize_grads)
    anomaly_mode._check_grads(grads, "gradient")
    return grads


def Variable(data, requires_grad=False):
    """Deprecated alias kept for old code: returns the tensor itself."""
    if requires_grad:
        data.requires_grad_(True)
    return data
