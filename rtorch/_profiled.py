"""Profiler scopes for ops composed in Python.

Ops written in Rust open their profiler scope at entry; an op that the Python package composes
from other ops (``kthvalue``, ``cummax``, ``scatter_reduce``...) is wrapped with
``profiled("aten::<name>")`` so that it appears under its own name too, with the ops it runs
nested inside. With no profiler active the wrapper costs one call into ``_C`` (an atomic load).
"""

from __future__ import annotations

import functools

from . import _C


def _shapes(args):
    return [list(a.shape) for a in args if isinstance(a, _C.Tensor)]


def profiled(name):
    """Decorates an op so that a running profiler records it as ``name``."""

    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if not _C._profiler_enabled():
                return fn(*args, **kwargs)
            opened = _C._profiler_push_op(name, _shapes(args))
            try:
                return fn(*args, **kwargs)
            finally:
                if opened:
                    _C._profiler_pop_op()

        return op

    return decorate
