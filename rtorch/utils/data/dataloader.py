"""``DataLoader`` (``torch.utils.data.dataloader``): batching, shuffling, worker processes."""

import functools
import itertools
import multiprocessing
import warnings

import rtorch as torch

from . import _pin_memory, _worker
from ._collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _draw_seed

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]

get_worker_info = _worker.get_worker_info


class _MapFetch:
    """Reads a sample (or a batch of samples, through ``__getitems__`` when the dataset
    has it) of a map-style dataset and collates it."""

    def __init__(self, dataset, batched, collate_fn, drop_last):
        self.dataset = dataset
        self.batched = batched
        self.collate_fn = collate_fn

    def fetch(self, key):
        if not self.batched:
            return self.collate_fn(self.dataset[key])
        read_many = getattr(self.dataset, "__getitems__", None)
        if read_many:
            return self.collate_fn(read_many(key))
        return self.collate_fn([self.dataset[k] for k in key])


class _StreamFetch:
    """Pulls samples from an iterable dataset; ``StopIteration`` once it runs dry (or, with
    ``drop_last``, once only a short batch is left)."""

    def __init__(self, dataset, batched, collate_fn, drop_last):
        self.stream = iter(dataset)
        self.batched = batched
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.exhausted = False

    def fetch(self, key):
        if self.exhausted:
            raise StopIteration
        if not self.batched:
            return self.collate_fn(next(self.stream))
        want = len(key)
        samples = list(itertools.islice(self.stream, want))
        self.exhausted = len(samples) < want
        if not samples or (self.exhausted and self.drop_last):
            raise StopIteration
        return self.collate_fn(samples)


class _DatasetKind:
    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        cls = _StreamFetch if kind == _DatasetKind.Iterable else _MapFetch
        return cls(dataset, auto_collation, collate_fn, drop_last)


class _InfiniteConstantSampler(Sampler):
    """Yields None forever: an IterableDataset decides itself when to stop."""

    def __iter__(self):
        return itertools.repeat(None)


# Attributes fixed once the loader is built (changing them would desync the samplers).
_FROZEN = frozenset(
    ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")
)


def _argument_problems(o):
    """What is wrong with the DataLoader arguments ``o`` (a dict), in checking order."""
    workers, prefetch = o["num_workers"], o["prefetch_factor"]
    if workers < 0:
        yield (
            "num_workers option should be non-negative; "
            "use num_workers=0 to disable multiprocessing."
        )
    if o["timeout"] < 0:
        yield "timeout option should be non-negative"
    if workers == 0 and prefetch is not None:
        yield (
            "prefetch_factor option could only be specified in multiprocessing."
            "let num_workers > 0 to enable multiprocessing, otherwise set "
            "prefetch_factor to None."
        )
    if prefetch is not None and prefetch < 0:
        yield "prefetch_factor option should be non-negative"
    if o["persistent_workers"] and workers == 0:
        yield "persistent_workers option needs num_workers > 0"
    if isinstance(o["dataset"], IterableDataset):
        # The dataset orders its samples itself; shuffle=False counts as unspecified.
        for name in ("shuffle", "sampler", "batch_sampler"):
            value = o[name]
            if value is not None and not (name == "shuffle" and not value):
                yield (
                    f"DataLoader with IterableDataset: expected unspecified {name} "
                    f"option, but got {name}={value}"
                )
    has_sampler = o["sampler"] is not None
    if o["shuffle"] and has_sampler:
        yield "sampler option is mutually exclusive with shuffle"
    if o["batch_sampler"] is not None:
        if any((o["batch_size"] != 1, o["shuffle"], has_sampler, o["drop_last"])):
            yield (
                "batch_sampler option is mutually exclusive "
                "with batch_size, shuffle, sampler, and "
                "drop_last"
            )
    elif o["batch_size"] is None and o["drop_last"]:
        yield (
            "batch_size=None option disables auto-batching "
            "and is mutually exclusive with drop_last"
        )


