"""Bessel functions of integer order 0 and 1, evaluated in float64 over tensor ops.

Small arguments use the ascending power series; large ones the Hankel asymptotic expansion,
truncated before its terms start to grow. The switch points keep both parts near 1e-12."""

import math

from rtorch import _C

_EULER = 0.5772156649015329

# |x| at or below which the power series is used.
_I_SWITCH = 15.0
_J_SWITCH = 15.0


def _where(cond, a, b):
    return _C.where(cond, a, b)


def _modified_series(a, order):
    """sum_k (a^2/4)^k / (k! (k+order)!) for a >= 0 (no cancellation: all terms positive)."""
    q = a * a / 4
    term = _C.ones_like(a) / math.factorial(order)
    total = term
    for k in range(1, 80):
        term = term * q / (k * (k + order))
        total = total + term
    return total


def _modified_asymptotic(b, order):
    """sum_k c_k / b^k with I_nu(b) ~ e^b / sqrt(2 pi b) * sum (b large)."""
    term = _C.ones_like(b)
    total = term
    mu = 4 * order * order
    for k in range(1, 28):
        term = term * ((2 * k - 1) ** 2 - mu) / (8 * k * b)
        total = total + term
    return total


def _modified(x, order, scaled):
    a = x.abs()
    small = a <= _I_SWITCH
    s = _where(small, a, _C.zeros_like(a))
    series = _modified_series(s, order) * (s / 2) ** order
    if scaled:
        series = series * (-s).exp()
    b = _where(small, _C.full_like(a, 2 * _I_SWITCH), a)
    big = _modified_asymptotic(b, order) / (2 * math.pi * b).sqrt()
    if not scaled:
        big = big * b.exp()
    out = _where(small, series, big)
    if order % 2:
        out = out * x.sign()
    # PyTorch reports NaN for the unscaled functions at +-inf (and 0 for the scaled ones).
    bad = x.isnan() | (x.isinf() if not scaled else x.isnan())
    return _where(bad, _C.full_like(x, math.nan), out)


def i0_value(x):
    return _modified(x, 0, False)


def i0e_value(x):
    return _modified(x, 0, True)


def i1_value(x):
    return _modified(x, 1, False)


def i1e_value(x):
    return _modified(x, 1, True)


def _bessel_series(s, order):
    """sum_k (-s^2/4)^k / (k! (k+order)!) * (s/2)^order."""
    q = -s * s / 4
    term = _C.ones_like(s) / math.factorial(order)
    total = term
    for k in range(1, 60):
        term = term * q / (k * (k + order))
        total = total + term
    return total * (s / 2) ** order


def _hankel_pq(b, order):
    """The P and Q sums of the Hankel expansion of J_nu/Y_nu for large b."""
    mu = 4 * order * order
    term = _C.ones_like(b)
    p = term
    q = _C.zeros_like(b)
    for k in range(1, 30):
        term = term * (mu - (2 * k - 1) ** 2) / (8 * k * b)
        if k % 2:
            q = q + term * (1 if k % 4 == 1 else -1)
        else:
            p = p + term * (1 if k % 4 == 0 else -1)
    return p, q


def _hankel(b, order, kind):
    p, q = _hankel_pq(b, order)
    chi = b - (2 * order + 1) * math.pi / 4
    amp = (2 / (math.pi * b)).sqrt()
    if kind == "j":
        return amp * (p * chi.cos() - q * chi.sin())
    return amp * (p * chi.sin() + q * chi.cos())


def _split(x, switch):
    a = x.abs()
    small = a <= switch
    s = _where(small, a, _C.ones_like(a))
    b = _where(small, _C.full_like(a, 2 * switch), a)
    return a, small, s, b


def j0_value(x):
    _, small, s, b = _split(x, _J_SWITCH)
    out = _where(small, _bessel_series(s, 0), _hankel(b, 0, "j"))
    return _nan_at_infinity(x, out)


