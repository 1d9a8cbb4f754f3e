"""L-BFGS (``torch.optim.LBFGS``): limited-memory quasi-Newton steps driven by a closure.

All parameters are treated as one flat vector.  The search direction comes from the
two-loop recursion over the last ``history_size`` curvature pairs (s, y); the step length
is either ``lr`` (fixed) or found by a strong-Wolfe line search (Nocedal & Wright,
Numerical Optimization, algorithms 3.5 and 3.6, with cubic interpolation, eq. 3.59).
"""

import rtorch as torch

from ._elementwise import _check_lr
from .optimizer import Optimizer

__all__ = ["LBFGS"]

_ONLY_STRONG_WOLFE = "only 'strong_wolfe' is supported"


def _cubic_minimizer(a, fa, ga, b, fb, gb, bounds=None):
    """Minimizer of the cubic through (a, fa, ga) and (b, fb, gb), clipped to ``bounds``.

    Without bounds the interval between the two points is used; when the cubic has no
    real minimizer the middle of the bounds is returned.
    """
    low, high = bounds if bounds is not None else (min(a, b), max(a, b))
    d1 = ga + gb - 3 * (fa - fb) / (a - b)
    disc = d1 * d1 - ga * gb
    if disc < 0:
        return (low + high) / 2.0
    d2 = disc**0.5
    # written from the left point of the pair so the formula is the same either way round
    if a > b:
        a, fa, ga, b, fb, gb = b, fb, gb, a, fa, ga
    point = b - (b - a) * ((gb + d2 - d1) / (gb - ga + 2 * d2))
    return min(max(point, low), high)


class _Probe:
    """One trial point of the line search: step t, loss, flat gradient, slope along d."""

    __slots__ = ("t", "f", "g", "slope")

    def __init__(self, t, f, g, slope):
        self.t, self.f, self.g, self.slope = t, f, g, slope


def _strong_wolfe(evaluate, t, d, f0, g0, slope0, c1=1e-4, c2=0.9, tol=1e-9, max_ls=25):
    """Find t meeting the strong Wolfe conditions along d.

    ``evaluate(t)`` returns (loss, flat gradient) at x + t d.  Returns
    (loss, flat gradient, t, number of evaluations).
    """
    scale = d.abs().max()
    start = _Probe(0, f0, g0.clone(), slope0)

    def probe(step):
        f, g = evaluate(step)
        return _Probe(step, f, g, g.dot(d))

    def too_high(p):  # Armijo (sufficient decrease) condition fails
        return p.f > f0 + c1 * p.t * slope0

    def curvature(p):
        return abs(p.slope) <= -c2 * slope0

    # phase 1 (bracketing): grow t until an interval holding a good point is known
    previous, current = start, probe(t)
    evals, iters = 1, 0
    bracket, done = None, False
    while iters < max_ls:
        if too_high(current) or (iters > 1 and current.f >= previous.f):
            bracket = [previous, current]
            break
        if curvature(current):
            bracket, done = [current], True
            break
        if current.slope >= 0:
            bracket = [previous, current]
            break
        # extrapolate: a cubic step kept within [t + 0.01 (t - t_prev), 10 t]
        lo = current.t + 0.01 * (current.t - previous.t)
        nxt = _cubic_minimizer(
            previous.t,
            previous.f,
            previous.slope,
            current.t,
            current.f,
            current.slope,
            bounds=(lo, current.t * 10),
        )
        previous, current = current, probe(nxt)
        evals += 1
        iters += 1
    if iters == max_ls:
        bracket = [start, current]

    # phase 2 (zoom): shrink the bracket; 'best' indexes its lower-loss end
    def ends():
        return (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)

    best, worst = ends()
    stalled = False
    while not done and iters < max_ls:
        left, right = bracket
        if abs(right.t - left.t) * scale < tol:
            break
        t = _cubic_minimizer(left.t, left.f, left.slope, right.t, right.f, right.slope)
        top, bottom = max(left.t, right.t), min(left.t, right.t)
        margin = 0.1 * (top - bottom)
        # keep trial points away from the ends: after a stalled round, push inwards
        if min(top - t, t - bottom) < margin:
            if stalled or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        current = probe(t)
        evals += 1
        iters += 1
        if too_high(current) or current.f >= bracket[best].f:
            bracket[worst] = current
            best, worst = ends()
        else:
            if curvature(current):
                done = True
            elif current.slope * (bracket[worst].t - bracket[best].t) >= 0:
                bracket[worst] = bracket[best]
            bracket[best] = current
    chosen = bracket[best]
    return chosen.f, chosen.g, chosen.t, evals


