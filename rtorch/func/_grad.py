"""grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian on top of reverse-mode autograd.

Each transform runs the function on fresh inputs that require grad and differentiates with
`create_graph` whenever an outer computation (another transform, or the caller's own
graph) still depends on the inputs, so transforms nest: grad(grad(f)), jacfwd(jacrev(f)).
Forward-mode (jvp, jacfwd) is computed as the derivative of a vjp with respect to its
cotangent ("double vjp"): exact, at the cost of two reverse passes."""

import functools

from rtorch import _C
from rtorch.autograd import grad as _autograd_grad
from rtorch.autograd.grad_mode import enable_grad

from . import _tree


def _watch(x):
    """A copy of `x` that requires grad and stays connected to `x`'s own graph."""
    if not isinstance(x, _C.Tensor):
        return x
    if not x.is_floating_point():
        return x
    if x.requires_grad:
        return x.view_as(x)
    return x.detach().requires_grad_(True)


def _outer_needs_graph(trees):
    return _C.is_grad_enabled() and any(t.requires_grad for t in _tree.tensors_of(trees))


def _grads(outputs, inputs, cotangents, create_graph):
    """d<outputs, cotangents>/d inputs, with zeros where an input is unused."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if not pairs or not inputs:
        return [_C.zeros_like(x) for x in inputs]
    grads = _autograd_grad(
        [o for o, _ in pairs], inputs, [c for _, c in pairs],
        retain_graph=True, create_graph=create_graph, allow_unused=True,
    )
    return [_C.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


def _argnums(argnums, n, api):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{api}: argnums must be non-empty")
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"{api}: argnums must be int or Tuple[int, ...], got: {type(a)}")
        if not -n <= a < n:
            raise RuntimeError(
                f"Got argnums={a}, but only {n} positional inputs"
            )
    return [a % n for a in nums]


def grad_and_value(func, argnums=0, has_aux=False):
    """`grad_and_value(f)(*args)` → (gradient, value), or (gradient, (value, aux))."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        api = "grad_and_value(f)(*args)"
        nums = _argnums(argnums, len(args), api)
        create = _outer_needs_graph([args[i] for i in nums])
        args = list(args)
        for i in nums:
            args[i] = _tree.map_tensors(_watch, args[i])
        with enable_grad():
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(
                        f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True"
                    )
                out, aux = out
            if not isinstance(out, _C.Tensor):
                raise RuntimeError(
                    f"{api}: Expected f(*args) to return a Tensor, got {type(out)}"
                )
            if out.dim() != 0:
                raise RuntimeError(
                    f"{api}: Expected f(*args) to return a scalar Tensor, got tensor with "
                    f"{out.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            leaves_per = [_tree.flatten(args[i]) for i in nums]
            flat = [x for leaves, _ in leaves_per for x in leaves if isinstance(x, _C.Tensor)]
            gs = iter(_grads([out], flat, [_C.ones_like(out)], create))
        result = []
        for leaves, spec in leaves_per:
            result.append(_tree.unflatten([next(gs) if isinstance(x, _C.Tensor) else x for x in leaves], spec))
        g = result[0] if isinstance(argnums, int) else tuple(result)
        if not create:
            g = _tree.map_tensors(lambda t: t.detach(), g)
            out = out.detach()
            aux = _tree.map_tensors(lambda t: t.detach(), aux)
        return (g, (out, aux)) if has_aux else (g, out)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """`grad(f)(*args)`: the gradient of scalar-valued `f` with respect to `args[argnums]`."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """(output, vjp_fn[, aux]); `vjp_fn(cotangents)` returns one gradient per primal."""
    create = _outer_needs_graph(primals)
    watched = [_tree.map_tensors(_watch, p) for p in primals]
    with enable_grad():
        out = func(*watched)
    aux = None
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise RuntimeError(
                "vjp(f, *primals): output of function f should be a tuple: (output, aux) if has_aux is True"
            )
        out, aux = out
    out_leaves, out_spec = _tree.flatten(out)
    for o in out_leaves:
        if not isinstance(o, _C.Tensor):
            raise RuntimeError(
                f"vjp(f, *primals): Expected f to be a function that has only Tensors as outputs, got {type(o)}"
            )
    in_leaves = [_tree.flatten(p) for p in watched]

    def vjp_fn(*cotangents):
        cot = cotangents[0] if len(cotangents) == 1 else cotangents
        c_leaves, c_spec = _tree.flatten(cot)
        if len(c_leaves) != len(out_leaves):
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of outputs"
            )
        for c, o in zip(c_leaves, out_leaves):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of {tuple(c.shape)} and output[0] has a shape of {tuple(o.shape)}."
                )
        flat = [x for leaves, _ in in_leaves for x in leaves if isinstance(x, _C.Tensor)]
        need = create or _outer_needs_graph([cot])
        with enable_grad():
            gs = iter(_grads(out_leaves, flat, c_leaves, need))
        res = tuple(
            _tree.unflatten([next(gs) if isinstance(x, _C.Tensor) else x for x in leaves], spec)
            for leaves, spec in in_leaves
        )
        if not need:
            res = _tree.map_tensors(lambda t: t.detach(), res)
        return res

    shown = out if create else _tree.map_tensors(lambda t: t.detach(), out)
    if has_aux:
        return shown, vjp_fn, (aux if create else _tree.map_tensors(lambda t: t.detach(), aux))
    return shown, vjp_fn


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(output, J·tangents): forward-mode product, as the derivative of a vjp in its
    (dummy) cotangent."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be tuples")
    if len(primals) != len(tangents):
        raise RuntimeError(
            "jvp(f, primals, tangents): Expected primals and tangents to have the same python "
            f"structure. For example, if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure {len(primals)} and tangents with structure {len(tangents)}"
        )
    create = _outer_needs_graph([primals, tangents])
    watched = [_tree.map_tensors(_watch, p) for p in primals]
    with enable_grad():
        out = func(*watched)
        aux = None
        if has_aux:
            out, aux = out
        out_leaves, out_spec = _tree.flatten(out)
        in_flat = [x for p in watched for x in _tree.flatten(p)[0] if isinstance(x, _C.Tensor)]
        tan_flat = [x for t in tangents for x in _tree.flatten(t)[0] if isinstance(x, _C.Tensor)]
        dummies = [_C.zeros_like(o).requires_grad_(True) for o in out_leaves]
        g = _grads(out_leaves, in_flat, dummies, True)
        pairs = [(gi, ti) for gi, ti in zip(g, tan_flat) if gi.requires_grad]
        if pairs:
            jv = _autograd_grad(
                [p for p, _ in pairs], dummies, [t for _, t in pairs],
                retain_graph=True, create_graph=create, allow_unused=True,
            )
            jv = [_C.zeros_like(o) if j is None else j for j, o in zip(jv, out_leaves)]
        else:
            jv = [_C.zeros_like(o) for o in out_leaves]
    if not create:
        out_leaves = [o.detach() for o in out_leaves]
        jv = [j.detach() for j in jv]
        aux = _tree.map_tensors(lambda t: t.detach(), aux)
    res = (_tree.unflatten(out_leaves, out_spec), _tree.unflatten(jv, out_spec))
    return res + (aux,) if has_aux else res


def _jac_assemble(out, x, columns, rows_first):
    """Stacks per-element derivatives into the Jacobian shape out.shape + x.shape."""
    stacked = _C.stack(columns, 0) if columns else _C.zeros((0,), dtype=out.dtype, device=out.device)
    if rows_first:  # one row per output element: [out.numel(), *x.shape]
        return stacked.reshape(tuple(out.shape) + tuple(x.shape))
    # one column per input element: [x.numel(), *out.shape]
    return stacked.reshape((x.numel(),) + tuple(out.shape)).movedim(0, -1).reshape(
        tuple(out.shape) + tuple(x.shape)
    )


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """Jacobian by reverse mode: one vjp per output element."""

    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums(argnums, len(args), "jacrev")
        create = _outer_needs_graph([args[i] for i in nums])
        args = list(args)
        for i in nums:
            args[i] = _watch(args[i])
        with enable_grad():
            out = func(*args)
            aux = None
            if has_aux:
                out, aux = out
            out_leaves, out_spec = _tree.flatten(out)
            xs = [args[i] for i in nums]
            per_out = []
            for o in out_leaves:
                flat = o.reshape(-1)
                rows = [[] for _ in xs]
                for k in range(flat.numel()):
                    gs = _grads([flat[k]], xs, [_C.ones_like(flat[k])], True)
                    for r, g in zip(rows, gs):
                        r.append(g)
                jac = tuple(_jac_assemble(o, x, r, True) for x, r in zip(xs, rows))
                per_out.append(jac[0] if isinstance(argnums, int) else jac)
        if not create:
            per_out = _tree.map_tensors(lambda t: t.detach(), per_out)
            aux = _tree.map_tensors(lambda t: t.detach(), aux)
        res = _tree.unflatten(per_out, out_spec)
        return (res, aux) if has_aux else res

    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """Jacobian by forward mode: one jvp per input element."""

    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums(argnums, len(args), "jacfwd")
        create = _outer_needs_graph([args[i] for i in nums])
        args = list(args)
        xs = [_watch(args[i]) for i in nums]

        def at(*vals):
            full = list(args)
            for i, v in zip(nums, vals):
                full[i] = v
            return func(*full)

        with enable_grad():
            out = at(*xs)
            aux = None
            if has_aux:
                out, aux = out
            out_leaves, out_spec = _tree.flatten(out)
            jacs = []
            for j, x in enumerate(xs):
                cols = [[] for _ in out_leaves]
                for k in range(x.numel()):
                    basis = _C.zeros((x.numel(),), dtype=x.dtype, device=x.device)
                    basis[k] = 1.0
                    tangents = tuple(
                        basis.reshape(x.shape) if i == j else _C.zeros_like(y) for i, y in enumerate(xs)
                    )
                    f = (lambda *v: at(*v)[0]) if has_aux else at
                    _, jv = jvp(f, tuple(xs), tangents)
                    for c, d in zip(cols, _tree.flatten(jv)[0]):
                        c.append(d)
                jacs.append([_jac_assemble(o, x, c, False) for o, c in zip(out_leaves, cols)])
        per_out = []
        for oi in range(len(out_leaves)):
            per_arg = tuple(jacs[j][oi] for j in range(len(xs)))
            per_out.append(per_arg[0] if isinstance(argnums, int) else per_arg)
        if not create:
            per_out = _tree.map_tensors(lambda t: t.detach(), per_out)
            aux = _tree.map_tensors(lambda t: t.detach(), aux)
        res = _tree.unflatten(per_out, out_spec)
        return (res, aux) if has_aux else res

    return wrapper


def hessian(func, argnums=0):
    """The matrix of second derivatives: jacfwd(jacrev(f))."""
    return jacfwd(jacrev(func, argnums), argnums)


def linearize(func, *primals):
    """(output, jvp_fn) with `jvp_fn(*tangents)` = J·tangents at `primals`."""
    out = func(*primals)

    def jvp_fn(*tangents):
        return jvp(func, tuple(primals), tuple(tangents))[1]

    return _tree.map_tensors(lambda t: t.detach(), out), jvp_fn


def functionalize(func, *, remove="mutations"):
    """Removes intermediate mutations while keeping `func`'s semantics. rtorch runs eagerly
    with no graph capture, so the mutations have nothing to be removed from: the returned
    function computes exactly what `func` does."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            "functionalize(f, remove='mutations'): received invalid argument for remove="
            f"{remove}. Valid options are:\n     remove='mutations'\n     remove='mutations_and_views'"
        )

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper
