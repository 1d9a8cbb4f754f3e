"""Autocast for operations written in Python (losses, ``addmm``, attention …).

Operations implemented in the Rust core apply their autocast policy where they enter the
tensor layer. An operation composed in Python gets the same treatment from
:func:`autocast_op`: when autocast is on for its inputs' device type and the operation is on
that device type's list, its tensor arguments are cast by the policy (low precision, float32
or widest type), and the body runs with autocast suspended so that the operations it is
built from keep those dtypes.
"""

import functools

from rtorch import _C

_active = _C._autocast_active
_cast = _C._autocast_cast


def _tensor_slots(args, kwargs):
    pos = [i for i, a in enumerate(args) if isinstance(a, _C.Tensor)]
    # `out=` receives the result in its own dtype; it is never an input to cast.
    kws = [k for k, v in kwargs.items() if k != "out" and isinstance(v, _C.Tensor)]
    return pos, kws


def run_as(name, fn, *args, **kwargs):
    """Calls ``fn(*args, **kwargs)`` with the autocast policy of op ``name`` (for functions
    whose PyTorch op depends on their arguments, such as the padding mode).

    A call with an explicit ``dtype=`` is not autocast, as in PyTorch.
    """
    if not _active() or kwargs.get("dtype") is not None:
        return fn(*args, **kwargs)
    pos, kws = _tensor_slots(args, kwargs)
    if not pos and not kws:
        return fn(*args, **kwargs)
    cast = _cast(name, [args[i] for i in pos] + [kwargs[k] for k in kws])
    if cast is None:
        return fn(*args, **kwargs)
    args = list(args)
    for i, t in zip(pos, cast):
        args[i] = t
    kwargs = dict(kwargs)
    for k, t in zip(kws, cast[len(pos):]):
        kwargs[k] = t
    _C._autocast_suspend()
    try:
        return fn(*args, **kwargs)
    finally:
        _C._autocast_resume()


def autocast_op(name):
    """Decorator: give a Python-composed function the autocast policy of op ``name``."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not _active():
                return fn(*args, **kwargs)
            return run_as(name, fn, *args, **kwargs)

        return wrapper

    return deco
