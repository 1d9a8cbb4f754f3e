"""``rtorch.backends.cudnn``: cuDNN is not used by rtorch; its switches exist so scripts
that set them run unchanged (they have no effect)."""

__all__ = ["is_available", "version", "enabled", "benchmark", "deterministic", "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """False: rtorch does not use cuDNN."""
    return False


def version():
    return None
