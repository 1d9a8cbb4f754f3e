"""``rtorch.cuda``: this build runs on the CPU; CUDA reports unavailable."""


def is_available():
    return False


def device_count():
    return 0


def _unavailable(*_a, **_k):
    raise RuntimeError("Torch not compiled with CUDA enabled: CUDA not available in this build of rtorch")


current_device = _unavailable
set_device = _unavailable
synchronize = _unavailable
get_device_name = _unavailable


def manual_seed(seed):
    """No-op without CUDA, as in PyTorch."""


def manual_seed_all(seed):
    """No-op without CUDA, as in PyTorch."""


def is_initialized():
    return False


def empty_cache():
    """No-op without CUDA."""
