"""TensorBoard logging (``torch.utils.tensorboard``): ``SummaryWriter``.

Needs the ``tensorboard`` package: ``pip install 'rtorch[tensorboard]'``. View the logs with
``tensorboard --logdir runs``.
"""

try:
    import tensorboard  # noqa: F401
except ImportError as e:
    raise ImportError(
        "rtorch.utils.tensorboard needs the 'tensorboard' package; install it with "
        "pip install 'rtorch[tensorboard]' (or pip install tensorboard)"
    ) from e

from .writer import FileWriter, SummaryWriter

__all__ = ["SummaryWriter", "FileWriter"]
