"""``rtorch.backends.mkldnn``: oneDNN (MKL-DNN), which rtorch's CPU kernels do not use.

``enabled`` is kept as a setting programs may toggle; it has no effect.
"""

__all__ = ["is_available", "enabled"]

enabled = True


def is_available():
    """False: rtorch is not built with oneDNN."""
    return False
