"""Process groups: the default group made by ``init_process_group`` over ``MPI_COMM_WORLD``,
subgroups from ``new_group``, and the queries on them (rank, size, backend)."""

import atexit
import os
import sys
import time
from datetime import timedelta

from . import _env
from ._mpi import WaitTimeout, mpi, mpi4py_installed, wait_requests
from ._types import NOT_INITIALIZED, Backend, DistBackendError, default_pg_timeout

__all__ = [
    "GroupMember",
    "ProcessGroup",
    "destroy_process_group",
    "get_backend",
    "get_global_rank",
    "get_group_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_initialized",
    "new_group",
]


class ProcessGroup:
    """A set of ranks that run collectives together, backed by its own MPI communicator."""

    def __init__(self, comm, global_ranks, timeout, backend=Backend.MPI, name="", devices=None):
        self.comm = comm
        self._ranks = list(global_ranks)
        self._timeout = timeout
        self._backend = Backend(backend)
        self._name = name
        self._broken = None
        self._thread = None
        self._jobs = []
        # Which backend serves each device type: MPI for CPU tensors, NCCL for CUDA ones
        # (the MPI communicator is there in every case: rank queries, objects, NCCL's id).
        devices = {"cpu": Backend.MPI} if devices is None else devices
        self.serves_cpu = devices.get("cpu") == Backend.MPI
        self._nccl = None
        if devices.get("cuda") == Backend.NCCL:
            from ._nccl import NcclGroup

            self._nccl = NcclGroup(self)

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return self.comm.Get_size()

    def name(self):
        return self._name

    @property
    def group_name(self):
        return self._name

    def timeout_s(self):
        return self._timeout.total_seconds()

    def global_rank(self, group_rank):
        if not 0 <= group_rank < len(self._ranks):
            raise ValueError(f"Group rank {group_rank} is not part of group {self._name!r}")
        return self._ranks[group_rank]

    def group_rank(self, global_rank):
        try:
            return self._ranks.index(global_rank)
        except ValueError:
            raise ValueError(
                f"Global rank {global_rank} is not part of group {self._name!r}"
            ) from None

    def comm_thread(self):
        """The thread that runs this group's asynchronous collectives, in issue order."""
        from ._comm_thread import CommThread

        if self._thread is None:
            self._thread = CommThread(f"rtorch-pg-{self._name}")
        return self._thread

    def submit(self, fn):
        self._jobs = [j for j in self._jobs if not j.done.is_set()]
        job = self.comm_thread().submit(fn)
        self._jobs.append(job)
        return job

    def drain(self, op):
        """Waits until the asynchronous collectives already started on this group have been
        issued and finished, so that a collective issued now from the calling thread comes
        after them on every rank. Their errors are reported by their own ``Work``."""
        pending = [j for j in self._jobs if not j.done.is_set()]
        self._jobs = []
        if pending:
            from ._comm_thread import wait_done

            wait_done(pending, time.monotonic() + self.timeout_s(), self.timeout_s(), op)

    def mark_broken(self, error):
        if self._broken is None:
            self._broken = error
            if isinstance(error, WaitTimeout):
                _abort_at_exit()

    def check_usable(self, op):
        if self._broken is not None:
            raise DistBackendError(
                f"{op}: process group {self._name!r} is unusable after an earlier failure: "
                f"{self._broken}"
            )

    def __repr__(self):
        return f"ProcessGroup(name={self._name!r}, backend={self._backend}, ranks={self._ranks})"


class _NonMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """``GroupMember.WORLD`` (the default group) and ``NON_GROUP_MEMBER`` (what ``new_group``
    returns on ranks outside the new group)."""

    WORLD = None
    NON_GROUP_MEMBER = _NonMember()


class group:  # noqa: N801  (PyTorch's name)
    """``group.WORLD``: the default process group once initialised."""

    WORLD = None


class _State:
    default = None
    groups = []
    counter = 0


_state = _State()


_aborting = []
ABORT_GRACE_S = 0.5


def _abort_at_exit():
    # After a failed collective the communicator may hold requests that never complete, and
    # MPI_Finalize would wait for the peers forever: end the job at exit, as a watchdog would.
    if _aborting:
        return
    _aborting.append(True)

    def abort():
        sys.stdout.flush()
        sys.stderr.flush()
        # Abort tears the job down at once: give mpiexec a moment to forward what was just
        # printed, and a peer that failed at the same moment time to report it too.
        time.sleep(ABORT_GRACE_S)
        mpi().COMM_WORLD.Abort(1)

    atexit.register(abort)


def _timedelta(timeout):
    if timeout is None:
        return default_pg_timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(
            f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout).__name__}"
        )
    return timeout


