"""Collectives on tensors (in place, as PyTorch defines them), each one non-blocking MPI
call polled against the group's timeout; ``async_op=True`` returns the ``Work``."""

import rtorch as torch

from . import _common as c
from . import _nccl as nccl
from ._mpi import Staged, check_cpu, mpi, raw
from ._types import ReduceOp, _op_type, _RedOpType

__all__ = [
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "barrier",
    "broadcast",
    "gather",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
]


def _is_avg(op):
    return _op_type(op) == _RedOpType.AVG


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``tensor`` over all ranks of ``group``; every rank gets the result in place."""
    pg = c.group_for(group, "all_reduce")
    if pg is None:
        return None
    if c.on_nccl(pg, tensor, "all_reduce"):
        return nccl.all_reduce(pg, tensor, op, async_op)
    check_cpu(tensor, "all_reduce")
    plan = None if async_op else c.sync_reduce(tensor, op, "all_reduce")
    if plan is not None:
        c.run_sync_reduce(pg, "all_reduce", plan, tensor)
        return None
    MPI = mpi()
    reduce_op = c.mpi_op(op, tensor.dtype, "all_reduce")
    buf = Staged(tensor, reduce=True)
    check = c.consistency_check(pg, tensor, "all_reduce")
    avg = _is_avg(op)

    def finish():
        if avg:
            c.average(buf.array, pg.size())
        buf.write_back()

    args = (MPI.IN_PLACE, buf.array)
    return c.collective(
        pg, "all_reduce", "Allreduce", args, dict(op=reduce_op), finish, [tensor], check, async_op
    )


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copies ``tensor`` of rank ``src`` into ``tensor`` on every other rank."""
    pg = c.group_for(group, "broadcast")
    if pg is None:
        return None
    r = c.root(pg, src, group_src, "src", "broadcast")
    if c.on_nccl(pg, tensor, "broadcast"):
        return nccl.broadcast(pg, tensor, r, async_op)
    check_cpu(tensor, "broadcast")
    buf = Staged(tensor, fill=pg.rank() == r)
    check = c.consistency_check(pg, tensor, "broadcast")
    finish = buf.write_back if pg.rank() != r else None
    return c.collective(
        pg, "broadcast", "Bcast", (buf.array,), dict(root=r), finish, [tensor], check, async_op
    )


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduces ``tensor`` over the ranks into ``tensor`` on rank ``dst`` (other ranks keep
    theirs)."""
    pg = c.group_for(group, "reduce")
    if pg is None:
        return None
    r = c.root(pg, dst, group_dst, "dst", "reduce")
    if c.on_nccl(pg, tensor, "reduce"):
        return nccl.reduce(pg, tensor, r, op, async_op)
    check_cpu(tensor, "reduce")
    MPI = mpi()
    reduce_op = c.mpi_op(op, tensor.dtype, "reduce")
    buf = Staged(tensor, reduce=True)
    check = c.consistency_check(pg, tensor, "reduce")
    args = (MPI.IN_PLACE, buf.array) if pg.rank() == r else (buf.array, None)
    avg = _is_avg(op)

    def finish():
        if pg.rank() == r:
            if avg:
                c.average(buf.array, pg.size())
            buf.write_back()

    kwargs = dict(op=reduce_op, root=r)
    return c.collective(pg, "reduce", "Reduce", args, kwargs, finish, [tensor], check, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fills ``tensor_list[i]`` with ``tensor`` of rank ``i`` (sizes may differ per rank)."""
    pg = c.group_for(group, "all_gather")
    if pg is None:
        return None
    if c.on_nccl(pg, tensor, "all_gather"):
        c.check_list_shape(tensor_list, pg.size(), "all_gather", "tensor_list")
        return nccl.all_gather(pg, tensor_list, tensor, async_op)
    check_cpu(tensor, "all_gather")
    size = pg.size()
    c.check_list(tensor_list, tensor, size, "all_gather", "tensor_list")
    if tensor_list[pg.rank()].numel() != tensor.numel():
        raise ValueError(
            f"all_gather: tensor_list[{pg.rank()}] has {tensor_list[pg.rank()].numel()} "
            f"elements but this rank's tensor has {tensor.numel()}"
        )
    import numpy as np

    counts = [t.numel() for t in tensor_list]
    mine = np.array([tensor.numel(), c.dtype_code(tensor.dtype)], dtype=np.int64)
    seen = np.empty(2 * size, dtype=np.int64)
    src = c.contiguous(tensor)
    out = c.flat_empty(sum(counts), tensor.dtype)

    def check_sizes():
        for i, t in enumerate(tensor_list):
            if seen[2 * i] != t.numel() or seen[2 * i + 1] != mine[1]:
                raise c.DistBackendError(
                    f"all_gather: rank {i} sent {seen[2 * i]} elements, but tensor_list[{i}] "
                    f"has {t.numel()} (or the dtypes differ)"
                )

    def finish():
        _split_into(out, tensor_list)

    check = c.CallCheck("Allgather", (mine, seen), check_sizes)
    args = (raw(src), [raw(out), counts])
    return c.collective(
        pg, "all_gather", "Allgatherv", args, None, finish, tensor_list, check, async_op
    )