def j1_value(x):
    _, small, s, b = _split(x, _J_SWITCH)
    out = _where(small, _bessel_series(s, 1), _hankel(b, 1, "j")) * x.sign()
    return _nan_at_infinity(x, out)


def _harmonic_series(s, order):
    """sum_k (-1)^k (psi(k+1) + psi(k+1+order) + 2 gamma) / 2 ... helper for Y_nu:
    returns sum_k (-s^2/4)^k h_k / (k! (k+order)!) with h_k = H_k + H_{k+order}."""
    q = -s * s / 4
    term = _C.ones_like(s) / math.factorial(order)
    h_k, h_ko = 0.0, sum(1.0 / j for j in range(1, order + 1))
    total = term * (h_k + h_ko)
    for k in range(1, 60):
        term = term * q / (k * (k + order))
        h_k += 1.0 / k
        h_ko += 1.0 / (k + order)
        total = total + term * (h_k + h_ko)
    return total


def y0_value(x):
    _, small, s, b = _split(x, _J_SWITCH)
    # Y0 = (2/pi) (ln(x/2) + gamma) J0 - (1/pi) sum (-x^2/4)^k 2 H_k / (k!)^2
    series = (2 / math.pi) * ((s / 2).log() + _EULER) * _bessel_series(s, 0)
    series = series - _harmonic_series(s, 0) / math.pi
    out = _where(small, series, _hankel(b, 0, "y"))
    return _domain_y(x, out)


def y1_value(x):
    _, small, s, b = _split(x, _J_SWITCH)
    # Y1 = -2/(pi x) + (2/pi) ln(x/2) J1 - (x/(2 pi)) sum (-x^2/4)^k (psi(k+1)+psi(k+2)) / (k!(k+1)!)
    psi_sum = _harmonic_series(s, 1) - 2 * _EULER * _bessel_series(s, 1) / (s / 2)
    series = -2 / (math.pi * s) + (2 / math.pi) * (s / 2).log() * _bessel_series(s, 1)
    series = series - (s / (2 * math.pi)) * psi_sum
    out = _where(small, series, _hankel(b, 1, "y"))
    return _domain_y(x, out)


def _nan_at_infinity(x, out):
    # PyTorch's kernels give NaN at +-inf (the limit would be 0).
    return _where(x.isnan() | x.isinf(), _C.full_like(x, math.nan), out)


def _domain_y(x, out):
    # Y_nu is -inf at 0 and NaN for negative arguments.
    out = _where(x == 0, _C.full_like(x, -math.inf), out)
    out = _where(x < 0, _C.full_like(x, math.nan), out)
    return _nan_at_infinity(x, out)


def spherical_j0_value(x):
    zero = x == 0
    safe = _where(zero, _C.ones_like(x), x)
    out = _where(zero, _C.ones_like(x), safe.sin() / safe)
    return _where(x.isinf(), _C.zeros_like(x), out)


# Modified Bessel functions of the second kind, from K_nu(x) = int_0^inf exp(-x cosh t) cosh(nu t) dt.
# The integrand is even in t and decays doubly exponentially, so the trapezoid rule on a fixed
# grid converges geometrically in the step; the scaled form e^x K_nu(x) integrates
# exp(-x (cosh t - 1)), which cannot overflow.
# For x > 1 the integrand's width shrinks like 1/sqrt(x): the grid is stretched by
# w = min(1, 1/sqrt(x)) so every argument sees the same number of points per width.
_K_STEP = 0.05
_K_SPAN = 40.0


