"""Tensor methods written in Python on top of the native ones (attached to ``Tensor``)."""

import copy

from rtorch import _C
from rtorch._autocast_ops import autocast_op
from rtorch._out import scalar_type_name

Tensor = _C.Tensor


def _sampler(kind, a_default, b_default):
    def method(self, a=a_default, b=b_default, *, generator=None):
        _C._sample_(self, kind, float(a), float(b), generator)
        return self

    return method


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    _C._sample_(self, "uniform", float(a), float(b), generator)
    return self


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    _C._sample_(self, "normal", float(mean), float(std), generator)
    return self


def bernoulli_(self, p=0.5, *, generator=None):
    if isinstance(p, Tensor):
        sample = _C.bernoulli(p.expand(self.shape).to(self.dtype), generator=generator)
        with _no_grad():
            self.copy_(sample)
        return self
    _C._sample_(self, "bernoulli", float(p), 0.0, generator)
    return self


_RANDOM_TOP = {
    "float16": 2**11 + 1, "bfloat16": 2**8 + 1, "float32": 2**24 + 1, "float64": 2**53 + 1,
    "int64": 2**63 - 1, "int32": 2**31 - 1, "int16": 2**15 - 1, "int8": 2**7 - 1,
    "uint8": 2**8, "bool": 2,
}


def random_(self, from_=0, to=None, *, generator=None):
    """Uniform integers in [from, to - 1]; ``random_()`` spans the dtype like PyTorch."""
    if to is None:
        if from_:
            from_, to = 0, from_
        else:
            to = _RANDOM_TOP[str(self.dtype).replace("torch.", "")]
    _C._sample_(self, "random", float(from_), float(to), generator)
    return self


def exponential_(self, lambd=1.0, *, generator=None):
    _C._sample_(self, "exponential", float(lambd), 0.0, generator)
    return self


class _no_grad:
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *a):
        _C._set_grad_enabled(self.prev)


def _like_self(self, dtype, device, requires_grad):
    """Factory keywords for a new tensor defaulting to self's dtype and device."""
    return {
        "dtype": dtype or self.dtype,
        "device": self.device if device is None else device,
        "requires_grad": requires_grad,
    }


def _new_factory(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, **_like_self(self, dtype, device, requires_grad))

    return method


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return _C.full(size, fill_value, **_like_self(self, dtype, device, requires_grad))


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return _C.tensor(data, **_like_self(self, dtype, device, requires_grad))


def get_device(self):
    """The CUDA device index of this tensor, -1 on the CPU."""
    return self.device.index if self.is_cuda else -1


def std_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (self.std(dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim))


def var_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (self.var(dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim))


def _scalar_type(dt):
    return scalar_type_name(dt)


def _result_type(*tensors):
    """PyTorch's promotion over several tensors: dimensioned tensors decide, 0-d tensors
    count only when of a higher category (float over integer over bool)."""
    def promote(dts):
        out = None
        for d in dts:
            out = d if out is None else _C.promote_types(out, d)
        return out

    dim = promote(t.dtype for t in tensors if t.dim() > 0)
    zero = promote(t.dtype for t in tensors if t.dim() == 0)
    if dim is None or zero is None:
        return dim if zero is None else zero
    if dim.is_floating_point:
        return dim
    if dim == _C.bool or zero.is_floating_point:
        return _C.promote_types(dim, zero)
    return dim


def _addc_operands(self, tensor1, tensor2, value):
    """The three tensors cast to their common dtype, and `value` stored in it (truncated
    toward zero for integer dtypes), as PyTorch's addcmul/addcdiv kernels compute."""
    dt = _result_type(self, tensor1, tensor2)
    if not dt.is_floating_point and isinstance(value, float):
        value = int(value)
    if dt == _C.bool:
        value = bool(value)
    return dt, tensor1.to(dt), tensor2.to(dt), value


def _check_addcdiv(tensor1, tensor2):
    if not tensor1.is_floating_point() and not tensor2.is_floating_point():
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  "
            "release addcdiv will perform a true division of tensor1 and tensor2. "
            "The historic addcdiv behavior can be implemented as "
            "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
            "for integer inputs and as "
            "(input + value * tensor1 / tensor2) for float inputs. "
            "The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes."
        )


