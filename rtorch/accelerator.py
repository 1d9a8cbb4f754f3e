"""``rtorch.accelerator``: device-neutral access to the accelerator rtorch was built for.

rtorch's only accelerator backend is CUDA. As in PyTorch, :func:`current_accelerator` names
the accelerator of the build (``device('cuda')`` when rtorch has CUDA support, else None);
pass ``check_available=True`` to also require a usable device. The other functions act on
that accelerator through :mod:`rtorch.cuda` and raise its ``RuntimeError`` (naming the reason)
when no device can be used.
"""

from rtorch import _C

__all__ = [
    "is_available",
    "current_accelerator",
    "device_count",
    "current_device_index",
    "current_device_idx",
    "set_device_index",
    "set_device_idx",
    "synchronize",
    "device_index",
]


def _cuda():
    import rtorch.cuda

    return rtorch.cuda


def _built():
    return bool(_C._cuda_is_built())


def _no_accelerator():
    return RuntimeError("rtorch: no accelerator backend is built in (CUDA support is missing)")


def is_available():
    """Whether an accelerator device can be used now."""
    return _built() and _cuda().is_available()


def current_accelerator(check_available=False):
    """The accelerator of this build as a ``device`` (None without one); with
    ``check_available``, None also when it cannot be used at run time."""
    if not _built():
        return None
    if check_available and not is_available():
        return None
    return _C.device("cuda")


def device_count():
    """Number of usable accelerator devices (0 when none)."""
    return _cuda().device_count() if _built() else 0


def _index_of(device):
    if isinstance(device, int):
        return device
    device = _C.device(device)
    if device.type != "cuda":
        raise ValueError(f"{device} doesn't match the current accelerator cuda.")
    return -1 if device.index is None else device.index


def current_device_index():
    """Index of the current accelerator device."""
    if not _built():
        raise _no_accelerator()
    return _cuda().current_device()


def set_device_index(device):
    """Makes the accelerator device ``device`` (index, string or ``device``) current."""
    if not _built():
        raise _no_accelerator()
    idx = _index_of(device)
    if idx >= 0:
        _cuda().set_device(idx)


def synchronize(device=None):
    """Waits for all work queued on the accelerator device (default: the current one)."""
    if not _built():
        raise _no_accelerator()
    _cuda().synchronize(None if device is None else _index_of(device))


# Older spellings PyTorch keeps as aliases.
current_device_idx = current_device_index
set_device_idx = set_device_index


class device_index:
    """Context manager making an accelerator device current; None does nothing."""

    def __init__(self, device):
        self.idx = device
        self.prev = None

    def __enter__(self):
        if self.idx is not None:
            self.prev = current_device_index()
            if self.prev != self.idx:
                set_device_index(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx is not None and self.prev != self.idx:
            set_device_index(self.prev)
        return False
