"""``rtorch.nn.parallel``: ``DistributedDataParallel`` (over ``rtorch.distributed``)."""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
