"""Dataset classes and ``random_split`` (``torch.utils.data.dataset``)."""

import bisect
import itertools
import math
import warnings

import rtorch as torch

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "StackDataset",
    "ConcatDataset",
    "ChainDataset",
    "Subset",
    "random_split",
]


def _unimplemented(owner, method):
    return NotImplementedError(f"Subclasses of {owner} should implement {method}.")


class Dataset:
    """A map-style dataset: subclasses implement ``__getitem__`` (and usually ``__len__``)."""

    def __getitem__(self, index):
        raise _unimplemented("Dataset", "__getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])

    def __class_getitem__(cls, item):
        # Allows annotations such as Dataset[Tensor].
        return cls


class IterableDataset(Dataset):
    """A dataset that is an iterable of samples; subclasses implement ``__iter__``."""

    def __iter__(self):
        raise _unimplemented("IterableDataset", "__iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Sample ``i`` is the tuple of row ``i`` of every tensor."""

    def __init__(self, *tensors):
        rows = {t.shape[0] for t in tensors}
        assert len(rows) <= 1, "Size mismatch between tensors"
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


def _common_length(parts):
    sizes = {len(p) for p in parts}
    if len(sizes) != 1:
        raise ValueError("Size mismatch between datasets")
    return sizes.pop()


class StackDataset(Dataset):
    """Sample ``i`` joins the ``i``-th samples of several datasets: a tuple for positional
    datasets, a dict for keyword ones."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError(
                "Supported either ``tuple``- (via ``args``) or"
                "``dict``- (via ``kwargs``) like input/output, but both types are given."
            )
        if not (args or kwargs):
            raise ValueError("At least one dataset should be passed")
        self.datasets = args or kwargs
        self._length = _common_length(args or list(kwargs.values()))

    def __getitem__(self, index):
        parts = self.datasets
        if isinstance(parts, dict):
            return {name: part[index] for name, part in parts.items()}
        return tuple(part[index] for part in parts)

    def __len__(self):
        return self._length


class ConcatDataset(Dataset):
    """Map-style datasets one after another."""

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(part) for part in sequence))

    def __init__(self, datasets):
        parts = list(datasets)
        assert parts, "datasets should not be an empty iterable"
        for part in parts:
            assert not isinstance(part, IterableDataset), (
                "ConcatDataset does not support IterableDataset"
            )
        self.datasets = parts
        self.cumulative_sizes = self.cumsum(parts)

    @property
    def cummulative_sizes(self):
        warnings.warn(
            "cummulative_sizes attribute is renamed to cumulative_sizes",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.cumulative_sizes

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        total = len(self)
        if idx < 0:
            if idx < -total:
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += total
        # Which part holds idx, and where that part starts.
        part = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][idx - start]


def _chain_parts(datasets):
    for part in datasets:
        assert isinstance(part, IterableDataset), "ChainDataset only supports IterableDataset"
        yield part


class ChainDataset(IterableDataset):
    """Iterable datasets one after another."""

    def __init__(self, datasets):
        super().__init__()
        self.datasets = datasets

    def __iter__(self):
        for part in _chain_parts(self.datasets):
            yield from part

    def __len__(self):
        return sum(len(part) for part in _chain_parts(self.datasets))


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def _outer(self, positions):
        return [self.indices[p] for p in positions]

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[self._outer(idx)]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        outer = self._outer(indices)
        many = getattr(self.dataset, "__getitems__", None)
        if callable(many):
            return many(outer)
        return [self.dataset[i] for i in outer]

    def __len__(self):
        return len(self.indices)


def _sizes_from_fractions(fractions, total):
    """Floor of each share, then the leftover items one each to the splits in turn."""
    for position, share in enumerate(fractions):
        if not 0 <= share <= 1:
            raise ValueError(f"Fraction at index {position} is not between 0 and 1")
    sizes = [math.floor(total * share) for share in fractions]
    for extra in range(total - sum(sizes)):
        sizes[extra % len(sizes)] += 1
    for position, size in enumerate(sizes):
        if size == 0:
            warnings.warn(
                f"Length of split at index {position} is 0. "
                "This might result in an empty dataset.",
                stacklevel=3,
            )
    return sizes


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets.

    ``lengths`` are either sizes summing to ``len(dataset)`` or fractions summing to 1
    (floors first, the remainder handed out round-robin). ``generator=None`` uses the
    default generator, which ``manual_seed`` seeds.
    """
    requested = sum(lengths)
    if requested <= 1 and math.isclose(requested, 1):
        lengths = _sizes_from_fractions(lengths, len(dataset))
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = torch.randperm(sum(lengths), generator=generator).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - size : end]) for end, size in zip(ends, lengths)]