def _check_backend(backend):
    """``(name, {device type: backend})`` for ``backend`` (None: MPI), or PyTorch's error
    for one that this build cannot provide here."""
    if backend is None:
        backend = Backend.MPI
    if not isinstance(backend, str):
        raise ValueError(f"Invalid backend: {backend!r}")
    name = Backend(backend)
    if ":" in name:
        # "cpu:mpi,cuda:nccl": one backend per device type.
        devices = {}
        for part in name.split(","):
            dev, sep, b = part.partition(":")
            dev = dev.strip()
            if not sep or dev not in ("cpu", "cuda") or dev in devices:
                raise ValueError(f"Invalid backend string: '{backend}'")
            devices[dev] = _check_one(b.strip(), dev)
        return name, devices
    one = _check_one(name)
    return one, {"cpu": one} if one == Backend.MPI else {"cuda": one}


def _check_one(name, device=None):
    name = Backend(name)
    if name == Backend.MPI:
        if device == "cuda":
            raise ValueError("Invalid backend string: the MPI backend handles CPU tensors only")
        if not mpi4py_installed():
            raise RuntimeError(
                "Distributed package doesn't have MPI built in: install mpi4py and an MPI "
                "library (pip install 'rtorch[distributed]')"
            )
        return name
    if name == Backend.NCCL:
        if device == "cpu":
            raise ValueError("Invalid backend string: the NCCL backend handles CUDA tensors only")
        from . import _nccl

        _nccl.check_usable()
        return name
    if name in (Backend.GLOO, Backend.UCC):
        raise RuntimeError(
            f"Distributed package doesn't have {name.upper()} built in: rtorch provides the "
            "'mpi' backend for CPU tensors and 'nccl' for CUDA tensors"
        )
    raise ValueError(f"Invalid backend: '{name}'")


def _device_index(device_id):
    if isinstance(device_id, int):
        return device_id
    import rtorch

    d = rtorch.device(device_id)
    if d.type != "cuda":
        raise ValueError(f"init_process_group: device_id must be a CUDA device, got {d}")
    return d.index if d.index is not None else rtorch.cuda.current_device()


def _agree(name, given, actual):
    if given is not None and given >= 0 and given != actual:
        raise ValueError(
            f"init_process_group: {name}={given}, but MPI started this process with "
            f"{name}={actual} (with the MPI backend, mpiexec assigns ranks)"
        )


def is_initialized():
    """Whether the default process group has been initialised."""
    return _state.default is not None


def init_process_group(
    backend=None,
    init_method=None,
    timeout=None,
    world_size=-1,
    rank=-1,
    store=None,
    group_name="",
    pg_options=None,
    device_id=None,
):
    """Initialises the default process group over all processes of the MPI job.

    Ranks come from MPI (``mpiexec``, ``python -m rtorch.distributed.run``, or a single
    process started alone); ``rank``/``world_size`` and ``RANK``/``WORLD_SIZE`` from the
    environment must agree with them. ``init_method``/``store`` need no rendezvous here
    (mpiexec did it) and are accepted as PyTorch's MPI backend accepts them."""
    if _state.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    timeout = _timedelta(timeout)
    name, devices = _check_backend(backend)
    if init_method is not None and store is not None:
        raise ValueError("Cannot specify both init_method and store.")
    if store is not None and (world_size <= 0 or rank < 0):
        raise ValueError("world_size and rank must be specified when using a store")
    MPI = mpi()
    world = MPI.COMM_WORLD
    actual_rank, actual_size = world.Get_rank(), world.Get_size()
    env_size = _env.torch_env_int("WORLD_SIZE")
    if actual_size == 1 and (world_size > 1 or (env_size or 1) > 1):
        raise RuntimeError(
            f"init_process_group: a world of {max(world_size, env_size or 1)} processes was "
            "asked for, but this process is not part of an MPI job: start the ranks with "
            "'python -m rtorch.distributed.run --nproc-per-node N script.py' or "
            "'mpiexec -n N python script.py'"
        )
    _agree("rank", rank, actual_rank)
    _agree("world_size", world_size, actual_size)
    _agree("rank", _env.torch_env_int("RANK"), actual_rank)
    _agree("world_size", env_size, actual_size)
    comm = world.Dup()
    comm.Set_errhandler(MPI.ERRORS_RETURN)
    pg = ProcessGroup(comm, range(actual_size), timeout, name, group_name or "0", devices)
    if pg._nccl is not None and device_id is not None:
        # Bound to one device: its communicator is made now, as PyTorch does eagerly.
        pg._nccl.device = _device_index(device_id)
        pg._nccl.comm(pg._nccl.device, "init_process_group")
    _state.default = pg
    _state.groups = [pg]
    _state.counter = 1
    GroupMember.WORLD = pg
    group.WORLD = pg


