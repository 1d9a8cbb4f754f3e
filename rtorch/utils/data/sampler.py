"""Samplers (``torch.utils.data.sampler``): iterables over dataset indices."""

import rtorch as torch

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]

# Draws with replacement are made in blocks of this many indices.
_REPLACEMENT_BLOCK = 32


def _draw_seed(generator=None):
    """One 64-bit seed drawn from ``generator`` (the default generator when None), as a
    full-range ``random_()`` on a 0-d int64 tensor."""
    scalar = torch.empty((), dtype=torch.int64)
    return int(scalar.random_(generator=generator).item())


# Kept under its former name for callers that import it.
_random_seed = _draw_seed


def _is_count(value, allow_bool=False):
    """True for a positive int (bools only when ``allow_bool``)."""
    if isinstance(value, bool) and not allow_bool:
        return False
    return isinstance(value, int) and value > 0


def _require(ok, error, name, value, kind):
    if not ok:
        raise error(f"{name} should be a {kind} value, but got {name}={value}")


class Sampler:
    """Base class: subclasses implement ``__iter__`` (and ``__len__`` when known)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError

    def __class_getitem__(cls, item):
        return cls


class SequentialSampler(Sampler):
    """Indices ``0 .. len(data_source) - 1`` in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        yield from range(len(self))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: whole permutations (the last one cut short), or ``num_samples``
    independent draws when ``replacement``."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _require(isinstance(replacement, bool), TypeError, "replacement", replacement, "boolean")
        count = self.num_samples
        _require(_is_count(count, True), ValueError, "num_samples", count, "positive integer")

    @property
    def num_samples(self):
        # Follows the data source when not fixed: its size may change between epochs.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _stream(self):
        if self.generator is not None:
            return self.generator
        # A private generator seeded from the default one: reproducible under manual_seed.
        private = torch.Generator()
        private.manual_seed(_draw_seed())
        return private

    def __iter__(self):
        n, wanted = len(self.data_source), self.num_samples
        gen = self._stream()
        if self.replacement:
            whole, rest = divmod(wanted, _REPLACEMENT_BLOCK)
            for size in [_REPLACEMENT_BLOCK] * whole + [rest]:
                drawn = torch.randint(0, n, (size,), dtype=torch.int64, generator=gen)
                yield from drawn.tolist()
            return
        # One permutation more than the full ones is always drawn (it may be cut to nothing),
        # so the generator advances the same way whatever the remainder.
        whole, rest = divmod(wanted, n)
        for round_no in range(whole + 1):
            order = torch.randperm(n, generator=gen).tolist()
            yield from (order if round_no < whole else order[:rest])

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in random order, without replacement."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = torch.randperm(len(self), generator=self.generator)
        return (self.indices[k] for k in order.tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices ``0 .. len(weights) - 1`` drawn with the given (unnormalised) weights."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _require(_is_count(num_samples), ValueError, "num_samples", num_samples, "positive integer")
        _require(isinstance(replacement, bool), ValueError, "replacement", replacement, "boolean")
        table = torch.as_tensor(weights, dtype=torch.float64)
        if table.dim() != 1:
            raise ValueError(
                "weights should be a 1d sequence but given weights have shape "
                f"{tuple(table.shape)}"
            )
        self.weights = table
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        count, gen = len(self), self.generator
        yield from torch.multinomial(self.weights, count, self.replacement, generator=gen).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; a short final group
    is kept unless ``drop_last``."""

    def __init__(self, sampler, batch_size, drop_last):
        _require(_is_count(batch_size), ValueError, "batch_size", batch_size, "positive integer")
        _require(isinstance(drop_last, bool), ValueError, "drop_last", drop_last, "boolean")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        group = []
        for index in self.sampler:
            group.append(index)
            if len(group) == self.batch_size:
                yield group
                group = []
        if group and not self.drop_last:
            yield group

    def __len__(self):
        full, partial = divmod(len(self.sampler), self.batch_size)
        return full + (1 if partial and not self.drop_last else 0)
