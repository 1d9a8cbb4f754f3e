"""Batching rules for ``torch.*`` and ``torch.nn.functional.*`` functions, and their
installation while a batched vmap run is active.

Outside vmap nothing is wrapped, so the normal path pays nothing. While at least one
batched run is active, the functions named here are replaced in the ``rtorch`` and
``rtorch.nn.functional`` namespaces by a wrapper that sends calls with a BatchedTensor
argument to the rule and every other call to the original. Functions without a rule are
left alone: handed a BatchedTensor they fail argument conversion (Rust functions) or reach a
method without a rule, and vmap falls back to its loop."""

import string
import threading

from rtorch import _C, _functions

from ._batched import ELEMENTWISE, BatchedTensor, _norm, _NoRule, elementwise, is_batched
from ._batched_views import MATMUL_RULES, matmul

_lock = threading.Lock()
_active = 0
_saved = []  # (namespace dict, name, original) while installed
attempt = threading.local()  # .active: this thread is inside a batched run


def _has_batched(args, kwargs):
    for a in args:
        if type(a) is BatchedTensor:
            return True
        if isinstance(a, (list, tuple)) and any(type(v) is BatchedTensor for v in a):
            return True
    return any(type(v) is BatchedTensor for v in kwargs.values())


def _batch_of(values):
    for v in values:
        if is_batched(v):
            return v._p.shape[0]
    raise _NoRule("no batched operand")


def _physical_or_expanded(t, b):
    return t._p if is_batched(t) else t.unsqueeze(0).expand((b,) + tuple(t.shape))


# ---- torch namespace rules -------------------------------------------------------------
def _where(orig):
    def rule(condition, *args):
        if len(args) != 2:
            raise _NoRule("where(condition) is nonzero")
        return elementwise(orig, condition, *args)

    return rule


def _joiner(orig, stacking):
    def rule(tensors, dim=0, *, out=None):
        ts = list(tensors)
        if out is not None or not ts or not all(hasattr(t, "dim") for t in ts):
            raise _NoRule("cat/stack with out= or non-tensors")
        n = ts[0].dim()
        if any(t.dim() != n for t in ts) or (n == 0 and not stacking):
            raise _NoRule("cat/stack of tensors of different ranks")
        b = _batch_of(ts)
        d = _norm(dim, n + 1 if stacking else n) + 1
        return BatchedTensor(orig([_physical_or_expanded(t, b) for t in ts], d))

    return rule


def _einsum(orig):
    def rule(equation, *operands):
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
        eq = equation.replace(" ", "")
        lhs, arrow, rhs = eq.partition("->")
        terms = lhs.split(",")
        if "..." in eq or len(terms) != len(operands):
            raise _NoRule("einsum with an ellipsis")
        if not arrow:  # implicit output: the letters used once, in alphabetical order
            rhs = "".join(sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1))
        free = next(c for c in string.ascii_letters if c not in eq)
        terms = [free + t if is_batched(o) else t for t, o in zip(terms, operands)]
        phys = [o._p if is_batched(o) else o for o in operands]
        return BatchedTensor(orig(",".join(terms) + "->" + free + rhs, *phys))

    return rule


def _like(orig):
    def rule(input, *args, **kwargs):
        return BatchedTensor(orig(input._p, *args, **kwargs))

    return rule


def _layer_norm(orig):
    def rule(input, normalized_shape, weight=None, bias=None, *args):
        if input.dim() < len(normalized_shape):
            raise _NoRule("layer_norm shape mismatch")
        b = _batch_of((input, weight, bias))
        x = _physical_or_expanded(input, b)
        if not is_batched(weight) and not is_batched(bias):
            return BatchedTensor(orig(x, normalized_shape, weight, bias, *args))
        # Per-example affine parameters (an ensemble): normalize, then scale and shift.
        out = BatchedTensor(orig(x, normalized_shape, None, None, *args))
        if weight is not None:
            out = out * weight
        return out if bias is None else out + bias

    return rule


def _function_hook(name, input, args, kwargs, out):
    """``torch.<name>(plain, ..., batched, ...)``: the Tensor method refused the batched
    argument; apply the rule, or say there is none (NotImplemented: not our argument)."""
    if not _has_batched(args, kwargs):
        return NotImplemented
    if out is not None:
        raise _NoRule("out= with a batched tensor")
    if name in MATMUL_RULES:
        return MATMUL_RULES[name](input, *args, **kwargs)
    if name in ELEMENTWISE:
        return elementwise(lambda s, *a, **k: getattr(s, name)(*a, **k), input, *args, **kwargs)
    raise _NoRule(f"no batching rule for torch.{name} with a batched argument")


_functions._batched_hook[0] = _function_hook


# ---- nn.functional rules ---------------------------------------------------------------
def _linear(orig):
    def rule(input, weight, bias=None):
        if is_batched(input) and not is_batched(weight) and not is_batched(bias):
            return BatchedTensor(orig(input._p, weight, bias))
        out = matmul(input, weight.t() if weight.dim() == 2 else weight)
        return out if bias is None else out + bias

    return rule


def _gelu(orig):
    def rule(input, approximate="none"):
        return BatchedTensor(orig(input._p, approximate))

    return rule


