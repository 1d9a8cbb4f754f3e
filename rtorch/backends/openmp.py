"""``rtorch.backends.openmp``: rtorch's CPU parallelism uses its own thread pool, not OpenMP
(``rtorch.set_num_threads`` sizes it)."""

__all__ = ["is_available"]


def is_available():
    """False: rtorch is not built with OpenMP."""
    return False
