"""BatchedTensor: the value a function sees while vmap runs it once on the whole batch.

It holds a *physical* rtorch tensor laid out as ``(B, *logical_shape)`` and presents the
logical per-example tensor: its shape, dtype and operators, and the methods that have a
batching rule. It deliberately does not subclass ``rtorch.Tensor``: a Rust function or a
Tensor method handed one fails argument conversion instead of computing on the physical
layout, and every other way out (``bool()``, ``item()``, iteration, in-place methods,
attributes without a rule) raises :class:`_NoRule`. vmap catches both and reruns the
function once per example, so a missing rule costs speed, never correctness.

Rules live in one file per family: elementwise and reductions here, views and matmul in
``_batched_views``, torch / nn.functional namespace functions in ``_batched_dispatch``."""

import operator

from rtorch import _C
from rtorch._size import Size


class _NoRule(BaseException):
    """No batching rule: vmap falls back to its per-example loop.

    A BaseException so that library code catching ``Exception`` cannot swallow it and
    quietly take another path with a batched value."""


class BatchedTensor:
    __slots__ = ("_p",)
    _rtorch_batched = True  # checked by torch.* functions before converting an argument

    def __init__(self, physical):
        self._p = physical

    # ---- logical metadata ----------------------------------------------------------
    @property
    def shape(self):
        return Size(tuple(self._p.shape)[1:])

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self.shape[_norm(dim, self.dim())]

    def dim(self):
        return self._p.dim() - 1

    ndimension = dim

    @property
    def ndim(self):
        return self._p.dim() - 1

    def numel(self):
        n = 1
        for s in tuple(self._p.shape)[1:]:
            n *= s
        return n

    nelement = numel

    def __len__(self):
        if self.dim() == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._p.shape[1]

    @property
    def dtype(self):
        return self._p.dtype

    @property
    def device(self):
        return self._p.device

    @property
    def is_cuda(self):
        return self._p.is_cuda

    @property
    def requires_grad(self):
        return self._p.requires_grad

    def is_floating_point(self):
        return self._p.is_floating_point()

    def is_complex(self):
        return self._p.is_complex()

    def element_size(self):
        return self._p.element_size()

    def __repr__(self):
        return f"BatchedTensor(logical shape={list(self.shape)}, batch={self._p.shape[0]}, dtype={self.dtype})"

    # ---- ways out of the batched world: all fall back --------------------------------
    def _escape(self, *args, **kwargs):
        raise _NoRule("a value-dependent or in-place use of a batched tensor")

    __bool__ = __float__ = __int__ = __index__ = __complex__ = _escape
    item = tolist = numpy = __array__ = __iter__ = data_ptr = _escape
    __setitem__ = __delitem__ = __reduce_ex__ = __reduce__ = _escape
    backward = requires_grad_ = retain_grad = register_hook = _escape
    __dlpack__ = __dlpack_device__ = storage = untyped_storage = _escape
    for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
                "xor", "lshift", "rshift"):
        locals()[f"__i{_op}__"] = _escape
    del _op

    def __getattr__(self, name):
        # Only reached for names without a rule (in-place methods included).
        raise _NoRule(f"no batching rule for Tensor.{name}")

    # ---- plain copies and casts ------------------------------------------------------
    def clone(self, *, memory_format=None):
        return BatchedTensor(self._p.clone())

    def contiguous(self, memory_format=None):
        return BatchedTensor(self._p.contiguous())

    def detach(self):
        return BatchedTensor(self._p.detach())

    def to(self, *args, **kwargs):
        if any(isinstance(a, BatchedTensor) for a in args):  # to(other): its dtype and device
            args = tuple((a._p if isinstance(a, BatchedTensor) else a) for a in args)
        if kwargs.pop("copy", False) or kwargs.pop("memory_format", None) is not None:
            raise _NoRule("to(copy=/memory_format=)")
        return BatchedTensor(self._p.to(*args, **kwargs))

    def type_as(self, other):
        return self.to(other.dtype)

    def type(self, dtype=None, non_blocking=False):
        if dtype is None or isinstance(dtype, str):
            raise _NoRule("Tensor.type() without a dtype")
        return BatchedTensor(self._p.to(dtype))

    def new_zeros(self, *a, **k):
        return self._p.new_zeros(*a, **k)

    def new_ones(self, *a, **k):
        return self._p.new_ones(*a, **k)

    def new_full(self, *a, **k):
        return self._p.new_full(*a, **k)

    def new_empty(self, *a, **k):
        return self._p.new_empty(*a, **k)


def _cast(name):
    def fn(self, memory_format=None):
        return BatchedTensor(getattr(self._p, name)())

    fn.__name__ = name
    return fn


for _name in ("float", "double", "half", "bfloat16", "int", "long", "short", "bool", "byte",
              "char", "cpu", "cuda"):
    setattr(BatchedTensor, _name, _cast(_name))


# ---- shared helpers ------------------------------------------------------------------
def is_batched(x):
    return type(x) is BatchedTensor


