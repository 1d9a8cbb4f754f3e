"""CUDA memory statistics (``torch.cuda.memory``).

The backend tracks, per device, the bytes held by live tensors (current and peak) and the
bytes its memory pool reserves (live plus cached). ``memory_stats()`` reports those under
PyTorch's key names:

- ``allocated_bytes.all.current`` / ``allocated_bytes.all.peak``
- ``active_bytes.all.current`` / ``active_bytes.all.peak`` (the same numbers: every live
  block is active)
- ``reserved_bytes.all.current`` / ``reserved_bytes.all.peak``

The pool's peak is not tracked separately: ``reserved_bytes.all.peak`` and
``max_memory_reserved()`` report the larger of the current reservation and the allocation
peak (a lower bound of the true peak). Without CUDA, every statistic reads 0 (and
``memory_stats()`` is empty), as in PyTorch before CUDA is initialised.
"""

import collections

from rtorch import _C

__all__ = [
    "empty_cache",
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
]


def _cuda():
    import rtorch.cuda

    return rtorch.cuda


def empty_cache():
    """Returns cached, unused device memory to the driver (nothing to do without CUDA)."""
    if _cuda().is_available():
        _C._cuda_empty_cache()


def memory_stats_as_nested_dict(device=None):
    """``memory_stats`` as nested dicts (``{"allocated_bytes": {"all": {"current": ...}}}``)."""
    cuda = _cuda()
    if not cuda.is_available():
        return {}
    idx = cuda._get_device_index(device, optional=True)
    allocated, peak, reserved = _C._cuda_memory_stats(idx)
    return {
        "allocated_bytes": {"all": {"current": allocated, "peak": peak}},
        "active_bytes": {"all": {"current": allocated, "peak": peak}},
        "reserved_bytes": {"all": {"current": reserved, "peak": max(reserved, peak)}},
    }


def memory_stats(device=None):
    """Allocator statistics of a device under PyTorch's flat key names (see the module doc)."""
    flat = []

    def walk(prefix, node):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat.append((prefix, node))

    walk("", memory_stats_as_nested_dict(device))
    flat.sort()
    return collections.OrderedDict(flat)


def memory_allocated(device=None):
    """Bytes held by live tensors on the device."""
    return memory_stats(device).get("allocated_bytes.all.current", 0)


def max_memory_allocated(device=None):
    """Peak of :func:`memory_allocated` since start or the last reset."""
    return memory_stats(device).get("allocated_bytes.all.peak", 0)


def memory_reserved(device=None):
    """Bytes the device's memory pool holds (live tensors plus cache)."""
    return memory_stats(device).get("reserved_bytes.all.current", 0)


def max_memory_reserved(device=None):
    """A lower bound of the pool's peak: the larger of the current reservation and the
    allocation peak (the pool's own peak is not tracked)."""
    return memory_stats(device).get("reserved_bytes.all.peak", 0)


def memory_cached(device=None):
    """Deprecated name of :func:`memory_reserved`."""
    return memory_reserved(device)


def max_memory_cached(device=None):
    """Deprecated name of :func:`max_memory_reserved`."""
    return max_memory_reserved(device)


def reset_peak_memory_stats(device=None):
    """Restarts the peak statistics from the current values."""
    cuda = _cuda()
    idx = cuda._get_device_index(device, optional=True)
    _C._cuda_reset_peak(idx)


def reset_max_memory_allocated(device=None):
    """Restarts :func:`max_memory_allocated` from the current value."""
    reset_peak_memory_stats(device)