def _cross_entropy(orig):
    def rule(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean", label_smoothing=0.0):
        if (weight is not None or size_average is not None or reduce is not None
                or label_smoothing != 0.0 or reduction not in ("none", "sum", "mean")
                or target.dtype.is_floating_point or input.dim() not in (1, 2)
                or target.dim() != input.dim() - 1
                or (input.dim() == 2 and target.shape[0] != input.shape[0])):
            raise _NoRule("cross_entropy outside the batched rule's cases")
        b = _batch_of((input, target))
        x = _physical_or_expanded(input, b)
        t = _physical_or_expanded(target, b)
        valid = t != ignore_index
        zero = t.new_zeros(())
        nll = -x.log_softmax(-1).gather(-1, _C.where(valid, t, zero).unsqueeze(-1)).squeeze(-1)
        nll = _C.where(valid, nll, nll.new_zeros(()))
        if reduction == "none":
            return BatchedTensor(nll)
        total = nll.reshape(b, -1).sum(1)
        if reduction == "sum":
            return BatchedTensor(total)
        return BatchedTensor(total / valid.reshape(b, -1).sum(1))

    return rule


_cache = []


def _rules():
    """[(namespace, {name: replacement})], built once: dispatching wrappers for the rtorch
    and nn.functional namespaces, guarded mutators for Tensor."""
    if not _cache:
        built = []
        for namespace, rules in _build_rules():
            built.append((namespace, {n: _dispatching(namespace[n], r) for n, r in rules.items()}))
        import rtorch

        randoms = {n: _refusing(getattr(rtorch, n), "random op during a batched run")
                   for n in _RANDOM_FUNCTIONS.split() if hasattr(rtorch, n)}
        built[0][1].update(randoms)
        built.append((_C.Tensor, _tensor_mutators()))
        _cache.append(built)
    return _cache[0]


def _build_rules():
    import rtorch
    import rtorch.nn.functional as F

    # Elementwise and matmul functions (torch.add, torch.matmul, ...) dispatch through
    # _function_hook without being replaced.
    torch_rules = {
        "where": _where(_C.where), "cat": _joiner(_C.cat, False), "concat": _joiner(_C.cat, False),
        "concatenate": _joiner(_C.cat, False), "stack": _joiner(_C.stack, True),
        "einsum": _einsum(_C.einsum), "layer_norm": _layer_norm(rtorch.layer_norm),
    }
    for name in ("zeros_like", "ones_like", "full_like", "empty_like"):
        torch_rules[name] = _like(getattr(rtorch, name))
    f_rules = {"linear": _linear(F.linear), "gelu": _gelu(F.gelu),
               "cross_entropy": _cross_entropy(F.cross_entropy)}
    return [(vars(rtorch), torch_rules), (vars(F), f_rules)]


def _in_place_guard(orig):
    """A Tensor mutator that refuses to run inside a batched run: if that run later fell back
    to the loop, a plain tensor captured by `func` would be mutated once more than in a loop."""

    def fn(self, *args, **kwargs):
        if getattr(attempt, "active", False):
            raise _NoRule("in-place op on a tensor during a batched run")
        return orig(self, *args, **kwargs)

    fn.__name__ = getattr(orig, "__name__", "fn")
    fn.__doc__ = getattr(orig, "__doc__", None)
    return fn


# The mutators that code run under vmap realistically applies to captured state (counters,
# caches, module buffers such as BatchNorm's). Replacing a slot method (``__iadd__``) on the
# Tensor class costs ~5 us, a plain method ~0.6 us, paid on every vmap call: rarer
# mutators (and ``x /= y`` style slots beyond these) are left unguarded.
_GUARDED = """
__setitem__ __iadd__ __isub__ __imul__ __itruediv__ add_ sub_ mul_ div_ copy_ fill_ zero_ lerp_
addcmul_ addcdiv_ clamp_ index_put_ index_add_ index_copy_ index_fill_ masked_fill_ scatter_
scatter_add_ set_ resize_ requires_grad_
"""


# Random draws must happen once per example, so a batched run refuses them. The CPU
# generator's state is also compared after the run; these guards catch draws on CUDA too.
_RANDOM_FUNCTIONS = "rand randn randint rand_like randn_like randint_like randperm normal bernoulli multinomial dropout"
_RANDOM_METHODS = "normal_ uniform_ bernoulli_ random_ exponential_ cauchy_ geometric_ log_normal_ bernoulli multinomial"


def _refusing(orig, what):
    def fn(*args, **kwargs):
        if getattr(attempt, "active", False):
            raise _NoRule(what)
        return orig(*args, **kwargs)

    fn.__name__ = getattr(orig, "__name__", "fn")
    fn.__doc__ = getattr(orig, "__doc__", None)
    fn.__wrapped__ = orig
    return fn


def _tensor_mutators():
    names = _GUARDED.split() + _RANDOM_METHODS.split()
    return {n: _in_place_guard(vars(_C.Tensor)[n]) for n in names if n in vars(_C.Tensor)}


def _dispatching(orig, rule):
    def fn(*args, **kwargs):
        if _has_batched(args, kwargs):
            return rule(*args, **kwargs)
        return orig(*args, **kwargs)

    fn.__name__ = getattr(orig, "__name__", "fn")
    fn.__doc__ = getattr(orig, "__doc__", None)
    fn.__wrapped__ = orig
    return fn


def activate():
    global _active
    with _lock:
        _active += 1
        if _active == 1:
            for namespace, rules in _rules():
                if isinstance(namespace, type):  # Tensor: guarded mutators, no dispatch
                    for name, guard in rules.items():
                        _saved.append((namespace, name, vars(namespace)[name]))
                        setattr(namespace, name, guard)
                    continue
                for name, wrapped in rules.items():
                    _saved.append((namespace, name, namespace[name]))
                    namespace[name] = wrapped


def deactivate():
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            while _saved:
                namespace, name, orig = _saved.pop()
                if isinstance(namespace, type):
                    setattr(namespace, name, orig)
                else:
                    namespace[name] = orig
