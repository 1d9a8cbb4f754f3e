"""PyTorch's ``out=`` contract, shared by every function that takes one.

The result is computed as usual and then stored into ``out``: ``out`` must be a tensor on the
result's device whose dtype the result's can be cast to; differentiable inputs are refused
while grad mode is on (the stored values carry no graph); an ``out`` of another shape is
resized to the result's (with PyTorch's deprecation warning unless it had no elements).
"""

import sys
import warnings

from . import _C

_SCALAR_TYPE_NAMES = {
    "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
    "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
    "float64": "Double",
}


def scalar_type_name(dtype):
    """``Float`` for ``torch.float32``, as PyTorch's messages name dtypes."""
    short = str(dtype).replace("rtorch.", "").replace("torch.", "")
    return _SCALAR_TYPE_NAMES.get(short, short)


def _tensors(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def check_out(name, out, inputs=()):
    """The checks that come before any work: ``out`` is a tensor (a tuple of them for ops
    with several results) and no input (nor ``out``) needs a gradient while grad mode is
    on."""
    outs = _tensors(out)
    if not all(isinstance(t, _C.Tensor) for t in outs):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if _C.is_grad_enabled() and any(
        isinstance(t, _C.Tensor) and t.requires_grad for t in (*outs, *inputs)
    ):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )


def store(name, result, out, cast_error=None):
    """Writes ``result`` into ``out`` (resized when its shape differs) and returns ``out``;
    an op with several results fills a tuple of tensors, one each, and returns the results'
    tuple type over them. ``cast_error``: the exception for a dtype ``out`` cannot take,
    where the op words it its own way."""
    if isinstance(result, tuple):
        outs = _tensors(out)
        if len(outs) != len(result) or not isinstance(out, (tuple, list)):
            raise TypeError(
                f"{name}(): argument 'out' must be a tuple of {len(result)} Tensors"
            )
        stored = [store(name, r, o, cast_error) for r, o in zip(result, outs)]
        if type(result) is tuple:
            return tuple(stored)
        make = getattr(type(result), "_make", None)  # a namedtuple
        return make(stored) if make is not None else type(result)(stored)
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if out.device != result.device:
        raise RuntimeError(
            f"{name}(): Expected out tensor to have device {result.device}, but got "
            f"{out.device} instead"
        )
    if out.dtype != result.dtype and not _C.can_cast(result.dtype, out.dtype):
        if cast_error is not None:
            raise cast_error
        raise RuntimeError(
            f"result type {scalar_type_name(result.dtype)} can't be cast to the desired output "
            f"type {scalar_type_name(out.dtype)}"
        )
    shape = tuple(result.shape)
    if tuple(out.shape) != shape:
        if out.numel() != 0:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out.shape)}, which does not match the required output shape "
                f"{list(shape)}. This behavior is deprecated, and in a future PyTorch release "
                "outputs will not be resized unless they have zero elements. You can "
                "explicitly reuse an out tensor t by resizing it, inplace, to zero elements "
                "with t.resize_(0).",
                UserWarning,
                stacklevel=3,
            )
        out.resize_(shape)
    # No graph to carry: nothing differentiable reaches here while grad mode is on.
    out.copy_(result)
    return out


def store_joined(name, result, out):
    """``store`` for ``cat`` and ``stack``, which word a dtype ``out`` cannot take as
    PyTorch's ``cat`` does (a TypeError)."""
    err = TypeError(
        "torch.cat(): input types can't be cast to the desired output type "
        f"{scalar_type_name(out.dtype)}"
    )
    return store(name, result, out, err)


def write_out(name, result, out, inputs=(), cast_error=None):
    """``check_out`` then ``store``, for callers that check only after computing (the same
    errors; a result that needs a gradient shows that an input did)."""
    check_out(name, out, (*inputs, *_tensors(result)))
    return store(name, result, out, cast_error)


def write_out_from_caller(result, out):
    """``write_out`` named after the calling function (``xlogy(): ...``), for the helpers
    that many functions share."""
    if out is None:
        return result
    return write_out(sys._getframe(2).f_code.co_name, result, out)


def factory_options(name, out, dtype, device):
    """A factory's dtype and device with ``out=``: ``out``'s where none is given; an
    explicit dtype that differs from ``out``'s is PyTorch's error."""
    check_out(name, out)
    if dtype is None:
        dtype = out.dtype
    elif dtype != out.dtype:
        raise RuntimeError(
            f"dtype {scalar_type_name(dtype)} does not match dtype of out parameter "
            f"({scalar_type_name(out.dtype)})"
        )
    return dtype, out.device if device is None else device
