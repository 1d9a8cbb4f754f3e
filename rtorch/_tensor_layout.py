"""Tensor layouts (``torch.strided`` and the sparse markers) and the in-place layout changes
``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``, ``as_strided_``, ``resize_``.

An in-place layout change computes the new view and hands it to the native ``_become``,
which swaps the Python tensor's storage and layout (and, for a tensor with history, its
autograd node) while the Python object, and so every reference to it, stays the same.
"""

import math

from rtorch import _C

Tensor = _C.Tensor


class layout:
    """How a tensor's elements are stored; rtorch tensors are always ``torch.strided``."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return self._name  # pickled as the module-level name


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
_mkldnn = layout("_mkldnn")
jagged = layout("jagged")


def _check_layout_change(t, op):
    from rtorch.autograd.grad_mode import is_grad_enabled

    if t.is_leaf and t.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation."
        )


def _relayout(op, make_view):
    def method(self, *args, **kwargs):
        _check_layout_change(self, op)
        self._become(make_view(self, *args, **kwargs))
        return self

    method.__name__ = op
    method.__doc__ = f"In-place ``{op[:-1]}``: changes this tensor's shape and strides."
    return method


def _squeeze_view(t, dim=None):
    return t.squeeze() if dim is None else t.squeeze(dim)


def _contiguous_strides(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _sizes(args, op):
    sizes = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    sizes = tuple(int(s) for s in sizes)
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"{op}: trying to resize to a negative size {list(sizes)}")
    return sizes


def resize_(self, *sizes, memory_format=None):
    """Gives this tensor the contiguous shape ``sizes``, keeping the elements it has in storage
    order. Growing past the storage moves the tensor to a larger storage (views taken before
    keep the old one); new elements are zero."""
    sizes = _sizes(sizes, "resize_")
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    numel = math.prod(sizes)
    offset = self.storage_offset()
    available = self._storage_numel() - offset
    flat_old = self.detach().as_strided((max(available, 0),), (1,), offset)
    if numel <= available:
        view = flat_old.as_strided(sizes, _contiguous_strides(sizes), offset)
    else:
        grown = _C.zeros(numel, dtype=self.dtype, device=self.device)
        keep = max(min(available, numel), 0)
        if keep:
            grown[:keep] = flat_old[:keep]
        view = grown.view(sizes)
    self._become(view)
    return self


def resize_as_(self, other, memory_format=None):
    return resize_(self, tuple(other.shape))


def _install():
    for name, fn in dict(
        t_=_relayout("t_", lambda t: t.t()),
        transpose_=_relayout("transpose_", lambda t, d0, d1: t.transpose(d0, d1)),
        swapaxes_=_relayout("swapaxes_", lambda t, d0, d1: t.transpose(d0, d1)),
        swapdims_=_relayout("swapdims_", lambda t, d0, d1: t.transpose(d0, d1)),
        squeeze_=_relayout("squeeze_", _squeeze_view),
        unsqueeze_=_relayout("unsqueeze_", lambda t, dim: t.unsqueeze(dim)),
        as_strided_=_relayout(
            "as_strided_", lambda t, size, stride, storage_offset=None: t.as_strided(
                size, stride, storage_offset)
        ),
        resize_=resize_,
        resize_as_=resize_as_,
    ).items():
        setattr(Tensor, name, fn)
    Tensor.layout = property(lambda self: strided, doc="Always ``torch.strided`` in rtorch.")


_install()