class LBFGS(Optimizer):
    """L-BFGS; ``step(closure)`` runs up to ``max_iter`` iterations.

    Parameter groups are not supported: all parameters share one flat vector.
    """

    def __init__(
        self,
        params,
        lr=1,
        max_iter=20,
        max_eval=None,
        tolerance_grad=1e-7,
        tolerance_change=1e-9,
        history_size=100,
        line_search_fn=None,
        *,
        maximize=False,
    ):
        _check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._numel_cache = None

    @property
    def _params(self):
        return self.param_groups[0]["params"]

    def __setstate__(self, state):
        super().__setstate__(state)
        self.defaults.pop("differentiable", None)
        self._numel_cache = None

    # ------------------------------------------------------------ flat-vector views

    def _numel(self):
        if self._numel_cache is None:
            self._numel_cache = sum(p.numel() for p in self._params)
        return self._numel_cache

    def _flat_grad(self, maximize):
        pieces = []
        for p in self._params:
            if p.grad is None:
                pieces.append(p.new_zeros(p.numel()))
            else:
                pieces.append(p.grad.reshape(-1))
        flat = torch.cat(pieces, 0)
        return flat.neg() if maximize else flat

    def _shift(self, t, direction):
        """x <- x + t * direction, direction being a flat vector."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(direction[offset : offset + n].view_as(p), alpha=float(t))
            offset += n

    def _snapshot(self):
        return [p.clone() for p in self._params]

    def _restore(self, saved):
        for p, value in zip(self._params, saved):
            p.copy_(value)

    # ----------------------------------------------------------------------- step

    def _two_loop(self, grad, dirs, steps, rhos, h_diag, alphas):
        """Approximate -H grad from the stored pairs (Nocedal & Wright, algorithm 7.4)."""
        q = grad.neg()
        for i in reversed(range(len(dirs))):
            alphas[i] = steps[i].dot(q) * rhos[i]
            q.add_(dirs[i], alpha=-float(alphas[i]))
        r = q.mul(h_diag)
        for i in range(len(dirs)):
            beta = dirs[i].dot(r) * rhos[i]
            r.add_(steps[i], alpha=float(alphas[i] - beta))
        return r

    def step(self, closure):
        """Run the L-BFGS iterations; ``closure`` re-evaluates the model and returns the loss."""
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history, search = group["history_size"], group["line_search_fn"]
        maximize = group["maximize"]
        if search is not None and search != "strong_wolfe":
            raise RuntimeError(_ONLY_STRONG_WOLFE)

        def evaluate():
            with torch.enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with torch.no_grad():
            first_loss = evaluate()
            loss = float(first_loss)
            evals = 1
            state["func_evals"] += 1
            grad = self._flat_grad(maximize)
            if grad.abs().max() <= tol_grad:
                return first_loss

            d, t = state.get("d"), state.get("t")
            dirs, steps, rhos = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
            h_diag = state.get("H_diag")
            prev_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

            iteration = 0
            while iteration < max_iter:
                iteration += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = grad.neg()
                    dirs, steps, rhos, h_diag = [], [], [], 1
                else:
                    y = grad.sub(prev_grad)
                    s = d.mul(t)
                    ys = y.dot(s)
                    # keep the pair only when the curvature condition holds
                    if ys > 1e-10:
                        if len(dirs) == history:
                            del dirs[0], steps[0], rhos[0]
                        dirs.append(y)
                        steps.append(s)
                        rhos.append(1.0 / ys)
                        h_diag = ys / y.dot(y)
                    alphas = state.setdefault("al", [None] * history)
                    d = self._two_loop(grad, dirs, steps, rhos, h_diag, alphas)

                if prev_grad is None:
                    prev_grad = grad.clone()
                else:
                    prev_grad.copy_(grad)
                prev_loss = loss

                # first ever step: scale so the first move is at most lr in l1 terms
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / grad.abs().sum()) * lr
                else:
                    t = lr
                slope = grad.dot(d)
                if slope > -tol_change:
                    break

                spent = 0
                if search is not None:
                    origin = self._snapshot()

                    def along(step_length, origin=origin, d=d):
                        self._shift(step_length, d)
                        value = float(evaluate())
                        flat = self._flat_grad(maximize)
                        self._restore(origin)
                        return value, flat

                    loss, grad, t, spent = _strong_wolfe(
                        along, t, d, loss, grad, slope, tol=tol_change
                    )
                    self._shift(t, d)
                    converged = grad.abs().max() <= tol_grad
                else:
                    self._shift(t, d)
                    converged = False
                    if iteration != max_iter:
                        loss = float(evaluate())
                        grad = self._flat_grad(maximize)
                        converged = grad.abs().max() <= tol_grad
                        spent = 1
                evals += spent
                state["func_evals"] += spent

                if iteration == max_iter or evals >= max_eval or converged:
                    break
                if d.mul(t).abs().max() <= tol_change:
                    break
                if abs(loss - prev_loss) < tol_change:
                    break

            state.update(
                d=d,
                t=t,
                old_dirs=dirs,
                old_stps=steps,
                ro=rhos,
                H_diag=h_diag,
                prev_flat_grad=prev_grad,
                prev_loss=prev_loss,
            )
        return first_loss
