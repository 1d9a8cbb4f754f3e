"""Rank variables that launchers export: PyTorch's (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``), Open MPI's (``OMPI_COMM_WORLD_*``), MPICH/Hydra's (``PMI_*``,
``MPI_LOCALRANKID``) and PMIx's (``PMIX_RANK``)."""

import os

_RANK = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
_SIZE = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_LOCAL_RANK = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK")
_LOCAL_SIZE = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE")


def _first_int(names):
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                continue
    return None


def mpi_launch_info():
    """``(rank, world_size, local_rank, local_world_size)`` set by ``mpiexec``, or None when
    this process was not started by an MPI launcher."""
    rank = _first_int(_RANK)
    if rank is None:
        return None
    size = _first_int(_SIZE)
    local_rank = _first_int(_LOCAL_RANK)
    local_size = _first_int(_LOCAL_SIZE)
    return (
        rank,
        size,
        rank if local_rank is None else local_rank,
        size if local_size is None else local_size,
    )


def torch_env_int(name):
    """``int(os.environ[name])`` or None when unset; ValueError names a malformed value."""
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"Error initializing torch.distributed using env:// rendezvous: environment "
            f"variable {name} must be an integer, got {value!r}"
        ) from None
