"""``rtorch.backends.mkl``: Intel MKL, which rtorch's CPU kernels do not use."""

__all__ = ["is_available"]


def is_available():
    """False: rtorch is not built with MKL."""
    return False
