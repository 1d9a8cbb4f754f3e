"""Smaller parts of ``torch.distributed``: point-to-point object transfer, the monitored
barrier (names the ranks that did not arrive), subgroups of equal size, and queries."""

import os
import time

import numpy as np

from . import _common as c
from . import _group
from ._env import mpi_launch_info
from ._mpi import Work, mpi, wait_requests
from ._objects import deserialize, serialize
from ._types import Backend, _op_type, _RedOpType

__all__ = [
    "get_default_backend_for_device",
    "get_node_local_rank",
    "get_pg_count",
    "is_xccl_available",
    "monitored_barrier",
    "new_subgroups",
    "recv_object_list",
    "send_object_list",
    "supports_complex",
]

_OBJ_TAG = 0x7F01
_MONITOR_TAG = 0x7F02


def send_object_list(object_list, dst=None, group=None, device=None, group_dst=None):
    """Sends the picklable objects of ``object_list`` to rank ``dst``."""
    pg = c.group_for(group, "send_object_list")
    if pg is None:
        return
    peer = c.root(pg, dst, group_dst, "dst", "send_object_list")
    payload = serialize(list(object_list))
    size = np.array([payload.size], np.int64)
    reqs = [
        pg.comm.Isend(size, dest=peer, tag=_OBJ_TAG),
        pg.comm.Isend(payload, dest=peer, tag=_OBJ_TAG),
    ]
    c.run(pg, "send_object_list", reqs)


def recv_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Fills ``object_list`` with the objects sent by rank ``src`` (any rank when None);
    returns the sender's rank."""
    pg = c.group_for(group, "recv_object_list")
    if pg is None:
        return -1
    MPI = mpi()
    peer = (
        MPI.ANY_SOURCE
        if src is None and group_src is None
        else c.root(pg, src, group_src, "src", "recv_object_list")
    )
    size = np.zeros(1, np.int64)
    status = MPI.Status()
    req = pg.comm.Irecv(size, source=peer, tag=_OBJ_TAG)
    Work(pg, "recv_object_list", [req], statuses=[status]).wait()
    sender = status.Get_source()  # the payload must come from the rank the size came from
    payload = np.empty(int(size[0]), np.uint8)
    c.run(pg, "recv_object_list", [pg.comm.Irecv(payload, source=sender, tag=_OBJ_TAG)])
    got = deserialize(payload)
    if len(got) != len(object_list):
        raise ValueError(
            f"recv_object_list: {len(got)} objects received but object_list has {len(object_list)}"
        )
    object_list[:] = got
    return pg.global_rank(sender)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that rank 0 of ``group`` watches: ranks that do not arrive within
    ``timeout`` are named in the RuntimeError (all of them with ``wait_all_ranks``)."""
    pg = c.group_for(group, "monitored_barrier")
    if pg is None:
        return
    limit = pg.timeout_s() if timeout is None else timeout.total_seconds()
    me, size = pg.rank(), pg.size()
    token = np.zeros(1, np.uint8)
    if me != 0:
        wait_requests(
            [pg.comm.Isend(token, dest=0, tag=_MONITOR_TAG)],
            time.monotonic() + limit,
            limit,
            "monitored_barrier",
        )
        wait_requests(
            [pg.comm.Irecv(token, source=0, tag=_MONITOR_TAG)],
            time.monotonic() + limit,
            limit,
            "monitored_barrier",
        )
        return
    pending = {
        r: pg.comm.Irecv(np.zeros(1, np.uint8), source=r, tag=_MONITOR_TAG) for r in range(1, size)
    }
    deadline = time.monotonic() + limit
    missing = []

    def give_up(message):
        for req in pending.values():  # unmatched receives must not catch later tokens
            if req:
                req.Cancel()
                req.Free()
        raise RuntimeError(message)

    for r, req in pending.items():
        while not req.Test():
            if time.monotonic() > deadline:
                missing.append(r)
                if not wait_all_ranks:
                    give_up(
                        f"[Rank 0]: Rank {pg.global_rank(r)} failed to pass monitoredBarrier in "
                        f"{int(limit * 1000)} ms"
                    )
                break
    if missing:
        ranks = ", ".join(str(pg.global_rank(r)) for r in missing)
        give_up(
            f"[Rank 0]: Ranks {ranks} failed to pass monitoredBarrier in {int(limit * 1000)} ms"
        )
    reqs = [pg.comm.Isend(token, dest=r, tag=_MONITOR_TAG) for r in range(1, size)]
    wait_requests(reqs, time.monotonic() + limit, limit, "monitored_barrier")


def new_subgroups(
    group_size=None, group=None, timeout=None, backend=None, pg_options=None, group_desc=None
):
    """Splits the default group into groups of ``group_size`` consecutive ranks (the ranks of
    one node when None); returns ``(this rank's subgroup, all subgroups)``."""
    if group is not None:
        raise ValueError(
            "new_subgroups: the group argument is not supported (splits the default group)"
        )
    world = _group.get_world_size()
    if group_size is None:
        group_size = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if group_size <= 0:
        raise ValueError(f"The arg 'group_size' ({group_size}) must be positive")
    if world % group_size:
        raise ValueError(f"The world size ({world}) must be divisible by 'group_size={group_size}'")
    me = _group.get_rank()
    mine, groups = None, []
    for start in range(0, world, group_size):
        ranks = list(range(start, start + group_size))
        g = _group.new_group(ranks, timeout=timeout, backend=backend, group_desc=group_desc)
        if me in ranks:
            mine = g
            groups.append(g)
    return mine, groups


def get_node_local_rank(fallback_rank=None):
    """This process's rank on its node: ``LOCAL_RANK`` (set by the launcher), else
    ``fallback_rank``."""
    value = os.environ.get("LOCAL_RANK")
    if value is not None:
        return int(value)
    info = mpi_launch_info()  # started by mpiexec directly
    if info is not None:
        return info[2]
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError(
        "LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
        "`get_node_local_rank` to work, assuming you are not running in a multi-device context "
        "and want the code to run locally instead."
    )


def get_pg_count():
    """Number of process groups created so far (the default one included, and groups that
    this rank is not a member of)."""
    return _group._state.counter


def supports_complex(reduceOp):
    """Whether ``reduceOp`` is defined for complex tensors."""
    return _op_type(reduceOp) not in (
        _RedOpType.MAX, _RedOpType.MIN, _RedOpType.PRODUCT,
        _RedOpType.BAND, _RedOpType.BOR, _RedOpType.BXOR,
    )  # fmt: skip


def get_default_backend_for_device(device):
    """The backend this build uses for ``device`` ("mpi" for CPU, "nccl" for CUDA)."""
    kind = device if isinstance(device, str) else device.type
    kind = kind.split(":")[0]
    if kind == "cpu":
        return Backend.MPI
    if kind == "cuda":
        return Backend.NCCL
    raise ValueError(f"Default backend not registered for device : {device}")


def is_xccl_available():
    return False
