"""``rtorch.distributed``: PyTorch's ``torch.distributed`` API over MPI (CPU tensors) and
NCCL (CUDA tensors).

Start the ranks with ``python -m rtorch.distributed.run --nproc-per-node N script.py`` or
``mpiexec -n N python script.py``, then ``init_process_group("mpi")``, ``("nccl")`` or
``("cpu:mpi,cuda:nccl")``. Collectives run as
non-blocking MPI operations polled against the group's timeout, so a dead or missing rank
makes the others raise ``DistBackendError`` instead of hanging. mpi4py is imported (and MPI
initialised) only by ``init_process_group``.
"""

from ._mpi import Work, mpi4py_installed as _mpi4py_installed
from ._types import (
    Backend,
    DistBackendError,
    DistError,
    DistNetworkError,
    DistStoreError,
    ReduceOp,
    default_pg_timeout,
)
from ._group import (
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_initialized,
    is_torchelastic_launched,
    new_group,
)
from ._collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    gather,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
)
from ._p2p import (
    P2POp,
    all_to_all,
    all_to_all_single,
    batch_isend_irecv,
    irecv,
    isend,
    recv,
    send,
)
from ._objects import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    scatter_object_list,
)
from ._extras import (
    get_default_backend_for_device,
    get_node_local_rank,
    get_pg_count,
    is_xccl_available,
    monitored_barrier,
    new_subgroups,
    recv_object_list,
    send_object_list,
    supports_complex,
)


def is_available():
    """Whether the distributed package can be used: mpi4py (with an MPI library) is installed."""
    return _mpi4py_installed()


def is_mpi_available():
    return _mpi4py_installed()


def is_nccl_available():
    """Whether the NCCL backend can be used: this build has CUDA support and the NCCL library
    (``pip install nvidia-nccl-cu13``, part of ``rtorch[cuda]``) can be loaded."""
    from . import _nccl

    return _nccl.available()


def is_gloo_available():
    return False


def is_ucc_available():
    return False


def is_backend_available(backend):
    """Whether ``backend`` can be passed to ``init_process_group`` in this build."""
    name = Backend(backend)
    if name == Backend.NCCL:
        return _mpi4py_installed() and is_nccl_available()
    return name == Backend.MPI and _mpi4py_installed()
