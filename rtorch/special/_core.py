"""Shared machinery for ``rtorch.special``: float promotion, float64 evaluation, and an
autograd node for functions whose value comes from a series but whose derivative has a
closed form in terms of other special functions."""

from rtorch import _C
from rtorch._out import write_out_from_caller
from rtorch.autograd.function import Function


def floating(x):
    """A tensor argument as a floating tensor (integers and bools take the default dtype)."""
    if not isinstance(x, _C.Tensor):
        x = _C.tensor(x)
    if not x.is_floating_point():
        x = x.to(_C._get_default_dtype())
    return x


def pair(a, b):
    """Two arguments broadcast and promoted to one floating dtype, as PyTorch's binary ops."""
    if not isinstance(a, _C.Tensor) and not isinstance(b, _C.Tensor):
        a = _C.tensor(a)
    if not isinstance(a, _C.Tensor):
        a = _C.tensor(a, dtype=b.dtype if b.is_floating_point() else None, device=b.device)
    if not isinstance(b, _C.Tensor):
        b = _C.tensor(b, dtype=a.dtype if a.is_floating_point() else None, device=a.device)
    dt = _C.promote_types(a.dtype, b.dtype)
    if not dt.is_floating_point:
        dt = _C._get_default_dtype()
    return a.to(dt), b.to(dt)


def write_out(result, out):
    """``result``, or stored into ``out`` with PyTorch's ``out=`` checks."""
    return write_out_from_caller(result, out)


def eval64(value_fn, x):
    """value_fn evaluated on x in float64 without recording a graph, cast back to x's dtype."""
    with _no_grad():
        return value_fn(x.detach().to(_C.float64)).to(x.dtype)


class _no_grad:
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


class _Series(Function):
    """value(x) computed in float64; d/dx given by ``deriv(x)``, itself built from public
    functions so that higher derivatives keep working."""

    @staticmethod
    def forward(ctx, x, value_fn, deriv_fn):
        ctx.save_for_backward(x)
        ctx.deriv_fn = deriv_fn
        return eval64(value_fn, x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.deriv_fn(x), None, None


def unary(value_fn, deriv_fn=None):
    """Builds ``f(input, *, out=None)`` from a float64 ``value_fn`` and an optional derivative.

    Without ``deriv_fn`` the result carries no gradient (PyTorch defines none for it)."""

    def fn(input, *, out=None):
        x = floating(input)
        if deriv_fn is not None and x.requires_grad and _C.is_grad_enabled():
            result = _Series.apply(x, value_fn, deriv_fn)
        else:
            result = eval64(value_fn, x)
        return write_out(result, out)

    return fn
