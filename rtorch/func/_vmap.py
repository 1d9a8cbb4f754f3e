"""vmap: maps a function over a batch dimension of its inputs.

Each call first tries a *batched run*: the mapped inputs become BatchedTensors (see
``_batched``) and `func` runs once on the whole batch through batching rules for
elementwise ops (unary, binary with broadcasting, comparisons, casts, ``where``, ``clamp``),
reductions (sum, mean, prod, amax/amin, max/min, argmax/argmin, all/any, norm, var/std,
logsumexp, softmax/log_softmax, cumsum/cumprod, sort/topk), the matmul family (``@``,
matmul, mm, bmm, mv, dot, outer, einsum without ``...``), views (reshape/view, flatten,
(un)squeeze, transpose/t/T/mT, permute, movedim, expand, narrow, select, indexing with
ints/slices/None/Ellipsis, chunk/split/unbind, cat/stack) and nn.functional (linear, the
activations, softmax/log_softmax, layer_norm, dropout in eval mode, mse/l1 losses,
cross_entropy with class-index targets, normalize). Module calls go through those rules,
including ensembles (``functional_call`` with batched parameters).

Anything else falls back to the per-example loop: an op without a rule, a value-dependent
use (``bool``/``item``/``if x > 0``), tensor indexing, an in-place op, a random op (the RNG
state is restored first, so randomness modes behave as in a pure loop), grad inside vmap,
nested vmap (the inner one runs batched inside the outer loop) and any error at all
during the batched run. The loop calls `func` once per example and stacks the results,
which is vmap's meaning by construction; a genuine error in `func` is raised from it with
the same message as without batching rules. So that a fallback has exactly a loop's side
effects, the batched run refuses (before mutating anything) the common in-place methods on
plain tensors (see ``_batched_dispatch._GUARDED``), the torch.* random functions and Tensor's
random methods, and falls back when the CPU generator's state moved. Code that runs before
the point where a function falls back still runs twice (once batched, then in the loop)."""

import functools

from rtorch import _C
from rtorch import random as _random

from . import _batched_dispatch, _tree
from ._batched import BatchedTensor, _NoRule

_attempt = _batched_dispatch.attempt


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
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

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
        done, out = _try_batched_chunks(func, leaves, norm, spec, kwargs, size, out_dims, api,
                                        chunk_size)
        if done:
            return out
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


def _try_batched_chunks(func, leaves, dims, spec, kwargs, size, out_dims, api, chunk_size):
    """Batched runs over chunks of at most `chunk_size` examples, joined along out_dims."""
    if chunk_size is None or chunk_size >= size:
        return _try_batched(func, leaves, dims, spec, kwargs, size, out_dims, api)
    pieces = []
    for start in range(0, size, chunk_size):
        n = min(chunk_size, size - start)
        sub = [x if d is None else x.narrow(d, start, n) for x, d in zip(leaves, dims)]
        done, out = _try_batched(func, sub, dims, spec, kwargs, n, out_dims, api)
        if not done:
            return False, None
        pieces.append(_tree.flatten(out)[0])
    first = _tree.unflatten(pieces[0], _tree.flatten(out)[1])
    out_spec = _tree.flatten(first)[1]
    joined = []
    for k, d in enumerate(_leaf_out_dims(first, pieces[0], out_dims, api)):
        if d is None:
            joined.append(pieces[0][k])
        else:
            joined.append(_C.cat([p[k] for p in pieces], d % pieces[0][k].dim()))
    return True, _tree.unflatten(joined, out_spec)


def _try_batched(func, leaves, dims, spec, kwargs, size, out_dims, api):
    """(True, outputs) from one batched run of `func`, or (False, None) to use the loop."""
    if getattr(_attempt, "active", False) or size == 0:
        # Inside another batched run: its BatchedTensors may be captured here, so only the
        # outer run's fallback loop (which calls this vmap on plain tensors) is safe.
        if getattr(_attempt, "active", False):
            raise _NoRule("nested vmap")
        return False, None
    if kwargs and any(type(v) is BatchedTensor for v in _tree.flatten(kwargs)[0]):
        return False, None
    state = _random.get_rng_state()
    _attempt.active = True
    _batched_dispatch.activate()
    try:
        wrapped = [x if d is None else BatchedTensor(x.movedim(d, 0) if d else x)
                   for x, d in zip(leaves, dims)]
        result = func(*_tree.unflatten(wrapped, spec), **kwargs)
        out = _unbatch_outputs(result, out_dims, size, api)
        if not _same_state(state, _random.get_rng_state()):
            raise _NoRule("random op")  # random values must be drawn per example
        return True, out
    except (Exception, _NoRule):
        _random.set_rng_state(state)
        return False, None
    finally:
        _batched_dispatch.deactivate()
        _attempt.active = False


def _unbatch_outputs(result, out_dims, size, api):
    leaves, spec = _tree.flatten(result)
    dims = _leaf_out_dims(result, leaves, out_dims, api)
    outs = []
    for x, d in zip(leaves, dims):
        if type(x) is BatchedTensor:
            if d is None:
                raise _NoRule("batched output with out_dims=None")  # the loop decides
            p = x._p
        elif isinstance(x, _C.Tensor):
            if d is None:
                outs.append(x)
                continue
            p = x.unsqueeze(0).expand((size,) + tuple(x.shape))  # same for every example
        else:
            raise _NoRule("non-tensor output")  # the loop raises vmap's error
        outs.append(p.movedim(0, d % p.dim()) if d else p)
    return _tree.unflatten(outs, spec)


def _leaf_out_dims(first, first_leaves, out_dims, api):
    if not isinstance(out_dims, (tuple, list)):
        return [out_dims] * len(first_leaves)
    if len(first_leaves) == 1 and len(out_dims) == 1:
        return list(out_dims)
    top = first if isinstance(first, tuple) else (first,)
    if len(out_dims) != len(top):
        raise ValueError(
            f"{api}: out_dims is not compatible with the structure of `outputs`. "
            f"out_dims has structure {out_dims!r} but outputs has {len(top)} element(s)"
        )
    return _broadcast_dims(tuple(out_dims), top, api)


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
    dims = _leaf_out_dims(results[0], first_leaves, out_dims, api)
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
