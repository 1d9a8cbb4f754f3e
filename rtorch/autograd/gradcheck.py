"""Finite-difference gradient checks (``gradcheck``, ``gradgradcheck``)."""

import numpy as np

from rtorch import _C


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    """Inputs and outputs as a tuple: a lone tensor is wrapped, a list converted."""
    if isinstance(x, (tuple, list)):
        return tuple(x)
    return (x,)


def _flat_outputs(func, inputs):
    out = _as_tuple(func(*inputs))
    return [o for o in out if isinstance(o, _C.Tensor) and o.is_floating_point()]


def _numerical_jacobian(func, inputs, wrt, eps):
    """Jacobian d(outputs)/d(inputs[wrt]) by central differences, as float64 numpy."""
    import rtorch

    x = inputs[wrt]
    base = x.detach().clone()
    n_in = base.numel()
    cols = []
    for j in range(n_in):
        # The perturbed input keeps requires_grad and func runs in the caller's grad mode, as in
        # PyTorch, so that a func that itself differentiates (gradgradcheck's vjp) still works.
        def at(delta, j=j):
            with rtorch.no_grad():
                pert = base.clone().reshape(-1)
                pert[j] = pert[j] + delta
                pert = pert.reshape(base.shape)
            args = list(inputs)
            args[wrt] = pert.requires_grad_(x.requires_grad)
            outs = _flat_outputs(func, args)
            return np.concatenate([o.detach().double().numpy().reshape(-1) for o in outs] or [np.zeros(0)])

        cols.append((at(eps) - at(-eps)) / (2 * eps))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def _analytical_jacobian(func, inputs, wrt_list):
    import rtorch

    outs = _flat_outputs(func, inputs)
    sizes = [o.numel() for o in outs]
    total = sum(sizes)
    jacs = {w: np.zeros((total, inputs[w].numel())) for w in wrt_list}
    row = 0
    for o, n in zip(outs, sizes):
        for k in range(n):
            g = rtorch.zeros_like(o).reshape(-1)
            g[k] = 1.0
            if not o.requires_grad:
                row += 1
                continue
            grads = _C._grad([o], [inputs[w] for w in wrt_list], [g.reshape(o.shape)], True, False, True)
            for w, gr in zip(wrt_list, grads):
                if gr is not None:
                    jacs[w][row] = gr.detach().double().numpy().reshape(-1)
            row += 1
    return jacs


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **_kwargs):
    """Compares analytical gradients with central finite differences (float64 inputs)."""
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, _C.Tensor) and x.requires_grad]
    for i in wrt:
        if str(inputs[i].dtype) != "torch.float64":
            import warnings

            warnings.warn("Input #%d requires gradient and is not a double precision floating point. gradcheck works best in float64." % i, stacklevel=2)
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.")
    analytical = _analytical_jacobian(func, inputs, wrt)
    for w in wrt:
        numerical = _numerical_jacobian(func, inputs, w, eps)
        a = analytical[w]
        if a.shape != numerical.shape or not np.allclose(a, numerical, atol=atol, rtol=rtol):
            msg = f"Jacobian mismatch for output 0 with respect to input {w},\nnumerical:{numerical}\nanalytical:{a}\n"
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_kwargs):
    """Checks second derivatives: gradcheck of the function's vector-Jacobian product."""
    import rtorch

    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, _C.Tensor) and x.requires_grad]
    outs = _flat_outputs(func, inputs)
    if grad_outputs is None:
        gen = rtorch.Generator().manual_seed(0)
        grad_outputs = tuple(rtorch.randn(*o.shape, generator=gen, dtype=o.dtype).requires_grad_(True) for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def vjp(*args):
        ins, gos = args[:n], args[n:]
        out = _flat_outputs(func, ins)
        gs = _C._grad(out, [ins[i] for i in wrt], list(gos), True, True, True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(vjp, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
