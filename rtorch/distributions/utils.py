"""Helpers shared by the distributions: broadcasting parameters, probabilities <-> logits,
and ``lazy_property`` (a parameter computed from another on first use)."""

import numbers

import rtorch
from rtorch import _C

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060


def broadcast_all(*values):
    """Broadcasts tensors and numbers to one shape; numbers take the tensors' dtype/device
    (the default float dtype when all are numbers)."""
    tensors = [v for v in values if isinstance(v, _C.Tensor)]
    for v in values:
        if not isinstance(v, (_C.Tensor, numbers.Number)):
            raise ValueError("Input arguments must all be instances of numbers.Number, "
                             "torch.Tensor or objects implementing __torch_function__.")
    if tensors:
        like = tensors[0]
        opts = {"dtype": like.dtype if like.is_floating_point() else rtorch.get_default_dtype(),
                "device": like.device}
    else:
        opts = {"dtype": rtorch.get_default_dtype()}
    values = [v if isinstance(v, _C.Tensor) else _C.tensor(float(v), **opts) for v in values]
    return rtorch.broadcast_tensors(*values)


def _eps(t):
    return rtorch.finfo(t.dtype).eps


def clamp_probs(probs):
    """Probabilities kept inside (eps, 1 - eps) so that their logs stay finite."""
    eps = _eps(probs)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    """Sigmoid for binary logits, softmax over the last dim otherwise."""
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def probs_to_logits(probs, is_binary=False):
    """Log-odds for binary probabilities, log-probabilities otherwise (both clamped)."""
    p = clamp_probs(probs)
    if is_binary:
        return p.log() - (-p).log1p()
    return p.log()


class lazy_property:
    """A read-only attribute computed on first access and then stored on the instance.

    Distributions give either ``probs`` or ``logits``; the other one is a lazy_property, so it
    is only computed (and only enters the autograd graph) when asked for."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = getattr(wrapped, "__doc__", None)
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _LazyPropertyAndProperty(self.wrapped)
        with rtorch.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


class _LazyPropertyAndProperty(lazy_property, property):
    # Returned on class access so that documentation tools see a property.
    def __init__(self, wrapped):
        property.__init__(self, wrapped)
        lazy_property.__init__(self, wrapped)


def tril_matrix_to_vec(mat, diag=0):
    """The lower triangle (offset ``diag``) of the last two dims, row by row, as a vector."""
    n = mat.shape[-1]
    rows, cols = rtorch.tril_indices(n, n, diag, device=mat.device)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec, diag=0):
    """Inverse of tril_matrix_to_vec: fills a square lower-triangular matrix."""
    m = vec.shape[-1]
    n = 0
    while _tril_count(n, diag) < m:
        n += 1
    if _tril_count(n, diag) != m:
        raise ValueError("vec_to_tril_matrix: the last dim is not a triangular number of entries")
    rows, cols = rtorch.tril_indices(n, n, diag, device=vec.device)
    batch = tuple(vec.shape[:-1])
    flat = (rows * n + cols).expand(batch + (m,))
    out = rtorch.zeros(batch + (n * n,), dtype=vec.dtype, device=vec.device)
    return out.scatter(-1, flat, vec).reshape(batch + (n, n))


def _tril_count(n, diag):
    return sum(max(0, min(n, r + diag + 1)) for r in range(n))