class DataLoader:
    """Combines a dataset and a sampler, and iterates over batches of the dataset.

    Arguments and their validation follow ``torch.utils.data.DataLoader``. With
    ``num_workers > 0`` samples are loaded in worker processes (``fork`` where available).
    """

    _initialized = False

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        for problem in _argument_problems(locals()):
            raise ValueError(problem)
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        iterable = isinstance(dataset, IterableDataset)
        if batch_sampler is not None:
            # It fixes the batches: no batch size of ours, nothing to drop.
            batch_size, drop_last = None, False
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size=batch_size, drop_last=drop_last)
        if collate_fn is None:
            collate_fn = default_convert if batch_sampler is None else default_collate

        self._dataset_kind = _DatasetKind.Iterable if iterable else _DatasetKind.Map
        settings = dict(
            dataset=dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            sampler=sampler,
            batch_sampler=batch_sampler,
            num_workers=num_workers,
            prefetch_factor=prefetch_factor,
            pin_memory=pin_memory,
            pin_memory_device=pin_memory_device,
            timeout=timeout,
            worker_init_fn=worker_init_fn,
            multiprocessing_context=multiprocessing_context,
            generator=generator,
            collate_fn=collate_fn,
            persistent_workers=persistent_workers,
            in_order=in_order,
        )
        for name, value in settings.items():
            setattr(self, name, value)
        self._iterator = None
        self._initialized = True

    def __setattr__(self, attr, val):
        if self._initialized and attr in _FROZEN:
            raise ValueError(
                f"{attr} attribute should not be set after {type(self).__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        # What the iterator draws keys from: whole batches, or single indices.
        return self.sampler if self.batch_sampler is None else self.batch_sampler

    def _get_iterator(self):
        if self.num_workers:
            from ._multiprocess import _MultiProcessingDataLoaderIter as kind
        else:
            kind = _SingleProcessDataLoaderIter
        return kind(self)

    def __iter__(self):
        if not (self.persistent_workers and self.num_workers):
            return self._get_iterator()
        # Persistent workers: one iterator (and its processes) serves every epoch.
        if self._iterator is None:
            self._iterator = self._get_iterator()
        else:
            self._iterator._reset(self)
        return self._iterator

    def __len__(self):
        if self._dataset_kind == _DatasetKind.Map:
            return len(self._index_sampler)
        samples, size = len(self.dataset), self.batch_size
        if size is None:
            return samples
        full, rest = divmod(samples, size)
        return full + (1 if rest and not self.drop_last else 0)

    def _get_context(self):
        ctx = self.multiprocessing_context
        if isinstance(ctx, str):
            return multiprocessing.get_context(ctx)
        if ctx is not None:
            return ctx
        # fork avoids re-importing the user's script in each worker.
        if "fork" in multiprocessing.get_all_start_methods():
            return multiprocessing.get_context("fork")
        return multiprocessing.get_context()


# Loader settings an iterator copies when it starts (as ``_<name>``).
_ITER_SETTINGS = (
    "dataset",
    "_dataset_kind",
    "_auto_collation",
    "_index_sampler",
    "drop_last",
    "num_workers",
    "prefetch_factor",
    "timeout",
    "collate_fn",
    "persistent_workers",
)


class _BaseDataLoaderIter:
    """What both iterators share: the loader's settings, the index stream and the base seed
    (drawn from the loader's generator on every iterator, workers or not, so the generator
    advances the same way in both cases)."""

    def __init__(self, loader):
        self._loader = loader
        for name in _ITER_SETTINGS:
            setattr(self, "_" + name.lstrip("_"), getattr(loader, name))
        self._keys = iter(self._index_sampler)
        self._base_seed = _draw_seed(loader.generator)
        self._num_yielded = 0
        wants_pin = bool(loader.pin_memory)
        self._pin_memory = wants_pin and torch.cuda.is_available()
        if wants_pin and not self._pin_memory:
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, "
                "then device pinned memory won't be used.",
                stacklevel=3,
            )

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._keys = iter(self._index_sampler)
        self._num_yielded = 0

    def _next_index(self):
        return next(self._keys)

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        batch = self._next_data()
        if self._pin_memory:
            batch = _pin_memory.pin_memory(batch)
        self._num_yielded += 1
        return batch

    def __len__(self):
        return len(self._index_sampler)

    def _fetcher_factory(self):
        """A picklable callable making a fresh fetcher (workers make theirs from it)."""
        return functools.partial(
            _DatasetKind.create_fetcher,
            self._dataset_kind,
            self._dataset,
            self._auto_collation,
            self._collate_fn,
            self._drop_last,
        )


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._dataset_fetcher = self._fetcher_factory()()

    def _next_data(self):
        return self._dataset_fetcher.fetch(self._next_index())
