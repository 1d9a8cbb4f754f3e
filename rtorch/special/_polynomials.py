"""Classical orthogonal polynomials P_n(x) by their three-term recurrences.

``n`` may be a number or a tensor broadcast against ``x``; the recurrence runs up to the largest
degree and each element picks its own degree. Negative degrees give 0, as in PyTorch. No
gradient is defined (PyTorch defines none either)."""

from rtorch import _C
from rtorch.special._core import _no_grad, floating, write_out


def _degrees(x, n):
    x = floating(x)
    if isinstance(n, _C.Tensor):
        if n.is_floating_point():
            dt = _C.promote_types(x.dtype, n.dtype)
            x = x.to(dt)
        n = n.to(_C.int64)
    else:
        n = _C.tensor(int(n), device=x.device)
    import rtorch

    x, n = rtorch.broadcast_tensors(x.detach(), n)
    return x, n


def _run(x, n, first, second, step, out):
    """P_0 = first(x), P_1 = second(x), P_{k+1} = step(k, x, P_k, P_{k-1})."""
    x, n = _degrees(x, n)
    with _no_grad():
        xd = x.to(_C.float64)
        top = int(n.amax()) if n.numel() else 0
        prev = first(xd)
        result = _C.where(n == 0, prev, _C.zeros_like(xd))
        if top >= 1:
            cur = second(xd)
            result = _C.where(n == 1, cur, result)
            for k in range(1, top):
                prev, cur = cur, step(k, xd, cur, prev)
                result = _C.where(n == k + 1, cur, result)
        return write_out(result.to(x.dtype), out)


def _ones(x):
    return _C.ones_like(x)


def _cheb_step(k, x, cur, prev):
    return 2 * x * cur - prev


def chebyshev_polynomial_t(input, n, *, out=None):
    return _run(input, n, _ones, lambda x: x, _cheb_step, out)


def chebyshev_polynomial_u(input, n, *, out=None):
    return _run(input, n, _ones, lambda x: 2 * x, _cheb_step, out)


def chebyshev_polynomial_v(input, n, *, out=None):
    return _run(input, n, _ones, lambda x: 2 * x - 1, _cheb_step, out)


def chebyshev_polynomial_w(input, n, *, out=None):
    return _run(input, n, _ones, lambda x: 2 * x + 1, _cheb_step, out)


def _shifted(fn):
    def shifted(input, n, *, out=None):
        x = floating(input)
        return fn(2 * x.detach() - 1, n, out=out)

    shifted.__name__ = "shifted_" + fn.__name__
    return shifted


shifted_chebyshev_polynomial_t = _shifted(chebyshev_polynomial_t)
shifted_chebyshev_polynomial_u = _shifted(chebyshev_polynomial_u)
shifted_chebyshev_polynomial_v = _shifted(chebyshev_polynomial_v)
shifted_chebyshev_polynomial_w = _shifted(chebyshev_polynomial_w)


def hermite_polynomial_h(input, n, *, out=None):
    # Physicists' Hermite: H_{k+1} = 2x H_k - 2k H_{k-1}.
    return _run(input, n, _ones, lambda x: 2 * x, lambda k, x, c, p: 2 * x * c - 2 * k * p, out)


def hermite_polynomial_he(input, n, *, out=None):
    # Probabilists' Hermite: He_{k+1} = x He_k - k He_{k-1}.
    return _run(input, n, _ones, lambda x: x, lambda k, x, c, p: x * c - k * p, out)


def laguerre_polynomial_l(input, n, *, out=None):
    return _run(
        input, n, _ones, lambda x: 1 - x,
        lambda k, x, c, p: ((2 * k + 1 - x) * c - k * p) / (k + 1), out,
    )


def legendre_polynomial_p(input, n, *, out=None):
    return _run(
        input, n, _ones, lambda x: x,
        lambda k, x, c, p: ((2 * k + 1) * x * c - k * p) / (k + 1), out,
    )
