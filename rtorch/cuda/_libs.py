"""Finds the CUDA libraries shipped as pip wheels and loads them before ``rtorch._C`` needs
them.

The CUDA backend opens NVRTC and cuBLAS by their bare sonames (``libnvrtc.so.13``, ...).
The ``nvidia-cuda-nvrtc`` and ``nvidia-cublas`` wheels put those files inside
site-packages (``nvidia/cu13/lib`` for CUDA 13; older wheels used one folder per library,
e.g. ``nvidia/cuda_nvrtc/lib``), where the dynamic loader does not look. Loading them here
with ``RTLD_GLOBAL`` makes later ``dlopen`` calls by soname find the copies already loaded,
so no ``LD_LIBRARY_PATH`` is needed.

Everything here is file-system checks plus ``ctypes.CDLL``; nothing raises.
"""

import ctypes
import importlib.util
import os
import threading

__all__ = ["preload", "preload_nccl", "lib_dirs", "include_dirs"]

# Load order matters: each library's dependencies come first.
_LIBRARIES = (
    ("nvrtc-builtins", "libnvrtc-builtins.so.13.0"),
    ("nvrtc", "libnvrtc.so.13"),
    ("cublasLt", "libcublasLt.so.13"),
    ("cublas", "libcublas.so.13"),
)

# Folders inside an ``nvidia`` package root searched first (newest layout first); any other
# folder with a ``lib`` (or ``include``) inside is searched after them.
_SUBDIRS = ("cu13", "cuda_nvrtc", "cublas", "cuda_runtime", "nccl")

# NCCL (``nvidia-nccl-cu13``: ``nvidia/nccl/lib``) is large and only the distributed backend
# needs it, so it is loaded on first use by :func:`preload_nccl`, not at import.
_NCCL = "libnccl.so.2"

_lock = threading.Lock()
_result = None
_nccl_result = []  # [path or None] once looked for
_handles = []  # keeps the loaded libraries referenced


def _nvidia_roots():
    """The folders of the ``nvidia`` namespace package (one per site-packages holding it)."""
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [p for p in spec.submodule_search_locations if os.path.isdir(p)]


def _dirs(kind):
    out = []
    for root in _nvidia_roots():
        try:
            others = sorted(set(os.listdir(root)) - set(_SUBDIRS))
        except OSError:
            others = []
        for sub in list(_SUBDIRS) + others:
            d = os.path.join(root, sub, kind)
            if os.path.isdir(d) and d not in out:
                out.append(d)
    return out


def lib_dirs():
    """Folders of the CUDA wheels' shared libraries, in search order."""
    return _dirs("lib")


def include_dirs():
    """Folders of the CUDA wheels' headers (``cuda_fp16.h`` etc. come with the runtime wheel)."""
    return _dirs("include")


def _find(filename, dirs):
    for d in dirs:
        path = os.path.join(d, filename)
        if os.path.isfile(path):
            return path
    return None


def preload():
    """Loads the wheels' NVRTC and cuBLAS libraries once (dependencies first).

    Returns ``{name: path or None}``: the path of each library loaded, None for one not
    installed or not loadable. Later calls return the first result. Never raises.
    """
    global _result
    with _lock:
        if _result is not None:
            return dict(_result)
        result = {}
        try:
            dirs = lib_dirs()
        except Exception:  # a broken site-packages must not break `import rtorch`
            dirs = []
        mode = getattr(os, "RTLD_GLOBAL", 0) | getattr(os, "RTLD_NOW", 0)
        for name, filename in _LIBRARIES:
            path = _find(filename, dirs)
            if path is not None:
                try:
                    _handles.append(ctypes.CDLL(path, mode=mode))
                except OSError:
                    path = None
            result[name] = path
        _result = result
        return dict(result)


def preload_nccl():
    """Loads the wheel's ``libnccl.so.2`` once, so that the NCCL backend's ``dlopen`` by that
    soname finds it. Returns its path, or None when the wheel is not installed (a system
    copy on the loader's path may still be found later). Never raises."""
    with _lock:
        if _nccl_result:
            return _nccl_result[0]
        try:
            path = _find(_NCCL, lib_dirs())
        except Exception:
            path = None
        if path is not None:
            mode = getattr(os, "RTLD_GLOBAL", 0) | getattr(os, "RTLD_NOW", 0)
            try:
                _handles.append(ctypes.CDLL(path, mode=mode))
            except OSError:
                path = None
        _nccl_result.append(path)
        return path