def default_group():
    if _state.default is None:
        raise ValueError(NOT_INITIALIZED)
    return _state.default


def resolve(group, op=None):
    """The ``ProcessGroup`` for a ``group`` argument, or None when this rank is not in it."""
    pg = default_group()
    if group is None or group is GroupMember.WORLD:
        group = pg
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"expected a ProcessGroup, got {type(group).__name__}")
    if op is not None:
        group.check_usable(op)
    return group


def destroy_process_group(group=None):
    """Destroys ``group``, or every group with the default one when ``group`` is None; the
    default group can then be initialised again."""
    pg = default_group()
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    targets = list(_state.groups) if group is None or group is pg else [group]
    for g in targets:
        if g not in _state.groups:
            raise ValueError("Invalid process group specified")
        if g._broken is None:
            g.drain("destroy_process_group")
            if g._thread is not None:
                g._thread.close()
            if g._nccl is not None:
                g._nccl.destroy()
            g.comm.Free()
        elif g._nccl is not None:
            g._nccl.abort()
        _state.groups.remove(g)
    if group is None or group is pg:
        _state.default = None
        _state.groups = []
        GroupMember.WORLD = None
        globals()["group"].WORLD = None


def get_rank(group=None):
    """This process's rank in ``group`` (the default group when None); -1 outside it."""
    pg = resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    """Number of ranks in ``group``; -1 on a rank outside it."""
    pg = resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    """The backend name of ``group`` (``"mpi"``, ``"nccl"`` or ``"cpu:mpi,cuda:nccl"``)."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg._backend


def get_group_rank(group, global_rank):
    """The rank in ``group`` of the process with rank ``global_rank`` in the default group."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Group is not part of this rank")
    return pg.group_rank(global_rank)


def get_global_rank(group, group_rank):
    """The default-group rank of the process with rank ``group_rank`` in ``group``."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Group is not part of this rank")
    return pg.global_rank(group_rank)


def get_process_group_ranks(group):
    """Default-group ranks of the members of ``group``, in group-rank order."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Group is not part of this rank")
    return list(pg._ranks)


def new_group(
    ranks=None,
    timeout=None,
    backend=None,
    pg_options=None,
    use_local_synchronization=False,
    group_desc=None,
    device_id=None,
):
    """A group of the given default-group ``ranks`` (sorted; all ranks when None).

    Every rank of the default group must call it (only the members with
    ``use_local_synchronization=True``); ranks outside the group get
    ``GroupMember.NON_GROUP_MEMBER``."""
    world = default_group()
    world.check_usable("new_group")
    timeout = world._timeout if timeout is None else _timedelta(timeout)
    if backend is None:
        name, devices = world._backend, None
        if world._nccl is not None:
            devices = {"cuda": Backend.NCCL}
            if world.serves_cpu:
                devices["cpu"] = Backend.MPI
    else:
        name, devices = _check_backend(backend)
    size = world.size()
    ranks = list(range(size)) if ranks is None else sorted(int(r) for r in ranks)
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks must not repeat, got {ranks}")
    for r in ranks:
        if not 0 <= r < size:
            raise ValueError(
                f"new_group: rank {r} is not within the world of {size} ranks set by "
                "init_process_group"
            )
    me = world.rank()
    member = me in ranks
    if use_local_synchronization and not member:
        raise ValueError("new_group with use_local_synchronization=True: this rank is not a member")
    MPI = mpi()
    label = f"{_state.counter}"
    _state.counter += 1
    world.drain("new_group")
    if use_local_synchronization:
        comm = world.comm.Create_group(world.comm.Get_group().Incl(ranks), tag=_state.counter)
    else:
        # A polled barrier first, so that a dead rank is reported before the blocking split.
        wait_requests(
            [world.comm.Ibarrier()],
            _deadline(world),
            world.timeout_s(),
            "new_group",
        )
        comm = world.comm.Split(0 if member else MPI.UNDEFINED, ranks.index(me) if member else 0)
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    comm.Set_errhandler(MPI.ERRORS_RETURN)
    pg = ProcessGroup(comm, ranks, timeout, name, group_desc or label, devices)
    if pg._nccl is not None and world._nccl is not None:
        pg._nccl.device = world._nccl.device
    _state.groups.append(pg)
    return pg


def _deadline(pg):
    import time

    return time.monotonic() + pg.timeout_s()


def is_torchelastic_launched():
    """Whether this process was started by the launcher (``python -m rtorch.distributed.run``
    or torchrun)."""
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None
