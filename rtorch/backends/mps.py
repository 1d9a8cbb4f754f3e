"""``rtorch.backends.mps``: Apple's Metal backend, which rtorch does not have."""

__all__ = ["is_available", "is_built", "is_macos13_or_newer", "is_macos_or_newer"]


def is_built():
    """False: rtorch is not built with MPS support."""
    return False


def is_available():
    """False: rtorch cannot run on MPS devices."""
    return False


def is_macos_or_newer(major, minor):
    """Only meaningful with MPS; False here."""
    return False


def is_macos13_or_newer(minor=0):
    return False
