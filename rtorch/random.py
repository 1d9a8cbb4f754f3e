"""``rtorch.random``: the default CPU generator's seed and state, and ``fork_rng``.

The state returned by :func:`get_rng_state` is rtorch's own format (an int64 tensor), not
PyTorch's byte layout; it round-trips through :func:`set_rng_state`.
"""

import contextlib

from rtorch import _C

__all__ = [
    "default_generator",
    "fork_rng",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

def _shared_generator():
    # One Python object for the default generator, shared with ``rtorch.default_generator``.
    import rtorch

    return getattr(rtorch, "default_generator", None) or _C._default_generator()


default_generator = _shared_generator()


def manual_seed(seed):
    """Seeds the CPU generator (and every CUDA device's); returns the default generator."""
    _C.manual_seed(int(seed))
    return default_generator


def seed():
    """Seeds the default generator with a non-deterministic number and returns it."""
    return default_generator.seed()


def initial_seed():
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """A copy of the default generator's state (an int64 tensor)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restores a state obtained from :func:`get_rng_state`."""
    if not isinstance(new_state, _C.Tensor):
        raise TypeError(
            f"set_rng_state(): new_state must be a Tensor, not {type(new_state).__name__}"
        )
    if new_state.dtype != _C.int64:
        raise TypeError(
            f"RNG state must be an int64 tensor from rtorch.get_rng_state(), got {new_state.dtype}"
        )
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Saves the CPU generator's state on entry and restores it on exit, so random numbers
    drawn inside the block do not change the sequence seen after it.

    ``devices`` lists the accelerator devices to fork as well. rtorch cannot save a CUDA
    generator's state, so forking CUDA devices raises ``NotImplementedError``; on a machine
    without a usable CUDA device (or with ``devices=[]``) only the CPU generator is forked.
    """
    if not enabled:
        yield
        return
    dev = _C.device(device_type)  # rejects unknown device types with PyTorch's message
    if dev.type not in ("cuda", "cpu"):
        raise NotImplementedError(f"rtorch: fork_rng does not support device type {dev.type!r}")
    if dev.type == "cuda":
        import rtorch.cuda

        wants = list(range(rtorch.cuda.device_count())) if devices is None else list(devices)
        if wants:
            raise NotImplementedError(
                f"rtorch: {_caller} cannot save the state of CUDA generators; pass "
                f"{_devices_kw}=[] to fork only the CPU generator"
            )
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
