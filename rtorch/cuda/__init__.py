"""``rtorch.cuda``: CUDA devices, as ``torch.cuda`` presents them.

Importing this module never touches a GPU; CUDA is initialised on first use. Without a usable
device, :func:`is_available` is False, :func:`device_count` is 0, seeding and
:func:`empty_cache` do nothing, the memory statistics read 0, and everything that needs a
device raises ``RuntimeError`` saying why ("Torch not compiled with CUDA enabled" in builds
without the ``cuda`` feature, a missing-driver message otherwise).

The backend runs all work of a device on one stream, in order: :class:`Stream` objects all
stand for that stream, so waiting on one (``synchronize``) waits for the device's work, and
ordering between streams of one device holds by construction.
"""

import contextlib
import functools
import threading

from rtorch import _C
from rtorch._checks import require
from rtorch.cuda import _libs

OutOfMemoryError = _C.OutOfMemoryError

_initialized = False
_init_lock = threading.Lock()


def is_available():
    """Whether a CUDA device can be used (False in builds without CUDA support). Never raises."""
    _libs.preload()
    try:
        return bool(_C._cuda_is_available())
    except Exception:
        return False


def device_count():
    """Number of usable CUDA devices (0 without CUDA)."""
    if not is_available():
        return 0
    return int(_C._cuda_device_count())


def is_initialized():
    """Whether CUDA state has been initialised in this process (by :func:`init` or a call
    that needs a device)."""
    return _initialized


def _lazy_init():
    global _initialized
    if _initialized:
        return
    with _init_lock:
        if _initialized:
            return
        _libs.preload()
        _C._cuda_current_device()  # raises with the reason when CUDA cannot be used
        _initialized = True


def init():
    """Initialises CUDA state; raises ``RuntimeError`` when CUDA is unavailable."""
    _lazy_init()


def _get_device_index(device, optional=False):
    """The CUDA device index named by an int, a string or a ``torch.device``; with
    ``optional``, a device without an index (or None) means the current device."""
    if isinstance(device, (str, _C.device)):
        device = _C.device(device)
        require(
            device.type == "cuda",
            ValueError,
            lambda: f"Expected a cuda device, but got: {device}",
        )
        device = device.index
    if device is None:
        require(
            optional,
            ValueError,
            "Expected a torch.device with a specified index or an integer, but got:None",
        )
        return current_device()
    require(
        isinstance(device, int) and not isinstance(device, bool),
        ValueError,
        lambda: f"Expected a torch.device or an integer, but got: {device!r}",
    )
    return device


def _existing_index(device):
    """Index of an existing device named by ``device`` (None: the current one)."""
    _lazy_init()
    idx = current_device() if device is None else _get_device_index(device, optional=True)
    require(0 <= idx < device_count(), AssertionError, "Invalid device id")
    return idx


def current_device():
    """Index of the current CUDA device of this thread."""
    _lazy_init()
    return int(_C._cuda_current_device())


def set_device(device):
    """Makes ``device`` current for this thread (a negative index does nothing)."""
    idx = _get_device_index(device)
    if idx >= 0:
        _lazy_init()
        _C._cuda_set_device(idx)


class device:
    """Context manager that makes a device current (no-op for None or a negative index)."""

    def __init__(self, device):
        self.idx = _get_device_index(device, optional=True) if device is not None else -1
        self.prev_idx = -1

    def __enter__(self):
        if self.idx < 0:
            return self
        self.prev_idx = current_device()
        if self.prev_idx != self.idx:
            _C._cuda_set_device(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx >= 0 and self.prev_idx != self.idx:
            _C._cuda_set_device(self.prev_idx)
        return False


class device_of(device):
    """Context manager that makes the device of a tensor current (no-op for CPU tensors)."""

    def __init__(self, obj):
        super().__init__(obj.get_device() if obj.is_cuda else -1)


class _CudaDeviceProperties:
    """What ``get_device_properties`` reports about a device."""

    __slots__ = ("name", "major", "minor", "total_memory")

    def __init__(self, name, major, minor, total_memory):
        self.name = name
        self.major = major
        self.minor = minor
        self.total_memory = total_memory

    def __repr__(self):
        return (
            f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
            f"minor={self.minor}, total_memory={self.total_memory // (1024 * 1024)}MB)"
        )


@functools.lru_cache(maxsize=None)
def _properties_of(idx):
    # A device's properties do not change during the process: queried once per index.
    return _CudaDeviceProperties(*_C._cuda_get_device_properties(idx))


def get_device_properties(device=None):
    return _properties_of(_existing_index(device))


def get_device_name(device=None):
    """The device's name, e.g. 'NVIDIA H200'."""
    return _properties_of(_existing_index(device)).name


def get_device_capability(device=None):
    """The device's compute capability as ``(major, minor)``."""
    props = _properties_of(_existing_index(device))
    return props.major, props.minor


def synchronize(device=None):
    """Waits until all work queued on the device has finished."""
    _lazy_init()
    _C._cuda_synchronize(_get_device_index(device, optional=True))


_compile_logs = {}


def _compile_check(arch="sm_90"):
    """Compiles every CUDA kernel with NVRTC for ``arch`` (no GPU needed):
    ``[(family, log)]``. The result of a build never changes, so each arch compiles once."""
    if arch not in _compile_logs:
        _libs.preload()
        _compile_logs[arch] = _C._cuda_compile_check(arch)
    return list(_compile_logs[arch])


from rtorch.cuda.memory import (  # noqa: E402
    empty_cache,
    max_memory_allocated,
    max_memory_cached,
    max_memory_reserved,
    memory_allocated,
    memory_cached,
    memory_reserved,
    memory_stats,
    memory_stats_as_nested_dict,
    reset_max_memory_allocated,
    reset_peak_memory_stats,
)
from rtorch.cuda.random import (  # noqa: E402
    initial_seed,
    manual_seed,
    manual_seed_all,
    seed,
    seed_all,
)
from rtorch.cuda.streams import Event, Stream  # noqa: E402
from rtorch.cuda.streams import current_stream, default_stream  # noqa: E402
from rtorch.cuda import memory, random, streams  # noqa: E402


@contextlib.contextmanager
def stream(stream):
    """Selects ``stream`` (and its device) inside the block; None selects nothing."""
    if stream is None:
        yield
        return
    with device(stream.device_index):
        yield


__all__ = [
    "Event",
    "OutOfMemoryError",
    "Stream",
    "current_device",
    "current_stream",
    "default_stream",
    "device",
    "device_count",
    "device_of",
    "empty_cache",
    "get_device_capability",
    "get_device_name",
    "get_device_properties",
    "init",
    "initial_seed",
    "is_available",
    "is_initialized",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "max_memory_cached",
    "max_memory_reserved",
    "memory_allocated",
    "memory_cached",
    "memory_reserved",
    "memory_stats",
    "memory_stats_as_nested_dict",
    "reset_max_memory_allocated",
    "reset_peak_memory_stats",
    "seed",
    "seed_all",
    "set_device",
    "stream",
    "synchronize",
]