def _split_into(flat, tensors):
    offset = 0
    with torch.no_grad():
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view(t.shape))
            offset += n


def _flat_cat(tensors, dtype):
    if not tensors:
        return c.flat_empty(0, dtype)
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gathers every rank's ``input_tensor`` into ``output_tensor`` (rank order, along its
    first dimension or stacked)."""
    pg = c.group_for(group, "all_gather_into_tensor")
    if pg is None:
        return None
    op = "all_gather_into_tensor"
    cuda = c.on_nccl(pg, input_tensor, op)
    if not cuda:
        check_cpu(output_tensor, op)
        check_cpu(input_tensor, op)
    if output_tensor.dtype != input_tensor.dtype:
        raise TypeError(
            f"{op}: output tensor must have the same type as input tensor "
            f"({output_tensor.dtype} vs {input_tensor.dtype})"
        )
    if output_tensor.numel() != pg.size() * input_tensor.numel():
        raise ValueError(
            f"{op}: output tensor size must be equal to world_size times input tensor size: "
            f"output {list(output_tensor.shape)}, input {list(input_tensor.shape)}, "
            f"world_size {pg.size()}"
        )
    if cuda:
        return nccl.all_gather_into_tensor(pg, output_tensor, input_tensor, async_op)
    src = c.contiguous(input_tensor)
    out = Staged(output_tensor, fill=False)
    check = c.consistency_check(pg, input_tensor, op)
    return c.collective(
        pg,
        op,
        "Allgather",
        (raw(src), out.array),
        None,
        out.write_back,
        [output_tensor],
        check,
        async_op,
    )


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``input`` over the ranks and leaves chunk ``rank`` of the result in ``output``."""
    name = "reduce_scatter_tensor"
    pg = c.group_for(group, name)
    if pg is None:
        return None
    cuda = c.on_nccl(pg, input, name)
    if not cuda:
        check_cpu(output, name)
        check_cpu(input, name)
    if output.dtype != input.dtype:
        raise TypeError(f"{name}: input and output dtypes differ ({input.dtype} vs {output.dtype})")
    if input.numel() != pg.size() * output.numel():
        raise ValueError(
            f"{name}: input tensor must be the same size as output size times world size: "
            f"input {list(input.shape)}, output {list(output.shape)}, world_size {pg.size()}"
        )
    if cuda:
        return nccl.reduce_scatter_tensor(pg, output, input, op, async_op)
    mpi()
    reduce_op = c.mpi_op(op, input.dtype, name)
    src = Staged(input, reduce=True)
    out = Staged(output, reduce=True, fill=False)
    check = c.consistency_check(pg, input, name)
    return c.collective(
        pg,
        name,
        "Reduce_scatter_block",
        (src.array, out.array),
        dict(op=reduce_op),
        _finish_reduced(pg, out, op),
        [output],
        check,
        async_op,
    )


