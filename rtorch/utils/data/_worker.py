"""DataLoader worker processes: per-process setup, the worker loop, and its messages.

The loader sends each worker, on that worker's own queue, one of

* ``(TASK, seq, key)``: load and collate ``key`` (an index, or a list of them);
* ``(RESTART, seq, None)``: a new epoch for persistent workers (fresh dataset iterator);
* ``None``: leave the loop.

Workers answer on one shared queue with ``(worker_id, seq, status, payload)``; ``status``
is ``OK`` (payload: the batch), ``FAILED`` (an :class:`ExceptionWrapper`, or a
:class:`SendFailure` when the answer could not be pickled), ``DRAINED`` (the iterable dataset
ran out: no more answers this epoch) or ``RESTARTED``. ``OK`` and ``FAILED`` payloads travel
already pickled (see :func:`pack`), so a batch that cannot be pickled becomes an error the
loader raises instead of an answer lost in the queue's feeder thread.
"""

import io
import os
import pickle
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import rtorch as torch

__all__ = ["WorkerInfo", "get_worker_info"]

# How often (seconds) blocked queue reads wake up to check the other side is alive.
MP_STATUS_CHECK_INTERVAL = 5.0

TASK, RESTART = "task", "restart"
OK, FAILED, DRAINED, RESTARTED = "ok", "failed", "drained", "restarted"

_worker_info = None


class WorkerInfo:
    """``id``, ``num_workers``, ``seed`` and ``dataset`` of the current worker process;
    read-only once built."""

    id: int
    num_workers: int
    seed: int
    dataset: object

    def __init__(self, **fields):
        object.__setattr__(self, "_field_names", tuple(fields))
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, key, val):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        shown = ", ".join(f"{name}={getattr(self, name)}" for name in self._field_names)
        return f"{type(self).__name__}({shown})"


def get_worker_info():
    """The :class:`WorkerInfo` of this DataLoader worker, or ``None`` in the main process."""
    return _worker_info


class KeyErrorMessage(str):
    """A KeyError message that prints as is (KeyError would repr() it, escaping newlines)."""

    def __repr__(self):
        return str(self)


class ExceptionWrapper:
    """An exception and its formatted traceback, carried across the process boundary and
    raised again (same type, message extended with where it happened) in the loader."""

    def __init__(self, exc_info=None, where="in background"):
        kind, value, tb = exc_info or sys.exc_info()
        self.exc_type = kind
        self.exc_msg = "".join(traceback.format_exception(kind, value, tb))
        self.where = where

    def reraise(self):
        text = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        raise _rebuilt(self.exc_type, text)


def _rebuilt(kind, text):
    """An exception of type ``kind`` carrying ``text``; a RuntimeError when ``kind`` cannot
    be built from one string."""
    if kind is KeyError:
        return KeyError(KeyErrorMessage(text))
    if getattr(kind, "message", None):
        return kind(message=text)  # types that take their text as a keyword
    try:
        return kind(text)
    except Exception:
        return RuntimeError(text)


class SendFailure:
    """A worker's answer that could not be pickled; raised in the loader as RuntimeError."""

    def __init__(self, worker_id, what, error, details):
        self.text = (
            f"DataLoader worker process {worker_id} could not send {what} to the main "
            f"process: pickling it failed with {type(error).__name__}: {error}\n{details}"
        )

    def reraise(self):
        raise RuntimeError(self.text)


def _dumps(obj):
    # bytes, not the memoryview ForkingPickler.dumps gives: it goes into a queue message.
    out = io.BytesIO()
    ForkingPickler(out, pickle.HIGHEST_PROTOCOL).dump(obj)
    return out.getvalue()


def pack(worker_id, status, payload):
    """``(status, pickled payload)``; pickling errors turn into a ``FAILED`` answer."""
    try:
        return status, _dumps(payload)
    except Exception as exc:
        error, details = exc, traceback.format_exc()
    what = "a batch"
    if status == FAILED:
        # An exception of a type pickle cannot find by name, say: keep its text.
        what = f"the {payload.exc_type.__name__} it caught"
        details = f"{details}\nThe error it caught:\n{payload.exc_msg}"
    return FAILED, _dumps(SendFailure(worker_id, what, error, details))


