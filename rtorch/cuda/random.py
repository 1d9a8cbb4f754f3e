"""Seeds of the CUDA generators (``torch.cuda.random``).

Each device has its own generator. Seeding works without a device (nothing to seed then,
as in PyTorch); ``rtorch.manual_seed`` seeds every device too.
"""

import random as _pyrandom

from rtorch import _C

__all__ = ["initial_seed", "manual_seed", "manual_seed_all", "seed", "seed_all"]


def _current_index():
    import rtorch.cuda

    try:
        return rtorch.cuda.current_device()
    except RuntimeError:
        return 0  # no device yet: the seed waits for device 0


def manual_seed(seed):
    """Seeds the generator of the current device."""
    _C._cuda_manual_seed(_current_index(), int(seed))


def manual_seed_all(seed):
    """Seeds the generators of all devices."""
    _C._cuda_manual_seed_all(int(seed))


def seed():
    """Seeds the current device's generator with a random number."""
    manual_seed(_pyrandom.getrandbits(63))


def seed_all():
    """Seeds all devices' generators with one random number."""
    manual_seed_all(_pyrandom.getrandbits(63))


def initial_seed():
    """The seed of the current device's generator (raises without CUDA)."""
    import rtorch.cuda

    return _C._cuda_initial_seed(rtorch.cuda.current_device())
