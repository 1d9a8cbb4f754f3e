"""``rtorch.special``: PyTorch's special functions over rtorch's tensor ops.

Functions that already exist as Tensor methods (``erf``, ``lgamma``, ``digamma``, ``i0`` …)
are forwarded; the others are evaluated in float64 by series and asymptotic expansions and
cast back to the input's dtype. Gradients follow PyTorch: where it defines one, the derivative
is a closed form in terms of other special functions (so higher orders work); where it
defines none (orthogonal polynomials, ``spherical_bessel_j0``), the result carries no graph.
"""

import math

from rtorch import _C
from rtorch.special import _bessel, _normal
from rtorch.special._core import floating, pair, unary, write_out
from rtorch.special._gamma import gammainc, gammaincc, zeta
from rtorch.special._polynomials import (
    chebyshev_polynomial_t,
    chebyshev_polynomial_u,
    chebyshev_polynomial_v,
    chebyshev_polynomial_w,
    hermite_polynomial_h,
    hermite_polynomial_he,
    laguerre_polynomial_l,
    legendre_polynomial_p,
    shifted_chebyshev_polynomial_t,
    shifted_chebyshev_polynomial_u,
    shifted_chebyshev_polynomial_v,
    shifted_chebyshev_polynomial_w,
)

__all__ = [
    "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma",
    "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc",
    "gammaincc", "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e",
    "i1", "i1e", "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr",
    "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
    "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1", "airy_ai", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "sinc",
    "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "softmax",
    "spherical_bessel_j0", "xlog1py", "xlogy", "zeta",
]


