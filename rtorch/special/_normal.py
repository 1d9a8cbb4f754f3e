"""The normal distribution's special functions (ndtr, log_ndtr, ndtri) and erfcx, in float64.

The lower tail is computed through erfcx = exp(t^2) erfc(t) so that log_ndtr stays finite and
accurate far below where ndtr underflows; ndtri refines an erfinv guess by Newton steps on
log_ndtr, which keeps full relative accuracy for tiny probabilities."""

import math

from rtorch import _C

_SQRT2 = math.sqrt(2.0)
_SQRT_PI = math.sqrt(math.pi)
# erfcx switches from exp(t^2) erfc(t) to a continued fraction at this t.
_CF_SWITCH = 3.0
_CF_DEPTH = 80


def _erfcx_positive(t):
    """erfcx for t >= 0."""
    near = t < _CF_SWITCH
    tn = _C.where(near, t, _C.zeros_like(t))
    direct = (tn * tn).exp() * tn.erfc()
    # erfc(t) = exp(-t^2)/sqrt(pi) / (t + (1/2)/(t + 1/(t + (3/2)/(t + ...)))), evaluated
    # bottom-up to a fixed depth (converges fast for t >= 3).
    tf = _C.where(near, _C.full_like(t, _CF_SWITCH), t)
    frac = tf
    for n in range(_CF_DEPTH, 0, -1):
        frac = tf + (n / 2) / frac
    far = 1 / (_SQRT_PI * frac)
    return _C.where(near, direct, far)


def erfcx_value(x):
    pos = _erfcx_positive(x.abs())
    # erfcx(-t) = 2 exp(t^2) - erfcx(t).
    neg = 2 * (x * x).exp() - pos
    out = _C.where(x >= 0, pos, neg)
    out = _C.where(x.isinf() & (x > 0), _C.zeros_like(x), out)
    return _C.where(x.isnan(), x, out)


def ndtr_value(x):
    return 0.5 * (-x / _SQRT2).erfc()


def log_ndtr_value(x):
    neg = x < 0
    xn = _C.where(neg, x, _C.zeros_like(x))
    lower = (0.5 * erfcx_value(-xn / _SQRT2)).log() - xn * xn / 2
    xp = _C.where(neg, _C.zeros_like(x), x)
    upper = (-0.5 * (xp / _SQRT2).erfc()).log1p()
    out = _C.where(neg, lower, upper)
    return _C.where(x.isnan(), x, out)


def log_ndtr_slope(x):
    """d/dx log_ndtr(x) = pdf(x) / ndtr(x), written without under/overflow."""
    return math.sqrt(2 / math.pi) / erfcx_value(-x / _SQRT2)


def _lower_quantile(q):
    """ndtri for 0 < q <= 1/2."""
    guess = _SQRT2 * (2 * q - 1).erfinv()
    # Very small q: 2q - 1 rounds to -1, so start from the tail's asymptotic form.
    lq = q.log()
    tail = -(-2 * lq - (-2 * lq).log() - math.log(2 * math.pi)).clamp_min(0).sqrt()
    x = _C.where(q < 1e-3, tail, guess)
    for _ in range(8):
        x = x - (log_ndtr_value(x) - lq) / log_ndtr_slope(x)
    return x


def ndtri_value(p):
    upper = p > 0.5
    q = _C.where(upper, 1 - p, p)
    inside = (q > 0) & (q <= 0.5)
    qs = _C.where(inside, q, _C.full_like(q, 0.25))
    x = _lower_quantile(qs)
    x = _C.where(upper, -x, x)
    x = _C.where(p == 0.5, _C.zeros_like(x), x)
    x = _C.where(p == 0, _C.full_like(x, -math.inf), x)
    x = _C.where(p == 1, _C.full_like(x, math.inf), x)
    bad = (p < 0) | (p > 1) | p.isnan()
    return _C.where(bad, _C.full_like(x, math.nan), x)