def _finish_reduced(pg, out, op):
    avg = _is_avg(op)

    def finish():
        if avg:
            c.average(out.array, pg.size())
        out.write_back()

    return finish


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``input_list`` elementwise over the ranks; ``output`` gets entry ``rank``."""
    name = "reduce_scatter"
    pg = c.group_for(group, name)
    if pg is None:
        return None
    if c.on_nccl(pg, output, name):
        c.check_list_shape(input_list, pg.size(), name, "input_list")
        return nccl.reduce_scatter(pg, output, input_list, op, async_op)
    check_cpu(output, name)
    c.check_list(input_list, output, pg.size(), name, "input_list")
    counts = [t.numel() for t in input_list]
    if counts[pg.rank()] != output.numel():
        raise ValueError(
            f"{name}: input_list[{pg.rank()}] has {counts[pg.rank()]} elements, output has "
            f"{output.numel()}"
        )
    mpi()
    reduce_op = c.mpi_op(op, output.dtype, name)
    flat = _flat_cat(input_list, output.dtype)
    src = Staged(flat, reduce=True)
    out = Staged(output, reduce=True, fill=False)
    check = c.consistency_check(pg, flat, name)
    return c.collective(
        pg,
        name,
        "Reduce_scatter",
        (src.array, out.array, counts),
        dict(op=reduce_op),
        _finish_reduced(pg, out, op),
        [output],
        check,
        async_op,
    )


def _list_arg(lst, is_root, name, op):
    if is_root:
        if not lst:
            raise ValueError(
                f"{op}: Argument ``{name}`` must be specified on {'destination' if 'gather' in op else 'source'} rank."
            )
    elif lst:
        raise ValueError(
            f"{op}: Argument ``{name}`` must NOT be specified on non-"
            f"{'destination' if 'gather' in op else 'source'} ranks."
        )


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Collects ``tensor`` of every rank into ``gather_list`` on rank ``dst``."""
    pg = c.group_for(group, "gather")
    if pg is None:
        return None
    cuda = c.on_nccl(pg, tensor, "gather")
    if not cuda:
        check_cpu(tensor, "gather")
    r = c.root(pg, dst, group_dst, "dst", "gather", default=0)
    is_root = pg.rank() == r
    _list_arg(gather_list, is_root, "gather_list", "gather")
    if is_root:
        c.check_list(gather_list, tensor, pg.size(), "gather", "gather_list", cuda)
        for t in gather_list:
            if t.numel() != tensor.numel():
                raise ValueError(
                    f"gather: gather_list tensors must have the input's size "
                    f"({list(t.shape)} vs {list(tensor.shape)})"
                )
    if cuda:
        return nccl.gather(pg, tensor, gather_list, r, async_op)
    src = c.contiguous(tensor)
    out = c.flat_empty(pg.size() * tensor.numel() if is_root else 0, tensor.dtype)
    check = c.consistency_check(pg, tensor, "gather")
    finish = (lambda: _split_into(out, gather_list)) if is_root else None
    return c.collective(
        pg,
        "gather",
        "Gather",
        (raw(src), raw(out) if is_root else None),
        dict(root=r),
        finish,
        gather_list or [],
        check,
        async_op,
    )


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank ``src`` sends ``scatter_list[i]`` to rank ``i``, which receives it in ``tensor``."""
    pg = c.group_for(group, "scatter")
    if pg is None:
        return None
    cuda = c.on_nccl(pg, tensor, "scatter")
    if not cuda:
        check_cpu(tensor, "scatter")
    r = c.root(pg, src, group_src, "src", "scatter", default=0)
    is_root = pg.rank() == r
    _list_arg(scatter_list, is_root, "scatter_list", "scatter")
    if is_root:
        c.check_list(scatter_list, tensor, pg.size(), "scatter", "scatter_list", cuda)
        for t in scatter_list:
            if t.numel() != tensor.numel():
                raise ValueError(
                    f"scatter: scatter_list tensors must have the output's size "
                    f"({list(t.shape)} vs {list(tensor.shape)})"
                )
    if cuda:
        return nccl.scatter(pg, tensor, scatter_list, r, async_op)
    flat = _flat_cat(scatter_list, tensor.dtype) if is_root else None
    out = Staged(tensor, fill=False)
    check = c.consistency_check(pg, tensor, "scatter")
    return c.collective(
        pg,
        "scatter",
        "Scatter",
        (raw(flat) if is_root else None, out.array),
        dict(root=r),
        out.write_back,
        [tensor],
        check,
        async_op,
    )


def barrier(group=None, async_op=False, device_ids=None):
    """Blocks until every rank of ``group`` has entered the barrier."""
    pg = c.group_for(group, "barrier")
    if pg is None:
        return None
    if pg._nccl is not None and (not pg.serves_cpu or device_ids):
        # PyTorch's NCCL barrier: every rank's device has finished its queued work.
        pg.drain("barrier")
        nccl.barrier(pg, device_ids)
        return c.CompletedWork(pg, "barrier") if async_op else None
    return c.collective(pg, "barrier", "Barrier", (), async_op=async_op)