def _norm(d, n):
    """A logical dim in range [0, n) (n = logical rank; 0-d tensors accept 0 and -1)."""
    if isinstance(d, bool) or not isinstance(d, int):
        raise _NoRule("non-integer dim")
    m = max(n, 1)
    if not -m <= d < m:
        raise _NoRule("dim out of range")  # the loop rerun raises the user's IndexError
    return d % m


def batch_size(x):
    return x._p.shape[0]


def aligned(x, rank):
    """The physical tensor of batched `x`, unsqueezed after the batch dim to logical `rank`
    so that right-aligned broadcasting against unbatched operands is the logical one."""
    p = x._p
    k = rank - (p.dim() - 1)
    if k > 0:
        p = p.reshape((p.shape[0],) + (1,) * k + tuple(p.shape)[1:])
    return p


def _is_tensorish(x):
    return isinstance(x, (_C.Tensor, BatchedTensor))


def broadcast_args(args):
    """Physical operands for an elementwise op over `args` (tensors, batched or not, and
    scalars). None when nothing is batched."""
    tensors = [a for a in args if _is_tensorish(a)]
    if not any(is_batched(a) for a in tensors):
        return None
    rank = max(a.dim() for a in tensors)
    # A logically 0-d batched operand is physically 1-d, which would change dtype promotion
    # against other tensors ("dimensioned" beats 0-d): only the same-dtype case is safe.
    if len({a.dtype for a in tensors}) > 1 and any(is_batched(a) and a.dim() == 0 for a in tensors):
        raise _NoRule("dtype promotion with a 0-d batched operand")
    return [aligned(a, rank) if is_batched(a) else a for a in args]


def elementwise(fn, *args, **kwargs):
    """Apply broadcasting elementwise `fn` to batched/plain operands (positional or keyword)."""
    keys = [k for k, v in kwargs.items() if _is_tensorish(v)]
    phys = broadcast_args(list(args) + [kwargs[k] for k in keys])
    if phys is None:
        raise _NoRule("elementwise rule without a batched operand")
    kw = dict(kwargs)
    for k, v in zip(keys, phys[len(args):]):
        kw[k] = v
    out = fn(*phys[: len(args)], **kw)
    if not isinstance(out, _C.Tensor):
        raise _NoRule("elementwise op without a tensor result")
    return BatchedTensor(out)


def wrap_tree(x):
    """Wrap the tensors of a result (tensor, tuple or named tuple of tensors)."""
    if isinstance(x, _C.Tensor):
        return BatchedTensor(x)
    if isinstance(x, tuple):
        vals = [wrap_tree(v) for v in x]
        return type(x)._make(vals) if hasattr(x, "_make") else tuple(vals)
    if isinstance(x, list):
        return [wrap_tree(v) for v in x]
    return x


# ---- elementwise rules -------------------------------------------------------------
_UNARY_OR_NARY = """
abs absolute neg negative sign sgn exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan
asin acos atan arcsin arccos arctan sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh
sigmoid relu floor ceil trunc fix frac reciprocal square erf erfc erfinv round logit
logical_not bitwise_not isnan isinf isfinite signbit nan_to_num clamp clip clamp_min clamp_max
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow float_power
maximum minimum fmax fmin atan2 arctan2 eq ne lt le gt ge not_equal less less_equal greater
greater_equal logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor lerp rsub
addcmul addcdiv masked_fill xlogy hypot copysign logaddexp logaddexp2 heaviside isclose
deg2rad rad2deg sinc lgamma digamma i0 positive conj
"""
ELEMENTWISE = frozenset(_UNARY_OR_NARY.split())


def _method_rule(name):
    def rule(self, *args, **kwargs):
        return elementwise(lambda s, *a, **k: getattr(s, name)(*a, **k), self, *args, **kwargs)

    rule.__name__ = name
    return rule


for _name in ELEMENTWISE:
    setattr(BatchedTensor, _name, _method_rule(_name))


def _where_method(self, condition, other):
    return elementwise(_C.where, condition, self, other)


BatchedTensor.where = _where_method

_BINARY_OPERATORS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lshift": operator.lshift, "rshift": operator.rshift,
}


def _operator_pair(fn):
    def forward(self, other):
        return elementwise(fn, self, other)

    def reflected(self, other):
        return elementwise(fn, other, self)

    return forward, reflected


for _name, _fn in _BINARY_OPERATORS.items():
    _f, _r = _operator_pair(_fn)
    setattr(BatchedTensor, f"__{_name}__", _f)
    setattr(BatchedTensor, f"__r{_name}__", _r)

for _name, _fn in {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
                   "gt": operator.gt, "ge": operator.ge}.items():
    setattr(BatchedTensor, f"__{_name}__", _operator_pair(_fn)[0])
BatchedTensor.__hash__ = object.__hash__
BatchedTensor.__neg__ = lambda self: BatchedTensor(-self._p)
BatchedTensor.__pos__ = lambda self: self
BatchedTensor.__abs__ = lambda self: BatchedTensor(self._p.abs())
BatchedTensor.__invert__ = lambda self: BatchedTensor(~self._p)

# The rule families attach their methods to BatchedTensor on import.
from . import _batched_reduce, _batched_views  # noqa: E402,F401,I001