def unpack(worker_id, blob):
    """The payload :func:`pack` pickled, unpickled in the loader's process."""
    try:
        return ForkingPickler.loads(blob)
    except Exception as exc:
        raise RuntimeError(
            f"DataLoader could not unpickle the answer of worker process {worker_id}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


# ---- tensors through multiprocessing queues -------------------------------------------


def _tensor_from_payload(raw, dtype_name, shape, requires_grad):
    from rtorch.serialization._safetensors import _dtype_from_name, _tensor_from_bytes

    out = _tensor_from_bytes(raw, _dtype_from_name(dtype_name), shape)
    return out.requires_grad_(True) if requires_grad else out


def _tensor_to_payload(t):
    from rtorch.serialization._safetensors import _dtype_name, _tensor_to_bytes

    fields = (_tensor_to_bytes(t), _dtype_name(t.dtype), tuple(t.shape), bool(t.requires_grad))
    return _tensor_from_payload, fields


def _register_tensor_pickling():
    """Let multiprocessing queues carry tensors as raw bytes (no storage sharing)."""
    ForkingPickler.register(torch.Tensor, _tensor_to_payload)


# ---- per-worker seeds ---------------------------------------------------------------------


def _numpy_seed(base_seed, worker_id):
    """Four 32-bit words seeding numpy in worker ``worker_id``.

    They are the state numpy's ``SeedSequence`` derives from the entropy words
    ``(worker_id, low 32 bits of base_seed, high bits of base_seed, 0)``; workers thus get
    unrelated numpy streams even though their torch/random seeds differ only by one.
    """
    import numpy as np

    low, high = base_seed & 0xFFFFFFFF, base_seed >> 32
    return np.random.SeedSequence([worker_id, low, high, 0]).generate_state(4)


def _seed_worker(base_seed, worker_id):
    """Seed ``random``, the default torch generator and (if installed) numpy; returns the
    worker's seed, ``base_seed + worker_id``."""
    seed = base_seed + worker_id
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:
        return seed
    np.random.seed(_numpy_seed(base_seed, worker_id))
    return seed


def _prepare_process():
    # The core's thread pool does not survive fork; let it rebuild itself in the child.
    after_fork = getattr(torch._C, "_after_fork", None)
    if after_fork is not None:
        after_fork()
    _register_tensor_pickling()
    # Workers run side by side; one compute thread each avoids oversubscription.
    if hasattr(torch, "set_num_threads"):
        torch.set_num_threads(1)


# ---- the worker loop ----------------------------------------------------------------------


class WorkerSpec:
    """Everything a worker needs, bundled so it crosses to a spawned process in one piece."""

    def __init__(self, make_fetcher, dataset, iterable, base_seed, init_fn, num_workers):
        self.make_fetcher = make_fetcher
        self.dataset = dataset
        self.iterable = iterable
        self.base_seed = base_seed
        self.init_fn = init_fn
        self.num_workers = num_workers


def run_worker(spec, worker_id, tasks, results, stop_event):
    """Entry point of a worker process."""
    try:
        _serve(spec, worker_id, tasks, results, stop_event)
    except KeyboardInterrupt:
        pass  # the main process decides what Ctrl-C means
    if stop_event.is_set():
        # Nobody will read what is still buffered; don't block the exit on it.
        results.cancel_join_thread()
        results.close()


def _serve(spec, worker_id, tasks, results, stop_event):
    global _worker_info
    _prepare_process()
    seed = _seed_worker(spec.base_seed, worker_id)
    _worker_info = WorkerInfo(
        id=worker_id, num_workers=spec.num_workers, seed=seed, dataset=spec.dataset
    )
    where = f"in DataLoader worker process {worker_id}"

    def start_epoch(first):
        # A failure here is reported as the answer to the next task.
        try:
            if first and spec.init_fn is not None:
                spec.init_fn(worker_id)
            return spec.make_fetcher(), None
        except Exception:
            return None, ExceptionWrapper(where=where)

    fetcher, failure = start_epoch(True)
    drained = False
    parent = os.getppid()
    while os.getppid() == parent:  # a changed parent means the loader's process died
        try:
            message = tasks.get(timeout=MP_STATUS_CHECK_INTERVAL)
        except queue.Empty:
            if stop_event.is_set():
                return
            continue
        if message is None:
            return
        kind, seq, key = message
        if kind == RESTART:
            fetcher, failure = start_epoch(False)
            drained = False
            results.put((worker_id, seq, RESTARTED, None))
            continue
        if drained or stop_event.is_set():
            continue  # idle until the next epoch or the stop sentinel
        if failure is not None:
            answer, failure = (FAILED, failure), None
        else:
            answer = _fetch(fetcher, key, spec.iterable, where)
        drained = answer[0] == DRAINED
        if not drained:
            answer = pack(worker_id, *answer)
        results.put((worker_id, seq, *answer))


def _fetch(fetcher, key, iterable, where):
    """``(status, payload)`` for one task."""
    try:
        return OK, fetcher.fetch(key)
    except StopIteration:
        if iterable:
            return DRAINED, None
        return FAILED, ExceptionWrapper(where=where)
    except Exception:
        return FAILED, ExceptionWrapper(where=where)
