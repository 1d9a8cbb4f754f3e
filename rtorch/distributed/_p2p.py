"""Point-to-point transfers (``send``/``recv``/``isend``/``irecv``, ``batch_isend_irecv``)
and the all-to-all exchanges."""

import numpy as np

import rtorch as torch

from . import _common as c
from . import _nccl as nccl
from ._mpi import Staged, Work, check_cpu, mpi, raw
from ._types import DistBackendError

__all__ = [
    "P2POp",
    "all_to_all",
    "all_to_all_single",
    "batch_isend_irecv",
    "irecv",
    "isend",
    "recv",
    "send",
]


def _peer(pg, rank, group_rank, name, op):
    if rank is None and group_rank is None:
        return None
    return c.root(pg, rank, group_rank, name, op)


def _check_tag(tag):
    if tag < 0 or tag > mpi().COMM_WORLD.Get_attr(mpi().TAG_UB):
        raise ValueError(f"tag {tag} is outside MPI's range")
    return int(tag)


class _RecvWork(Work):
    def __init__(self, pg, req, finish, tensor, status):
        super().__init__(pg, "recv", [req], finish, [tensor], statuses=[status])
        self._status = status

    def source_rank(self):
        """Default-group rank of the sender."""
        self.wait()
        return self._group.global_rank(self._status.Get_source())


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Sends ``tensor`` to rank ``dst`` asynchronously; returns a ``Work``."""
    pg = c.group_for(group, "isend")
    if pg is None:
        return None
    peer = _peer(pg, dst, group_dst, "dst", "isend")
    if peer is None:
        raise ValueError("isend: Either dst or group_dst must be set")
    if c.on_nccl(pg, tensor, "isend"):
        return nccl.send(pg, tensor, peer)
    check_cpu(tensor, "isend")
    data = raw(c.contiguous(tensor))
    return Work(pg, "send", [pg.comm.Isend(data, dest=peer, tag=_check_tag(tag))], outputs=[tensor])


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receives into ``tensor`` from rank ``src`` (any rank when None); returns a ``Work``
    whose ``source_rank()`` names the sender."""
    pg = c.group_for(group, "irecv")
    if pg is None:
        return None
    peer = _peer(pg, src, group_src, "src", "irecv")
    if c.on_nccl(pg, tensor, "irecv"):
        return nccl.recv(pg, tensor, peer)
    check_cpu(tensor, "irecv")
    MPI = mpi()
    buf = Staged(tensor, fill=False)
    status = MPI.Status()
    req = pg.comm.Irecv(
        buf.array, source=MPI.ANY_SOURCE if peer is None else peer, tag=_check_tag(tag)
    )
    expected = buf.array.size
    from mpi4py.util.dtlib import from_numpy_dtype

    def finish():
        got = status.Get_count(from_numpy_dtype(buf.array.dtype))
        if got != expected:
            raise DistBackendError(
                f"recv: received {got} elements from rank {status.Get_source()} into a tensor "
                f"of {expected} ({list(tensor.shape)}): the sizes differ"
            )
        buf.write_back()

    return _RecvWork(pg, req, finish, tensor, status)


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Sends ``tensor`` to rank ``dst``, returning once it has been handed over."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None and not isinstance(work, nccl.Work):
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receives into ``tensor`` from rank ``src`` (any rank when None); returns the sender's
    rank (-1 on a rank outside ``group``)."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    if isinstance(work, nccl.Work):
        # Queued on the device's stream like every NCCL operation; the sender is known.
        return work._pg.global_rank(work.source)
    work.wait()
    return work.source_rank()