def _method(name):
    def fn(input, *, out=None):
        return write_out(getattr(floating(input), name)(), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.special.{name}``: the Tensor method ``{name}``."
    return fn


erf = _method("erf")
erfc = _method("erfc")
erfinv = _method("erfinv")
expit = _method("sigmoid")
expit.__name__ = "expit"
exp2 = _method("exp2")
expm1 = _method("expm1")
log1p = _method("log1p")
gammaln = _method("lgamma")
gammaln.__name__ = "gammaln"
digamma = _method("digamma")
psi = digamma
sinc = _method("sinc")


def logit(input, eps=None, *, out=None):
    return write_out(floating(input).logit(eps), out)


def xlogy(input, other, *, out=None):
    x, y = pair(input, other)
    return write_out(x.xlogy(y), out)


def xlog1py(input, other, *, out=None):
    """x * log1p(y), defined as 0 where x == 0 (unless y is NaN)."""
    x, y = pair(input, other)
    prod = x * y.log1p()
    return write_out(_C.where((x == 0) & ~y.isnan(), _C.zeros_like(prod), prod), out)


def polygamma(n, input, *, out=None):
    return write_out(floating(input).polygamma(n), out)


def multigammaln(input, p, *, out=None):
    return write_out(floating(input).mvlgamma(p), out)


def logsumexp(input, dim, keepdim=False, *, out=None):
    return write_out(input.logsumexp(dim, keepdim), out)


def softmax(input, dim, *, dtype=None):
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return input.log_softmax(dim, dtype=dtype)


def round(input, *, decimals=0, out=None):
    return write_out(input.round(decimals=decimals), out)


def _entr_value(x):
    safe = _C.where(x > 0, x, _C.ones_like(x))
    out = -safe * safe.log()
    out = _C.where(x == 0, _C.zeros_like(x), out)
    out = _C.where(x < 0, _C.full_like(x, -math.inf), out)
    return _C.where(x.isnan(), x, out)


entr = unary(_entr_value, lambda x: -(x.log() + 1))
entr.__doc__ = "-x log x for x > 0, 0 at 0, -inf for x < 0."

ndtr = unary(_normal.ndtr_value, lambda x: (-x * x / 2).exp() / math.sqrt(2 * math.pi))
ndtr.__doc__ = "The standard normal CDF."
log_ndtr = unary(_normal.log_ndtr_value, lambda x: math.sqrt(2 / math.pi) / erfcx(-x / math.sqrt(2)))
log_ndtr.__doc__ = "log of the standard normal CDF, accurate far into the lower tail."
ndtri = unary(_normal.ndtri_value, lambda p: math.sqrt(2 * math.pi) * (ndtri(p) ** 2 / 2).exp())
ndtri.__doc__ = "The standard normal quantile function (inverse of ndtr)."
erfcx = unary(_normal.erfcx_value, lambda x: 2 * x * erfcx(x) - 2 / math.sqrt(math.pi))
erfcx.__doc__ = "The scaled complementary error function exp(x^2) erfc(x)."


def _i1_over_x_limit(x, value):
    # d/dx I1 = I0 - I1/x (1/2 at x = 0); same shape for the scaled form.
    zero = x == 0
    safe = _C.where(zero, _C.ones_like(x), x)
    return _C.where(zero, _C.full_like(x, 0.5), value / safe)


i0 = unary(_bessel.i0_value, lambda x: i1(x))
i0.__doc__ = "Modified Bessel function of the first kind, order 0."
i1 = unary(_bessel.i1_value, lambda x: i0(x) - _i1_over_x_limit(x, i1(x)))
i1.__doc__ = "Modified Bessel function of the first kind, order 1."
i0e = unary(_bessel.i0e_value, lambda x: i1e(x) - x.sign() * i0e(x))
i0e.__doc__ = "Exponentially scaled i0: exp(-|x|) i0(x)."
i1e = unary(
    _bessel.i1e_value,
    lambda x: i0e(x) - x.sign() * i1e(x) - _i1_over_x_limit(x, i1e(x)),
)
i1e.__doc__ = "Exponentially scaled i1: exp(-|x|) i1(x)."

modified_bessel_i0 = unary(_bessel.i0_value, lambda x: i1(x))
modified_bessel_i1 = unary(
    _bessel.i1_value, lambda x: i0(x) - _i1_over_x_limit(x, i1(x))
)
bessel_j0 = unary(_bessel.j0_value, lambda x: -bessel_j1(x))
bessel_j0.__doc__ = "Bessel function of the first kind, order 0."
bessel_j1 = unary(
    _bessel.j1_value, lambda x: bessel_j0(x) - _i1_over_x_limit(x, bessel_j1(x))
)
bessel_j1.__doc__ = "Bessel function of the first kind, order 1."
bessel_y0 = unary(_bessel.y0_value, lambda x: -bessel_y1(x))
bessel_y0.__doc__ = "Bessel function of the second kind, order 0."
bessel_y1 = unary(_bessel.y1_value, lambda x: bessel_y0(x) - bessel_y1(x) / x)
bessel_y1.__doc__ = "Bessel function of the second kind, order 1."
spherical_bessel_j0 = unary(_bessel.spherical_j0_value)
spherical_bessel_j0.__doc__ = "Spherical Bessel function of the first kind, order 0: sin(x)/x."
modified_bessel_k0 = unary(_bessel.k0_value, lambda x: -modified_bessel_k1(x))
modified_bessel_k0.__doc__ = "Modified Bessel function of the second kind, order 0."
modified_bessel_k1 = unary(_bessel.k1_value, lambda x: -modified_bessel_k0(x) - modified_bessel_k1(x) / x)
modified_bessel_k1.__doc__ = "Modified Bessel function of the second kind, order 1."
# PyTorch defines no gradient for the scaled forms or for airy_ai.
scaled_modified_bessel_k0 = unary(_bessel.k0e_value)
scaled_modified_bessel_k0.__doc__ = "exp(x) K0(x)."
scaled_modified_bessel_k1 = unary(_bessel.k1e_value)
scaled_modified_bessel_k1.__doc__ = "exp(x) K1(x)."
airy_ai = unary(_bessel.airy_ai_value)
airy_ai.__doc__ = "The Airy function Ai(x)."