def _k_scaled(x, order):
    """e^x K_order(x) for x > 0 (float64); other inputs are handled by the callers."""
    pos = x > 0
    safe = _where(pos, x, _C.ones_like(x))
    s = _C.arange(0.0, _K_SPAN, _K_STEP, dtype=x.dtype, device=x.device)
    weights = _C.full_like(s, _K_STEP)
    weights[0] = _K_STEP / 2
    flat = safe.reshape(-1, 1)
    width = flat.clamp(min=1.0).rsqrt()
    # Chunk the rows so the (elements x grid) table stays small.
    outs = []
    for start in range(0, flat.shape[0], 4096):
        rows, w = flat[start:start + 4096], width[start:start + 4096]
        t = s * w
        integrand = (-rows * (t.cosh() - 1)).exp() * (order * t).cosh()
        outs.append((integrand * weights).sum(-1) * w.squeeze(-1))
    out = _C.cat(outs) if outs else flat.reshape(-1)
    return out.reshape(x.shape)


def _k_domain(x, out, zero_value):
    out = _where(x == 0, _C.full_like(x, zero_value), out)
    out = _where(x < 0, _C.full_like(x, math.nan), out)
    out = _where(x.isinf() & (x > 0), _C.zeros_like(x), out)
    return _where(x.isnan(), x, out)


def k0e_value(x):
    return _k_domain(x, _k_scaled(x, 0), math.inf)


def k1e_value(x):
    return _k_domain(x, _k_scaled(x, 1), math.inf)


def k0_value(x):
    safe = _where(x > 0, x, _C.ones_like(x))
    return _k_domain(x, _k_scaled(x, 0) * (-safe).exp(), math.inf)


def k1_value(x):
    safe = _where(x > 0, x, _C.ones_like(x))
    return _k_domain(x, _k_scaled(x, 1) * (-safe).exp(), math.inf)


_AI0 = 0.355028053887817239   # Ai(0)
_AIP0 = 0.258819403792806798  # -Ai'(0)
_AIRY_SWITCH = 8.0


def _airy_series(x):
    """Maclaurin series Ai(x) = Ai(0) f(x) + Ai'(0) g(x) (used for -8 <= x <= 0)."""
    cube = x * x * x
    f_term, g_term = _C.ones_like(x), x.clone()
    f_sum, g_sum = f_term, g_term
    for k in range(1, 60):
        f_term = f_term * cube / ((3 * k - 1) * (3 * k))
        g_term = g_term * cube / ((3 * k) * (3 * k + 1))
        f_sum, g_sum = f_sum + f_term, g_sum + g_term
    return _AI0 * f_sum - _AIP0 * g_sum


def _airy_oscillating(z):
    """Ai(-z) for large z > 0 from its asymptotic expansion."""
    zeta = 2.0 / 3.0 * z * z.sqrt()
    even, odd = _C.ones_like(z), _C.zeros_like(z)
    u, power = 1.0, _C.ones_like(z)
    for k in range(1, 16):
        u = u * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k)
        power = power / zeta
        sign = -1.0 if (k // 2) % 2 else 1.0
        if k % 2:
            odd = odd + sign * u * power
        else:
            even = even + sign * u * power
    phase = zeta + math.pi / 4
    return (phase.sin() * even - phase.cos() * odd) / (math.sqrt(math.pi) * z.sqrt().sqrt())


def airy_ai_value(x):
    pos = x > 0
    xp = _where(pos, x, _C.ones_like(x))
    zeta = 2.0 / 3.0 * xp * xp.sqrt()
    # Ai(x) = sqrt(x / 3) K_{1/3}(zeta) / pi for x > 0
    right = (xp / 3).sqrt() * _k_scaled(zeta, 1.0 / 3.0) * (-zeta).exp() / math.pi
    near = (x <= 0) & (x >= -_AIRY_SWITCH)
    mid = _airy_series(_where(near, x, _C.zeros_like(x)))
    far_z = _where(x < -_AIRY_SWITCH, -x, _C.full_like(x, 2 * _AIRY_SWITCH))
    left = _airy_oscillating(far_z)
    out = _where(pos, right, _where(near, mid, left))
    # PyTorch's kernel gives NaN at both infinities.
    return _where(x.isnan() | x.isinf(), _C.full_like(x, math.nan), out)
