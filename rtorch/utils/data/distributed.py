"""``DistributedSampler`` (``torch.utils.data.distributed``): each process of a data-parallel
job reads its own share of a map-style dataset."""

import importlib
import math

import rtorch as torch

from .sampler import Sampler

__all__ = ["DistributedSampler"]

_UNAVAILABLE = "Requires distributed package to be available"
_NO_GROUP = (
    "Default process group has not been initialized, please make sure to call init_process_group."
)


def _group_size_and_rank(num_replicas, rank):
    """Fills the missing one of (world size, rank) from the default process group."""
    try:
        dist = importlib.import_module("rtorch.distributed")
    except ImportError:
        dist = None
    if dist is not None and hasattr(dist, "is_available") and not dist.is_available():
        raise RuntimeError(_UNAVAILABLE)
    initialised = getattr(dist, "is_initialized", None)
    if dist is None or initialised is None or not initialised():
        raise ValueError(_NO_GROUP)
    if num_replicas is None:
        num_replicas = dist.get_world_size()
    if rank is None:
        rank = dist.get_rank()
    return num_replicas, rank


def _repeat_to(indices, total):
    """``indices`` lengthened to ``total`` by repeating it from the start (whole copies as
    often as needed, then a prefix)."""
    short = total - len(indices)
    if short <= 0 or not indices:
        return indices
    copies = math.ceil(short / len(indices))
    return indices + (indices * copies)[:short]


class DistributedSampler(Sampler):
    """Indices ``rank, rank + num_replicas, ...`` of the (optionally shuffled) dataset order.

    The order is padded by repeating indices from its start until every replica gets the
    same number, or with ``drop_last`` the tail that does not divide evenly is dropped.
    Shuffling uses a generator seeded with ``seed + epoch``: every replica must use the same
    ``seed`` and call :meth:`set_epoch` before each epoch to get a new order.
    """

    def __init__(
        self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False
    ):
        if num_replicas is None or rank is None:
            num_replicas, rank = _group_size_and_rank(num_replicas, rank)
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        size = len(dataset)
        if drop_last and size % num_replicas:
            # Whole rounds only: every replica gets floor(size / num_replicas).
            self.num_samples = math.ceil((size - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(size / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _order(self):
        size = len(self.dataset)
        if not self.shuffle:
            return list(range(size))
        gen = torch.Generator()
        gen.manual_seed(self.seed + self.epoch)
        return torch.randperm(size, generator=gen).tolist()

    def __iter__(self):
        order = self._order()
        if self.drop_last:
            order = order[: self.total_size]
        else:
            order = _repeat_to(order, self.total_size)
        assert len(order) == self.total_size
        mine = order[self.rank : self.total_size : self.num_replicas]
        assert len(mine) == self.num_samples
        return iter(mine)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Sets the epoch that, with ``seed``, picks the shuffled order."""
        self.epoch = epoch