def addcmul(self, tensor1, tensor2, *, value=1):
    dt, a, b, v = _addc_operands(self, tensor1, tensor2, value)
    return self.to(dt) + v * a * b


def addcdiv(self, tensor1, tensor2, *, value=1):
    _check_addcdiv(tensor1, tensor2)
    dt, a, b, v = _addc_operands(self, tensor1, tensor2, value)
    return self.to(dt) + v * a / b


def addcmul_(self, tensor1, tensor2, *, value=1):
    # Computed in the common dtype of all three; add_ checks it can be cast back to self's.
    _, a, b, v = _addc_operands(self, tensor1, tensor2, value)
    return self.add_(v * a * b)


def addcdiv_(self, tensor1, tensor2, *, value=1):
    _check_addcdiv(tensor1, tensor2)
    _, a, b, v = _addc_operands(self, tensor1, tensor2, value)
    return self.add_(v * a / b)


@autocast_op("addmm")
def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    return self * beta + (mat1 @ mat2) * alpha


def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(self, other, rtol, atol, equal_nan).all())


def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = self, other
    if not isinstance(b, Tensor):
        b = _C.tensor(b, dtype=a.dtype, device=a.device)
    if a.dtype != b.dtype:
        raise RuntimeError(f"{_scalar_type(a.dtype)} did not match {_scalar_type(b.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    # Equal values (infinities of one sign included) are close; NaN only with equal_nan.
    close = a == b
    if equal_nan and a.is_floating_point():
        close = close | (a.isnan() & b.isnan())
    if rtol == 0 and atol == 0:
        return close
    if a.dtype == _C.bool:
        a, b = a.to(_C.float32), b.to(_C.float32)
    # |a - b| <= atol + rtol * |b|, only where the difference is finite: an infinity is
    # never within tolerance of another value.
    allowed = atol + (rtol * b).abs()
    actual = (a - b).abs()
    return close | (actual.isfinite() & (actual <= allowed))


def sum_to_size(self, *size):
    size = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
    lead = self.dim() - len(size)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(size) if s == 1 and self.shape[lead + i] != 1]
    out = self.sum(dims, keepdim=True) if dims else self
    return out.reshape(size)


def __deepcopy__(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    with _no_grad():
        data = self.clone()
    if type(self) is Tensor:
        new = data
        if self.requires_grad and self.is_leaf:
            new.requires_grad_(True)
    else:
        new = Tensor._make_subclass(type(self), data, self.requires_grad)
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
    if self.grad is not None:
        new.grad = copy.deepcopy(self.grad, memo)
    memo[id(self)] = new
    return new


def __contains__(self, element):
    return bool((self == element).any())


def __reversed__(self):
    return self.flip(0) if self.dim() > 0 else self


def __rlshift__(self, other):
    return _C.tensor(other, dtype=self.dtype, device=self.device).bitwise_left_shift(self)


def __rrshift__(self, other):
    return _C.tensor(other, dtype=self.dtype, device=self.device).bitwise_right_shift(self)


def share_memory_(self):
    return self


def is_shared(self):
    return False


def softplus_(self, *a, **k):
    raise NotImplementedError("Tensor.softplus_ does not exist in PyTorch")


def _install():
    for name, fn in dict(
        uniform_=uniform_, normal_=normal_, bernoulli_=bernoulli_, random_=random_,
        exponential_=exponential_, new_zeros=_new_factory(_C.zeros), new_ones=_new_factory(_C.ones),
        new_empty=_new_factory(_C.empty), new_full=new_full, new_tensor=new_tensor,
        std_mean=std_mean, var_mean=var_mean,
        addcmul=addcmul, addcdiv=addcdiv, addcmul_=addcmul_, addcdiv_=addcdiv_, addmm=addmm,
        allclose=allclose, isclose=isclose, sum_to_size=sum_to_size,
        __deepcopy__=__deepcopy__, __contains__=__contains__,
        __reversed__=__reversed__, __rlshift__=__rlshift__, __rrshift__=__rrshift__,
        share_memory_=share_memory_, is_shared=is_shared, get_device=get_device,
    ).items():
        setattr(Tensor, name, fn)
    Tensor.__array_priority__ = 1000
    Tensor.__module__ = "rtorch"  # pickle finds classes by the module they report


_install()
