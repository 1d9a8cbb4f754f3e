"""Helpers shared by the collectives: group and root resolution, the reduction operator
for a dtype, the cross-rank consistency check, and running an operation (sync or async)."""

import array
import warnings

import numpy as np

import rtorch as torch

from . import _group
from ._mpi import (
    _NUMPY,
    HALF,
    CompletedWork,
    ThreadWork,
    Work,
    _from_address,
    check_cpu,
    dtype_code,
    mpi,
    raw,
)
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


def on_nccl(pg, t, op):
    """Whether tensor ``t`` goes to the group's NCCL backend (a CUDA tensor on a group that
    has one). A CPU tensor on a group without a CPU backend gets PyTorch's error; a CUDA
    tensor on a group without NCCL falls through to ``check_cpu``'s."""
    if not isinstance(t, torch.Tensor):
        return False
    if t.device.type == "cuda":
        return pg._nccl is not None
    if not pg.serves_cpu:
        from ._nccl import NO_CPU

        raise RuntimeError(f"{NO_CPU} ({op})")
    return False


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


_TABLES = {}


def _tables():
    if not _TABLES:
        MPI = mpi()
        R = _RedOpType
        _TABLES["bool"] = {
            R.SUM: MPI.LOR, R.MAX: MPI.LOR, R.BOR: MPI.LOR,
            R.PRODUCT: MPI.LAND, R.MIN: MPI.LAND, R.BAND: MPI.LAND, R.BXOR: MPI.LXOR,
        }  # fmt: skip
        _TABLES["bitwise"] = {R.BAND: MPI.BAND, R.BOR: MPI.BOR, R.BXOR: MPI.BXOR}
        _TABLES["arith"] = {
            R.SUM: MPI.SUM, R.AVG: MPI.SUM, R.PRODUCT: MPI.PROD, R.MIN: MPI.MIN, R.MAX: MPI.MAX,
        }  # fmt: skip
    return _TABLES


_OPS = {}


def mpi_op(op, dtype, name):
    """The MPI operation for reduction ``op`` on ``dtype`` (SUM for AVG, which divides
    afterwards); bool tensors reduce logically as in PyTorch."""
    key = (type(op), op, dtype)
    try:
        return _OPS[key]
    except (KeyError, TypeError):
        pass
    found = _mpi_op(op, dtype, name)
    _OPS[key] = found
    return found


def _mpi_op(op, dtype, name):
    try:
        op = _op_type(op)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: unsupported reduction operator {op!r}") from None
    tables = _tables()
    if dtype == torch.bool:
        if op not in tables["bool"]:
            raise RuntimeError(f"{name}: Cannot use ReduceOp.{op.name} with boolean inputs")
        return tables["bool"][op]
    if op in tables["bitwise"]:
        if dtype not in _INTEGRAL:
            raise RuntimeError(
                f"{name}: Cannot use ReduceOp.{op.name} with non-integral dtype {dtype}"
            )
        return tables["bitwise"][op]
    if op not in tables["arith"]:
        raise ValueError(f"{name}: ReduceOp.{op.name} is not supported by the MPI backend")
    return tables["arith"][op]


def average(array, n):
    """In place ``array / n`` after a SUM (integers truncate toward zero, as NCCL's AVG)."""
    if array.dtype.kind == "f":
        array /= n
    else:
        q = np.abs(array) // n
        array[...] = np.where(array < 0, -q, q)


# Python's hash of a tuple of ints is the same in every process (only str/bytes hashing is
# salted); masked so that its negation still fits an int64.
_KEY_MASK = (1 << 62) - 1


class Check:
    """A small all-reduce that tells every rank whether ``t`` has the same shape and dtype
    everywhere, issued ahead of the data (see ``collective``)."""

    __slots__ = ("buf", "mine", "shape", "dtype", "op")

    def __init__(self, t, op):
        self.shape = shape = t.shape
        self.dtype = t.dtype
        self.op = op
        n, code, key = t.numel(), dtype_code(self.dtype), hash(shape) & _KEY_MASK
        # max(x) and max(-x) in one reduction: equal everywhere iff both come back unchanged.
        self.mine = [n, code, key, -n, -code, -key]
        self.buf = array.array("q", self.mine)

    def start(self, comm):
        return comm.Iallreduce(mpi().IN_PLACE, self.buf, op=mpi().MAX)

    def run(self, comm):
        comm.Allreduce(mpi().IN_PLACE, self.buf, op=mpi().MAX)

    def __call__(self):
        if self.buf.tolist() != self.mine:
            raise self.mismatch()

    def mismatch(self):
        return DistBackendError(
            f"{self.op}: tensors differ across ranks: this rank has shape "
            f"{list(self.shape)} and dtype {self.dtype}, another rank has a different "
            "shape or dtype"
        )


class CallCheck:
    """A check made of MPI collective ``name`` on ``args`` and ``verify``, run once it is done."""

    __slots__ = ("name", "args", "verify")

    def __init__(self, name, args, verify):
        self.name, self.args, self.verify = name, args, verify

    def start(self, comm):
        return getattr(comm, "I" + self.name.lower())(*self.args)

    def run(self, comm):
        getattr(comm, self.name)(*self.args)

    def __call__(self):
        self.verify()


