"""Names shared by the whole package: reduction operators, backend names, the error
hierarchy and the default timeout (``torch.distributed``'s public constants)."""

import enum
from datetime import timedelta

__all__ = [
    "Backend",
    "DistBackendError",
    "DistError",
    "DistNetworkError",
    "DistStoreError",
    "ReduceOp",
    "default_pg_timeout",
]

# PyTorch's default for every backend: 30 minutes.
default_pg_timeout = timedelta(minutes=30)

NOT_INITIALIZED = (
    "Default process group has not been initialized, please make sure to call init_process_group."
)


class DistError(RuntimeError):
    """Raised when a distributed operation fails."""


class DistBackendError(DistError):
    """Raised when the communication backend fails (a peer died, a timeout, bad arguments
    that only the collective could detect)."""


class DistStoreError(DistError):
    """Raised for rendezvous/store failures."""


class DistNetworkError(DistError):
    """Raised for network failures."""


class _RedOpType(enum.IntEnum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8
    UNUSED = 9


class ReduceOp:
    """Reduction operators: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``,
    ``BAND``, ``BOR``, ``BXOR``. Members are ``ReduceOp.RedOpType`` values; ``ReduceOp(op)``
    wraps one."""

    RedOpType = _RedOpType
    SUM = _RedOpType.SUM
    AVG = _RedOpType.AVG
    PRODUCT = _RedOpType.PRODUCT
    MIN = _RedOpType.MIN
    MAX = _RedOpType.MAX
    BAND = _RedOpType.BAND
    BOR = _RedOpType.BOR
    BXOR = _RedOpType.BXOR
    PREMUL_SUM = _RedOpType.PREMUL_SUM
    UNUSED = _RedOpType.UNUSED

    def __init__(self, op=_RedOpType.SUM):
        self.op = _op_type(op)

    def __eq__(self, other):
        try:
            return self.op == _op_type(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.op)

    def __repr__(self):
        return f"<ReduceOp.{self.op.name}>"


def _op_type(op):
    """The ``RedOpType`` of ``op`` (a ``RedOpType``, a ``ReduceOp`` or its integer value)."""
    if isinstance(op, ReduceOp):
        return op.op
    if isinstance(op, bool) or not isinstance(op, int):
        raise TypeError(f"expected a ReduceOp, got {type(op).__name__}")
    return _RedOpType(op)


class Backend(str):
    """A backend name, lower-cased and validated: ``Backend("MPI") == "mpi"``."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    backend_list = [UNDEFINED, GLOO, NCCL, UCC, MPI]

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, got {name!r}")
        value = getattr(Backend, name.upper(), Backend.UNDEFINED)
        if value == Backend.UNDEFINED:
            value = name.lower()
        return str.__new__(cls, value)