class P2POp:
    """One send or receive for ``batch_isend_irecv``: ``P2POp(isend, tensor, peer)``."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv, send, recv):
            raise ValueError(
                "Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                "``torch.distributed.irecv``."
            )
        self.op = isend if op in (isend, send) else irecv
        self.tensor = tensor
        self.peer = peer
        self.group = group
        self.tag = tag
        self.group_peer = group_peer


def batch_isend_irecv(p2p_op_list):
    """Starts every transfer of the list; returns their ``Work`` handles."""
    if not isinstance(p2p_op_list, list) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to be of type ``P2POp``.")
    first = p2p_op_list[0] if p2p_op_list else None
    if first is not None and isinstance(first.tensor, torch.Tensor) and first.tensor.is_cuda:
        return _batch_nccl(p2p_op_list)
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]


def _batch_nccl(p2p_op_list):
    """CUDA tensors: every transfer of the list in one NCCL group (so that sends and
    receives between the same ranks cannot wait on each other)."""
    pg = c.group_for(p2p_op_list[0].group, "batch_isend_irecv")
    if pg is None:
        return []
    ops = []
    for p in p2p_op_list:
        if c.group_for(p.group, "batch_isend_irecv") is not pg:
            raise ValueError("batch_isend_irecv: all operations must use the same group")
        if not c.on_nccl(pg, p.tensor, "batch_isend_irecv"):
            check_cpu(p.tensor, "batch_isend_irecv")
            raise ValueError("batch_isend_irecv: CUDA and CPU tensors cannot be mixed")
        name = "dst" if p.op is isend else "src"
        peer = _peer(pg, p.peer, p.group_peer, name, "batch_isend_irecv")
        if peer is None:
            raise ValueError(f"batch_isend_irecv: Either {name} or group_{name} must be set")
        ops.append((p.op is isend, p.tensor, peer))
    return nccl.batch(pg, ops)


def _splits(splits, t, size, op, what):
    rows = t.shape[0] if t.dim() else 1
    per_row = t.numel() // rows if rows else 0
    if splits is None or len(splits) == 0:
        if rows % size:
            raise ValueError(
                f"{op}: {what} first dimension {rows} is not divisible by the world size {size}"
            )
        splits = [rows // size] * size
    if len(splits) != size or sum(splits) != rows:
        raise ValueError(
            f"{op}: {what} split sizes {list(splits)} must have one entry per rank ({size}) "
            f"summing to {rows}"
        )
    counts = [int(s) * per_row for s in splits]
    return counts, np.cumsum([0] + counts[:-1]).tolist()


def all_to_all_single(
    output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False
):
    """Rank ``i`` sends slice ``j`` of ``input`` (rows ``input_split_sizes[j]``) to rank ``j``,
    which stores it as slice ``i`` of ``output``."""
    name = "all_to_all_single"
    pg = c.group_for(group, name)
    if pg is None:
        return None
    cuda = c.on_nccl(pg, input, name)
    if not cuda:
        check_cpu(output, name)
        check_cpu(input, name)
    if output.dtype != input.dtype:
        raise TypeError(f"{name}: input and output dtypes differ ({input.dtype} vs {output.dtype})")
    size = pg.size()
    scounts, sdispl = _splits(input_split_sizes, input, size, name, "input")
    rcounts, rdispl = _splits(output_split_sizes, output, size, name, "output")
    if cuda:
        return nccl.all_to_all_single(
            pg, output, input, rcounts, rdispl, scounts, sdispl, async_op
        )
    src = raw(c.contiguous(input))
    out = Staged(output, fill=False)
    args = ([src, (scounts, sdispl)], [out.array, (rcounts, rdispl)])
    return c.collective(pg, name, "Alltoallv", args, None, out.write_back, [output], None, async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank ``i`` sends ``input_tensor_list[j]`` to rank ``j``, which receives it in
    ``output_tensor_list[i]``."""
    from ._collectives import _flat_cat, _split_into

    name = "all_to_all"
    pg = c.group_for(group, name)
    if pg is None:
        return None
    size = pg.size()
    if not input_tensor_list:
        raise ValueError(f"{name}: input_tensor_list must not be empty")
    ref = input_tensor_list[0]
    cuda = c.on_nccl(pg, ref, name)
    c.check_list(input_tensor_list, ref, size, name, "input_tensor_list", cuda)
    c.check_list(output_tensor_list, ref, size, name, "output_tensor_list", cuda)
    if cuda:
        for i, (o, t) in enumerate(zip(output_tensor_list, input_tensor_list)):
            if i == pg.rank() and o.numel() != t.numel():
                raise ValueError(
                    f"{name}: output_tensor_list[{i}] has {o.numel()} elements but this rank "
                    f"sends {t.numel()} to itself"
                )
        return nccl.all_to_all(pg, list(output_tensor_list), list(input_tensor_list), async_op)
    scounts = [t.numel() for t in input_tensor_list]
    rcounts = [t.numel() for t in output_tensor_list]
    src = _flat_cat(input_tensor_list, ref.dtype)
    out = c.flat_empty(sum(rcounts), ref.dtype)
    args = ([raw(src), scounts], [raw(out), rcounts])
    finish = lambda: _split_into(out, output_tensor_list)  # noqa: E731
    return c.collective(
        pg, name, "Alltoallv", args, None, finish, output_tensor_list, None, async_op
    )