class SyncReduce:
    """What a synchronous in-place reduction of a contiguous tensor needs, prepared once per
    shape, dtype and operator: the consistency check's words (``Check``'s, so that ranks on
    this path and ranks on the general one agree), the byte count, MPI's datatype and
    operator, and whether to average afterwards."""

    __slots__ = ("words", "nbytes", "datatype", "mpi_op", "avg")

    def __init__(self, t, op, name):
        MPI = mpi()
        self.mpi_op = mpi_op(op, t.dtype, name)
        self.avg = _op_type(op) == _RedOpType.AVG
        self.words = Check(t, name).mine
        element = np.dtype(_NUMPY[t.dtype])
        self.nbytes = t.numel() * element.itemsize
        # The type mpi4py picks for a numpy array of that dtype, as the general path does.
        self.datatype = MPI._typedict[element.char]


_SYNC = {}


def sync_reduce(t, op, name):
    """The cached ``SyncReduce`` for ``t`` and ``op``, or None when ``t`` needs the general
    path (a 16-bit float reduced in float32, an empty or non-contiguous tensor)."""
    try:
        key = (t.shape, t.dtype, type(op), op)
        plan = _SYNC.get(key)
    except TypeError:  # an unhashable op: the general path reports it
        return None
    if plan is None:
        if t.dtype in HALF or t.numel() == 0:
            return None
        if len(_SYNC) >= 1024:
            _SYNC.clear()
        plan = _SYNC[key] = SyncReduce(t, op, name)
    return plan if t.is_contiguous() else None


def run_sync_reduce(pg, what, plan, t):
    """``all_reduce`` of contiguous ``t`` in place with ``plan``: the check, then MPI's
    blocking Allreduce straight on the tensor's memory. The lean twin of ``collective`` for
    the call data-parallel training makes most: with two ranks sharing the cores, each
    microsecond of Python here showed several times over in the collective's time."""
    MPI = mpi()
    pg.drain(what)
    comm = pg.comm
    words = plan.words
    buf = array.array("q", words)
    req = comm.Iallreduce(MPI.IN_PLACE, buf, MPI.MAX)
    if not _completes_quickly(req, MPI):  # a late peer or an error: the general wait
        check = Check(t, what)
        check.buf = buf
        Work(pg, what, [req], check=check).wait()
    elif buf.tolist() != words:
        err = Check(t, what).mismatch()
        pg.mark_broken(err)
        raise err
    data = [_from_address()(t.data_ptr(), plan.nbytes), plan.datatype]
    try:
        comm.Allreduce(MPI.IN_PLACE, data, plan.mpi_op)
    except MPI.Exception as e:
        err = DistBackendError(f"{what}: MPI error: {e.Get_error_string()}")
        pg.mark_broken(err)
        raise err from e
    if plan.avg:
        average(raw(t), pg.size())


def consistency_check(pg, t, op):
    """The cross-rank shape and dtype check of ``t`` for collective ``op`` (a ``Check``)."""
    return Check(t, op)


def check_list_shape(tensors, size, op, what):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: {what} must be a list of tensors, got {type(tensors).__name__}")
    if len(tensors) != size:
        raise ValueError(f"{op}: {what} has {len(tensors)} tensors, expected one per rank ({size})")


def check_list(tensors, ref, size, op, what, cuda=False):
    check_list_shape(tensors, size, op, what)
    for t in tensors:
        if not cuda:
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


# Tests of a just-issued check before falling back to the deadline-aware wait: when every
# rank is already there (the common case) the small reduction completes within a few polls,
# and the general wait's bookkeeping would cost more than the check itself.
FAST_POLLS = 32


def _completes_quickly(req, MPI):
    """Whether ``req`` completes within ``FAST_POLLS`` tests. An MPI error counts as no: the
    deadline-aware wait that follows reports it (and marks the group broken)."""
    try:
        for _ in range(FAST_POLLS):
            if req.Test():
                return True
    except MPI.Exception:
        pass
    return False


def _await_check(pg, what, check, MPI):
    req = check.start(pg.comm)
    if not _completes_quickly(req, MPI):
        Work(pg, what, [req], check=check).wait()
        return
    try:
        check()
    except DistBackendError as e:
        pg.mark_broken(e)
        raise


def collective(
    pg, what, name, args, kwargs=None, finish=None, outputs=(), check=None, async_op=False
):
    """Runs MPI collective ``name`` (``"Allreduce"``, ...) on ``args`` after the optional
    ``check`` (a ``Check``).

    Synchronous calls wait, against the group's deadline, for the check's small collective,
    which also proves every rank has arrived; then MPI's blocking form moves the data (its
    tuned algorithms are two to three times faster at megabyte sizes than the non-blocking
    ones, which also advance only while polled). Asynchronous calls run the same blocking
    calls on the group's communication thread (mpi4py releases the GIL inside MPI), in
    issue order; a synchronous collective first waits for them, so that every rank issues
    collectives in the same order."""
    kwargs = kwargs or {}
    comm = pg.comm
    if async_op:

        def job():
            if check is not None:
                check.run(comm)
                check()
            getattr(comm, name)(*args, **kwargs)

        return ThreadWork(pg, what, pg.submit(job), finish, outputs)
    pg.drain(what)
    if check is None:
        req = getattr(comm, "I" + name.lower())(*args, **kwargs)
        return run(pg, what, [req], finish, outputs)
    MPI = mpi()
    _await_check(pg, what, check, MPI)
    try:
        getattr(comm, name)(*args, **kwargs)
    except MPI.Exception as e:
        err = DistBackendError(f"{what}: MPI error: {e.Get_error_string()}")
        pg.mark_broken(err)
        raise err from e
    if finish is not None:
        finish()
    return None


__all__ = ["HALF"]
