"""vmap: maps a function over a batch dimension of its inputs.

rtorch has no per-op dispatch hook to attach batching rules to, so every function is run
once per example and the results are stacked along `out_dims`. That is exactly the
semantics of vmap (results are identical to an explicit loop by construction), nests
freely, and composes with grad/jacrev; the cost is one call of `func` per example."""

import functools

from rtorch import _C
from rtorch import random as _random

from . import _tree


def _broadcast_dims(in_dims, args, api):
    """One in_dim per leaf of `args` (in_dims may be a prefix tree of `args`)."""
    if isinstance(in_dims, int) or in_dims is None:
        return [in_dims] * len(_tree.flatten(args)[0])
    if not isinstance(in_dims, (tuple, list)) or len(in_dims) != len(args):
        raise ValueError(
            f"{api}: in_dims is not compatible with the structure of `inputs`. in_dims has "
            f"structure {in_dims!r} but inputs has {len(args)} positional argument(s)"
        )
    dims = []
    for d, a in zip(in_dims, args):
        n = len(_tree.flatten(a)[0])
        if isinstance(d, int) or d is None:
            dims.extend([d] * n)
        elif isinstance(d, (tuple, list, dict)):
            sub = _broadcast_dims(tuple(d.values()) if isinstance(d, dict) else tuple(d),
                                  tuple(a.values()) if isinstance(a, dict) else tuple(a), api)
            dims.extend(sub)
        else:
            raise ValueError(f"{api}: in_dims must be int, None or a tuple of them, got {d!r}")
    return dims


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}"
        )

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        api = f"vmap({getattr(func, '__name__', 'f')}, in_dims={in_dims}, ...)(<inputs>)"
        leaves, spec = _tree.flatten(args)
        dims = _broadcast_dims(in_dims, args, api)
        size = None
        norm = []
        for x, d in zip(leaves, dims):
            if d is None:
                norm.append(None)
                continue
            if not isinstance(x, _C.Tensor):
                raise ValueError(
                    f"{api}: Got in_dim={d} for an input but the input is of type {type(x)}. "
                    "We cannot vmap over non-Tensor arguments, please use None as the "
                    "respective in_dim"
                )
            if not -x.dim() <= d < max(x.dim(), 1) or x.dim() == 0:
                raise ValueError(
                    f"{api}: Got in_dim={d} for some input, but that input is a Tensor of "
                    f"dimensionality {x.dim()} so expected in_dim to satisfy "
                    f"-{x.dim()} <= in_dim < {x.dim()}."
                )
            d = d % x.dim()
            norm.append(d)
            if size is None:
                size = x.shape[d]
            elif x.shape[d] != size:
                sizes = [y.shape[e] for y, e in zip(leaves, norm) if e is not None]
                raise ValueError(
                    f"{api}: Expected all tensors to have the same size in the mapped dimension, "
                    f"got sizes {sizes} for the mapped dimension"
                )
        if size is None:
            raise ValueError(f"{api}: At least one of the inputs must be batched")
        state = _random.get_rng_state() if randomness != "different" else None
        results = []
        for i in range(size):
            if randomness == "same":
                _random.set_rng_state(state)
            ex = [x.select(d, i) if d is not None else x for x, d in zip(leaves, norm)]
            results.append(func(*_tree.unflatten(ex, spec), **kwargs))
            if randomness == "error" and i == 0 and not _same_state(state, _random.get_rng_state()):
                raise RuntimeError(
                    "vmap: called random operation while in randomness error mode. Please either "
                    "use the 'same' or 'different' randomness flags on vmap or perform the "
                    "randomness operation out of vmap"
                )
        return _stack_outputs(results, out_dims, api)

    return wrapper


def _same_state(a, b):
    return a is None or bool((a == b).all())


def _stack_outputs(results, out_dims, api):
    first_leaves, spec = _tree.flatten(results[0])
    per_leaf = [[] for _ in first_leaves]
    for r in results:
        leaves, s = _tree.flatten(r)
        if len(leaves) != len(first_leaves):
            raise ValueError(f"{api}: `func` returned outputs of different structure across examples")
        for acc, x in zip(per_leaf, leaves):
            acc.append(x)
    if isinstance(out_dims, (tuple, list)):
        if len(first_leaves) == 1 and len(out_dims) == 1:
            dims = list(out_dims)
        else:
            top = results[0] if isinstance(results[0], tuple) else (results[0],)
            if len(out_dims) != len(top):
                raise ValueError(
                    f"{api}: out_dims is not compatible with the structure of `outputs`. "
                    f"out_dims has structure {out_dims!r} but outputs has {len(top)} element(s)"
                )
            dims = _broadcast_dims(tuple(out_dims), top, api)
    else:
        dims = [out_dims] * len(first_leaves)
    stacked = []
    for vals, d in zip(per_leaf, dims):
        if not isinstance(vals[0], _C.Tensor):
            raise ValueError(
                f"{api}: `func` must only return Tensors, got type {type(vals[0])}. Did you mean "
                "to set out_dims= to None for output?"
                if d is not None else f"{api}: `func` must only return Tensors, got {type(vals[0])}"
            )
        if d is None:
            # Only an output that is the same for every example may skip the batch dim.
            if any(not vals[0].equal(v) for v in vals[1:]):
                raise ValueError(
                    f"{api}: Cannot return a batched Tensor for an output with out_dims=None"
                )
            stacked.append(vals[0])
            continue
        out = _C.stack(vals, 0)
        stacked.append(out.movedim(0, d % out.dim()) if d else out)
    return _tree.unflatten(stacked, spec)
