"""Hurwitz zeta and the regularised incomplete gamma functions with their gradients."""

import math

from rtorch import _C
from rtorch.autograd.function import Function
from rtorch.special._core import _no_grad, pair, write_out

# Bernoulli numbers B_2j / (2j)! for the Euler-Maclaurin tail of the zeta sum.
_B2J = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798)


def zeta_value(s, q):
    """Hurwitz zeta(s, q) = sum_k (q + k)^-s in float64 (s > 1), by Euler-Maclaurin."""
    lowest = float(q.amin()) if q.numel() else 0.0
    if math.isnan(lowest) or math.isinf(lowest):
        lowest = 0.0
    shift = max(10, math.ceil(12 - lowest))
    acc = _C.zeros_like(s + q)
    for k in range(shift):
        acc = acc + (q + k) ** (-s)
    z = q + shift
    tail = z ** (1 - s) / (s - 1) + 0.5 * z ** (-s)
    rising = s.clone()  # s (s+1) ... (s + 2j - 2)
    for j, b in enumerate(_B2J, 1):
        tail = tail + b / math.factorial(2 * j) * rising * z ** (-s - 2 * j + 1)
        rising = rising * (s + 2 * j - 1) * (s + 2 * j)
    out = acc + tail
    inf = _C.full_like(out, math.inf)
    nan = _C.full_like(out, math.nan)
    out = _C.where(s == 1, inf, out)
    out = _C.where(s < 1, nan, out)
    # Poles at non-positive integer q; q^-s undefined for negative q and fractional s.
    q_int = q == q.floor()
    out = _C.where((q <= 0) & q_int & (s >= 1), inf, out)
    out = _C.where((q < 0) & ~q_int & (s != s.floor()), nan, out)
    return _C.where(s.isnan() | q.isnan(), nan, out)


def _in64(fn, *tensors):
    with _no_grad():
        return fn(*[t.detach().to(_C.float64) for t in tensors])


class _Zeta(Function):
    @staticmethod
    def forward(ctx, s, q):
        ctx.save_for_backward(s, q)
        return _in64(zeta_value, s, q).to(s.dtype)

    @staticmethod
    def backward(ctx, grad):
        s, q = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return None, grad * -s * zeta(s + 1, q)


def zeta(input, other, *, out=None):
    s, q = pair(input, other)
    s, q = _bcast(s, q)
    if (s.requires_grad or q.requires_grad) and _C.is_grad_enabled():
        return write_out(_Zeta.apply(s, q), out)
    return write_out(_in64(zeta_value, s, q).to(s.dtype), out)


def _bcast(a, b):
    import rtorch

    return rtorch.broadcast_tensors(a, b)


def _igamma_pair(a, x, upper):
    from rtorch._tensor_extra import _igamma64

    p, q = _in64(_igamma64, a, x)
    return (q if upper else p).to(a.dtype)


class _IncompleteGamma(Function):
    @staticmethod
    def forward(ctx, a, x, upper):
        ctx.save_for_backward(a, x)
        ctx.upper = upper
        return _igamma_pair(a, x, upper)

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            name = "igammac" if ctx.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a); Q = 1 - P.
        density = ((a - 1) * x.log() - x - a.lgamma()).exp()
        return None, grad * (-density if ctx.upper else density), None


def _incomplete(a, x, upper, out):
    a, x = pair(a, x)
    a, x = _bcast(a, x)
    if (a.requires_grad or x.requires_grad) and _C.is_grad_enabled():
        return write_out(_IncompleteGamma.apply(a, x, upper), out)
    return write_out(_igamma_pair(a, x, upper), out)


def gammainc(input, other, *, out=None):
    return _incomplete(input, other, False, out)


def gammaincc(input, other, *, out=None):
    return _incomplete(input, other, True, out)
