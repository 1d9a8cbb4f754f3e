"""Samplers rtorch's core lacks (gamma, Poisson, binomial), written over tensor ops and drawn
from rtorch's generator, so ``manual_seed`` reproduces them.

Rejection samplers run vectorised: every element still pending draws a proposal each round,
accepted elements are written out, and rounds repeat until none is pending. Work is done in
float64 and cast back.

Gamma samples are reparameterised with *implicit* gradients: for x ~ Gamma(a, 1) with CDF
F(x; a), holding u = F(x; a) fixed gives dx/da = -(dF/da) / f(x; a). dF/da is taken by a
central difference of the regularised incomplete gamma function in float64 (using whichever of
P or Q = 1 - P is the smaller, so the difference keeps its relative accuracy), and the density
f is evaluated in log space. Beta and Dirichlet samples are normalised gamma samples, so their
gradients follow from these.
"""

import math

import rtorch
from rtorch import _C
from rtorch.autograd.function import Function


def _rand(n, like):
    return rtorch.rand(n, dtype=_C.float64, device=like.device)


def _randn(n, like):
    return rtorch.randn(n, dtype=_C.float64, device=like.device)


def _fill_pending(shape, like, step):
    """Runs ``step(params_index) -> (accepted_mask, values)`` over the pending flat positions
    until every position holds an accepted value."""
    total = 1
    for s in shape:
        total *= s
    out = _C.zeros(total, dtype=_C.float64, device=like.device)
    pending = _C.arange(total, device=like.device)
    while pending.numel():
        accepted, values = step(pending)
        out[pending[accepted]] = values[accepted]
        pending = pending[~accepted]
    return out.reshape(shape)


def _gamma_draw(alpha):
    """Gamma(alpha, 1) samples for a float64 tensor alpha (Marsaglia and Tsang's method)."""
    flat = alpha.reshape(-1)
    boost = flat < 1
    a = _C.where(boost, flat + 1, flat)
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d).sqrt()

    def step(idx):
        dd, cc = d[idx], c[idx]
        z = _randn(idx.numel(), flat)
        u = _rand(idx.numel(), flat)
        v = (1 + cc * z) ** 3
        safe_v = _C.where(v > 0, v, _C.ones_like(v))
        ok = (v > 0) & (u.log() < 0.5 * z * z + dd - dd * safe_v + dd * safe_v.log())
        return ok, dd * safe_v

    x = _fill_pending((flat.numel(),), flat, step)
    # alpha < 1: Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha).
    u = _rand(flat.numel(), flat)
    safe_a = _C.where(boost, flat, _C.ones_like(flat))
    x = _C.where(boost, x * (u.log() / safe_a).exp(), x)
    tiny = rtorch.finfo(_C.float64).tiny
    return x.clamp_min(tiny).reshape(alpha.shape)


def _gamma_density_log(x, a):
    return (a - 1) * x.log() - x - a.lgamma()


def gamma_implicit_grad(x, a):
    """dx/da for x ~ Gamma(a, 1) at fixed CDF value, float64 tensors of one shape."""
    from rtorch._tensor_extra import _igamma64

    h = 1e-5 * a.clamp_min(1e-3)
    p_hi, q_hi = _igamma64(a + h, x)
    p_lo, q_lo = _igamma64((a - h).clamp_min(1e-300), x)
    p, _ = _igamma64(a, x)
    # The smaller tail is computed directly (not as 1 - other), so difference that one.
    use_p = p < 0.5
    d_p = _C.where(use_p, p_hi - p_lo, q_lo - q_hi) / (2 * h)
    grad = -d_p / _gamma_density_log(x, a).exp()
    return _C.where(grad.isfinite(), grad, _C.zeros_like(grad))


class _StandardGamma(Function):
    @staticmethod
    def forward(ctx, alpha):
        x = _gamma_draw(alpha.detach().to(_C.float64)).to(alpha.dtype)
        ctx.save_for_backward(x, alpha)
        return x

    @staticmethod
    def backward(ctx, grad):
        x, alpha = ctx.saved_tensors
        with rtorch.no_grad():
            g = gamma_implicit_grad(x.detach().to(_C.float64), alpha.detach().to(_C.float64))
        return grad * g.to(grad.dtype)


def standard_gamma(alpha):
    """Gamma(alpha, 1) samples of alpha's shape, differentiable in alpha."""
    if alpha.requires_grad and rtorch.is_grad_enabled():
        return _StandardGamma.apply(alpha)
    with rtorch.no_grad():
        return _gamma_draw(alpha.detach().to(_C.float64)).to(alpha.dtype)


# ---------------------------------------------------------------- Poisson


