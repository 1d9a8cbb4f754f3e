"""Helpers shared by the collectives: group and root resolution, the reduction operator
for a dtype, the cross-rank consistency check, and running an operation (sync or async)."""

import warnings

import numpy as np

import rtorch as torch

from . import _group
from ._mpi import HALF, CompletedWork, Work, check_cpu, dtype_code, mpi
from ._types import DistBackendError, _op_type, _RedOpType

_INTEGRAL = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def group_for(group, op):
    """The group to run ``op`` on, or None (with PyTorch's warning) on a non-member rank."""
    pg = _group.resolve(group, op)
    if pg is None:
        warnings.warn(
            f"Running {op} on global rank {_group.get_rank()} which does not belong to the "
            "given group.",
            stacklevel=3,
        )
    return pg


def root(pg, rank, group_rank, name, op, default=None):
    """Group rank of the root given as a default-group ``rank`` or a ``group_rank``."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"{op}: Can not specify both {name} and group_{name}")
    if rank is None and group_rank is None:
        if default is None:
            raise ValueError(f"{op}: Either {name} or group_{name} must be set")
        group_rank = default
    r = pg.group_rank(int(rank)) if rank is not None else int(group_rank)
    if not 0 <= r < pg.size():
        raise ValueError(f"{op}: invalid {name} {r} for a group of {pg.size()} ranks")
    return r


def mpi_op(op, dtype, name):
    """The MPI operation for reduction ``op`` on ``dtype`` (SUM for AVG, which divides
    afterwards); bool tensors reduce logically as in PyTorch."""
    MPI = mpi()
    try:
        op = _op_type(op)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: unsupported reduction operator {op!r}") from None
    if dtype == torch.bool:
        table = {
            _RedOpType.SUM: MPI.LOR,
            _RedOpType.MAX: MPI.LOR,
            _RedOpType.BOR: MPI.LOR,
            _RedOpType.PRODUCT: MPI.LAND,
            _RedOpType.MIN: MPI.LAND,
            _RedOpType.BAND: MPI.LAND,
            _RedOpType.BXOR: MPI.LXOR,
        }
        if op not in table:
            raise RuntimeError(f"{name}: Cannot use ReduceOp.{op.name} with boolean inputs")
        return table[op]
    bitwise = {_RedOpType.BAND: MPI.BAND, _RedOpType.BOR: MPI.BOR, _RedOpType.BXOR: MPI.BXOR}
    if op in bitwise:
        if dtype not in _INTEGRAL:
            raise RuntimeError(
                f"{name}: Cannot use ReduceOp.{op.name} with non-integral dtype {dtype}"
            )
        return bitwise[op]
    table = {
        _RedOpType.SUM: MPI.SUM,
        _RedOpType.AVG: MPI.SUM,
        _RedOpType.PRODUCT: MPI.PROD,
        _RedOpType.MIN: MPI.MIN,
        _RedOpType.MAX: MPI.MAX,
    }
    if op not in table:
        raise ValueError(f"{name}: ReduceOp.{op.name} is not supported by the MPI backend")
    return table[op]


def average(array, n):
    """In place ``array / n`` after a SUM (integers truncate toward zero, as NCCL's AVG)."""
    if array.dtype.kind == "f":
        array /= n
    else:
        q = np.abs(array) // n
        array[...] = np.where(array < 0, -q, q)


def _shape_key(shape):
    h = 1469598103934665603
    for s in (len(shape), *shape):
        h = ((h ^ (s + 1)) * 1099511628211) % (1 << 40)
    return h


def consistency_check(pg, t, op, reqs):
    """Starts a small all-reduce that tells every rank whether ``t`` has the same shape and
    dtype everywhere (issued just before the data, so it costs one small message's latency);
    returns the check to run once it completes."""
    MPI = mpi()
    key = _shape_key(tuple(t.shape))
    mine = np.array([t.numel(), dtype_code(t.dtype), key], dtype=np.int64)
    both = np.concatenate([mine, -mine])
    reqs.append(pg.comm.Iallreduce(MPI.IN_PLACE, both, op=MPI.MAX))

    def check():
        hi, lo = both[:3], -both[3:]
        if not (np.array_equal(hi, mine) and np.array_equal(lo, mine)):
            raise DistBackendError(
                f"{op}: tensors differ across ranks: this rank has shape {list(t.shape)} and "
                f"dtype {t.dtype}, another rank has a different shape or dtype"
            )

    return check


def check_list(tensors, ref, size, op, what):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: {what} must be a list of tensors, got {type(tensors).__name__}")
    if len(tensors) != size:
        raise ValueError(
            f"{op}: {what} has {len(tensors)} tensors, expected one per rank ({size})"
        )
    for t in tensors:
        check_cpu(t, op)
        if t.dtype != ref.dtype:
            raise TypeError(f"{op}: {what} holds a {t.dtype} tensor, expected {ref.dtype}")


def flat_empty(n, dtype):
    return torch.empty(n, dtype=dtype)


def contiguous(t):
    """A contiguous tensor with ``t``'s values (``t`` itself when it already is)."""
    return t if t.is_contiguous() else t.detach().contiguous()


def run(pg, what, reqs, finish=None, outputs=(), check=None, async_op=False):
    """Waits for (or, with ``async_op``, returns a ``Work`` for) the started requests."""
    if not reqs and finish is None:
        work = CompletedWork(pg, what, outputs)
    else:
        work = Work(pg, what, reqs, finish, outputs, check)
    if async_op:
        return work
    work.wait()
    return None


__all__ = ["HALF"]
