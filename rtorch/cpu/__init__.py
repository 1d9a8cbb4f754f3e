"""``torch.cpu``: the host as a device, as ``torch.cpu`` presents it (work on it runs
synchronously, so there is nothing to wait for), and its ``amp`` spellings."""

__all__ = ["is_available", "device_count", "current_device", "synchronize", "amp"]


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """Returns at once: CPU ops have finished when they return."""


from rtorch.cpu import amp  # noqa: E402