def _poisson_small(lam):
    """Counting uniforms whose running product stays above e^-lam (lam below ~10)."""
    limit = (-lam).exp()
    prod = _C.ones_like(lam)
    count = _C.zeros_like(lam)
    active = _C.ones(lam.shape, dtype=_C.bool, device=lam.device)
    while bool(active.any()):
        prod = prod * _rand(lam.numel(), lam).reshape(lam.shape)
        active = active & (prod > limit)
        count = count + active.to(count.dtype)
    return count


def _poisson_ptrs(lam):
    """Hormann's transformed rejection (PTRS) for lam >= 10, flat float64 input."""
    slam = lam.sqrt()
    loglam = lam.log()
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)

    def step(idx):
        n = idx.numel()
        u = _rand(n, lam) - 0.5
        v = _rand(n, lam)
        us = 0.5 - u.abs()
        aa, bb, ll = a[idx], b[idx], lam[idx]
        k = ((2 * aa / us + bb) * u + ll + 0.43).floor()
        quick = (us >= 0.07) & (v <= vr[idx])
        kk = k.clamp_min(0)
        lhs = v.log() + inv_alpha[idx].log() - (aa / (us * us) + bb).log()
        rhs = -ll + kk * loglam[idx] - (kk + 1).lgamma()
        ok = quick | ((k >= 0) & ~((us < 0.013) & (v > us)) & (lhs <= rhs))
        return ok, k

    return _fill_pending((lam.numel(),), lam, step)


def poisson(rate):
    """Poisson(rate) counts as floats of rate's dtype (no gradient)."""
    with rtorch.no_grad():
        lam = rate.detach().to(_C.float64).reshape(-1)
        big = lam >= 10
        out = _poisson_small(_C.where(big, _C.zeros_like(lam), lam))
        if bool(big.any()):
            out[big] = _poisson_ptrs(lam[big])
        return out.reshape(rate.shape).to(rate.dtype)


# ---------------------------------------------------------------- binomial


def _binomial_inversion(n, q):
    """Sequential search through the pmf (n * q below ~10)."""
    u = _rand(n.numel(), n)
    pmf = (n * (-q).log1p()).exp()
    cdf = pmf.clone()
    k = _C.zeros_like(n)
    ratio = q / (1 - q)
    active = (u > cdf) & (k < n)
    while bool(active.any()):
        k = k + active.to(k.dtype)
        pmf = _C.where(active, pmf * (n - k + 1) / k.clamp_min(1) * ratio, pmf)
        cdf = cdf + _C.where(active, pmf, _C.zeros_like(pmf))
        active = active & (u > cdf) & (k < n)
    return k


def _binomial_btrs(n, q):
    """Hormann's BTRS transformed rejection (n * q >= 10), flat float64 inputs, q <= 1/2."""
    spq = (n * q * (1 - q)).sqrt()
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
    c = n * q + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = (q / (1 - q)).log()
    m = ((n + 1) * q).floor()
    h = (m + 1).lgamma() + (n - m + 1).lgamma()

    def step(idx):
        cnt = idx.numel()
        u = _rand(cnt, n) - 0.5
        v = _rand(cnt, n)
        us = 0.5 - u.abs()
        k = ((2 * a[idx] / us + b[idx]) * u + c[idx]).floor()
        nn = n[idx]
        inside = (k >= 0) & (k <= nn)
        kk = k.clamp(_C.zeros_like(nn), nn)
        quick = (us >= 0.07) & (v <= vr[idx])
        lv = (v * alpha[idx] / (a[idx] / (us * us) + b[idx])).log()
        bound = h[idx] - (kk + 1).lgamma() - (nn - kk + 1).lgamma() + (kk - m[idx]) * lpq[idx]
        return inside & (quick | (lv <= bound)), k

    return _fill_pending((n.numel(),), n, step)


def binomial(total_count, probs):
    """Binomial(total_count, probs) counts as floats (no gradient); shapes already broadcast."""
    with rtorch.no_grad():
        n = total_count.detach().to(_C.float64).reshape(-1)
        p = probs.detach().to(_C.float64).reshape(-1)
        flip = p > 0.5
        q = _C.where(flip, 1 - p, p)
        big = n * q >= 10
        safe_q = _C.where(big | (q == 0), _C.full_like(q, 0.25), q)
        out = _binomial_inversion(_C.where(big, _C.zeros_like(n), n), safe_q)
        out = _C.where(q == 0, _C.zeros_like(out), out)
        if bool(big.any()):
            out[big] = _binomial_btrs(n[big], q[big])
        out = _C.where(flip, n - out, out)
        return out.reshape(probs.shape).to(probs.dtype)


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
