"""utils.data: datasets, samplers, default_collate and DataLoader (with worker processes)."""

import collections
import math

import numpy as np
import pytest

import rtorch as torch
from rtorch.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)


def values(t):
    return t.tolist()


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": float(i), "y": i * i, "name": f"s{i}", "arr": np.full(2, i, np.float32)}


class Range(IterableDataset):
    """Yields start..end-1, split between workers as PyTorch's docs recommend."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def __len__(self):
        return self.end - self.start

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            lo, hi = self.start, self.end
        else:
            per = int(math.ceil((self.end - self.start) / info.num_workers))
            lo = self.start + info.id * per
            hi = min(lo + per, self.end)
        return iter(range(lo, hi))


# datasets ----------------------------------------------------------------------------


def test_tensor_dataset():
    xs = torch.tensor([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])
    ys = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])
    ds = TensorDataset(xs, ys)
    assert len(ds) == 5
    a, b = ds[3]
    assert values(a) == [6, 7] and b.item() == 3.0
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(xs, torch.tensor([1.0]))


def test_concat_subset_and_add():
    a, b = Squares(3), Squares(4)
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    assert [cat[i]["y"] for i in range(7)] == [0, 1, 4, 0, 1, 4, 9]
    assert cat[-1]["y"] == 9 and cat[-7]["y"] == 0
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-8]
    sub = Subset(b, [3, 1])
    assert len(sub) == 2 and sub[0]["y"] == 9 and sub[1]["y"] == 1


def test_random_split_lengths_fractions_and_reproducibility():
    ds = Squares(10)
    g = torch.Generator()
    g.manual_seed(42)
    parts = random_split(ds, [3, 7], generator=g)
    assert [len(p) for p in parts] == [3, 7]
    idx = sorted(parts[0].indices + parts[1].indices)
    assert idx == list(range(10))
    g.manual_seed(42)
    again = random_split(ds, [3, 7], generator=g)
    assert again[0].indices == parts[0].indices
    # fractions: floor each, hand out the remainder round-robin
    assert [len(p) for p in random_split(ds, [0.25, 0.25, 0.5])] == [3, 2, 5]
    assert [len(p) for p in random_split(Squares(11), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    torch.manual_seed(0)
    first = random_split(ds, [5, 5])[0].indices
    torch.manual_seed(0)
    assert random_split(ds, [5, 5])[0].indices == first


# samplers ----------------------------------------------------------------------------


def test_sequential_and_batch_sampler():
    seq = SequentialSampler(range(7))
    assert list(seq) == list(range(7)) and len(seq) == 7
    bs = BatchSampler(seq, 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    bs = BatchSampler(seq, 3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(seq, 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(seq, 2, 1)


def test_random_sampler():
    g = torch.Generator()
    g.manual_seed(1)
    rs = RandomSampler(range(20), generator=g)
    perm = list(rs)
    assert sorted(perm) == list(range(20)) and len(rs) == 20
    g.manual_seed(1)
    assert list(rs) == perm
    more = RandomSampler(range(5), num_samples=12, generator=g)
    got = list(more)
    assert len(got) == 12 and sorted(got[:10]) == sorted(list(range(5)) * 2)
    with_repl = RandomSampler(range(5), replacement=True, num_samples=70, generator=g)
    got = list(with_repl)
    assert len(got) == 70 and all(0 <= i < 5 for i in got)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler([], generator=g)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_and_weighted_samplers():
    g = torch.Generator()
    g.manual_seed(3)
    srs = SubsetRandomSampler([10, 20, 30, 40], generator=g)
    assert sorted(srs) == [10, 20, 30, 40] and len(srs) == 4
    wrs = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 50, generator=g)
    got = list(wrs)
    assert len(got) == 50 and set(got) <= {1, 3}
    no_repl = list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=g))
    assert sorted(no_repl) == [0, 1, 2]
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], 0)


# collate -----------------------------------------------------------------------------


def test_default_collate_types():
    batch = default_collate([1, 2, 3])
    assert batch.dtype == torch.int64 and values(batch) == [1, 2, 3]
    batch = default_collate([1.5, 2.5])
    assert batch.dtype == torch.float64  # Python floats collate to float64, as in PyTorch
    assert default_collate(["a", "b"]) == ["a", "b"]
    batch = default_collate([np.array([1, 2], np.int32), np.array([3, 4], np.int32)])
    assert batch.dtype == torch.int32 and values(batch) == [[1, 2], [3, 4]]
    batch = default_collate([np.float32(1.0), np.float32(2.0)])
    assert batch.dtype == torch.float32
    batch = default_collate([True, False])
    assert batch.dtype == torch.bool
    stacked = default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
    assert tuple(stacked.shape) == (2, 2) and values(stacked) == [[1.0, 2.0], [3.0, 4.0]]


def test_default_collate_containers():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(out, Point) and values(out.x) == [1, 3] and values(out.y) == [2.0, 4.0]
    out = default_collate([(1, "a"), (2, "b")])
    assert isinstance(out, list) and values(out[0]) == [1, 2] and out[1] == ("a", "b")
    out = default_collate([{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}])
    assert values(out["a"]) == [1, 2]
    assert [values(t) for t in out["b"]] == [[1.0, 3.0], [2.0, 4.0]]
    od = default_collate([collections.OrderedDict(z=1, a=2)] * 2)
    assert isinstance(od, collections.OrderedDict) and list(od) == ["z", "a"]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError):
        default_collate([np.array(["a"]), np.array(["b"])])


# DataLoader --------------------------------------------------------------------------


def test_dataloader_batching_and_len():
    ds = TensorDataset(torch.arange(10))
    dl = DataLoader(ds, batch_size=4)
    batches = [values(b[0]) for b in dl]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(dl) == 3
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert [values(b[0]) for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dl) == 2
    dl = DataLoader(ds, batch_size=None)
    first = next(iter(dl))
    assert isinstance(first, list) and first[0].item() == 0  # no batching: tuple -> list


def test_dataloader_dicts_and_custom_collate():
    dl = DataLoader(Squares(5), batch_size=2)
    batch = next(iter(dl))
    assert batch["x"].dtype == torch.float64 and values(batch["x"]) == [0.0, 1.0]
    assert batch["y"].dtype == torch.int64 and batch["name"] == ["s0", "s1"]
    assert values(batch["arr"]) == [[0.0, 0.0], [1.0, 1.0]]
    dl = DataLoader(Squares(5), batch_size=2, collate_fn=lambda b: [d["y"] for d in b])
    assert list(dl) == [[0, 1], [4, 9], [16]]


def test_dataloader_shuffle_reproducible():
    ds = TensorDataset(torch.arange(50))

    def epoch(loader):
        return [v for b in loader for v in values(b[0])]

    torch.manual_seed(123)
    a = epoch(DataLoader(ds, batch_size=8, shuffle=True))
    torch.manual_seed(123)
    b = epoch(DataLoader(ds, batch_size=8, shuffle=True))
    assert a == b and sorted(a) == list(range(50)) and a != list(range(50))
    g = torch.Generator()
    g.manual_seed(7)
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=g)
    e1, e2 = epoch(loader), epoch(loader)
    assert e1 != e2  # a new permutation each epoch
    g.manual_seed(7)
    assert epoch(loader) == e1


def test_dataloader_argument_errors():
    ds = TensorDataset(torch.arange(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    bs = BatchSampler(SequentialSampler(ds), 2, False)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=bs)
    assert [values(b[0]) for b in DataLoader(ds, batch_sampler=bs)] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Range(0, 3), shuffle=True)
    dl = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        dl.batch_size = 3


def test_iterable_dataset_single_process():
    dl = DataLoader(Range(0, 7), batch_size=3)
    assert [values(b) for b in dl] == [[0, 1, 2], [3, 4, 5], [6]] and len(dl) == 3
    dl = DataLoader(Range(0, 7), batch_size=3, drop_last=True)
    assert [values(b) for b in dl] == [[0, 1, 2], [3, 4, 5]]


class WorkerTagged(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": -1 if info is None else info.id}


def test_dataloader_workers_keep_order():
    ds = Squares(23)
    single = list(DataLoader(ds, batch_size=4))
    multi = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert len(multi) == len(single) == 6
    for a, b in zip(single, multi):
        assert values(a["y"]) == values(b["y"]) and a["name"] == b["name"]
        assert values(a["arr"]) == values(b["arr"]) and b["arr"].dtype == torch.float32
    workers = [values(b["worker"]) for b in DataLoader(WorkerTagged(), batch_size=3, num_workers=2)]
    assert workers == [[0] * 3, [1] * 3, [0] * 3, [1] * 3]  # round-robin over workers
    assert get_worker_info() is None


def test_dataloader_workers_shuffle_reproducible():
    ds = TensorDataset(torch.arange(30))
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        dl = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
        runs.append([v for b in dl for v in values(b[0])])
    assert runs[0] == runs[1] and sorted(runs[0]) == list(range(30))


def _init_fn(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    np.random.seed(1000 + worker_id)


class RandomPerWorker(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return float(np.random.rand())


def test_worker_init_fn_and_seeds():
    dl = DataLoader(RandomPerWorker(), batch_size=1, num_workers=2, worker_init_fn=_init_fn)
    got = [b.item() for b in dl]
    np.random.seed(1000)
    w0 = [np.random.rand() for _ in range(2)]
    np.random.seed(1001)
    w1 = [np.random.rand() for _ in range(2)]
    assert got == [w0[0], w1[0], w0[1], w1[1]]


def test_iterable_dataset_with_workers():
    dl = DataLoader(Range(0, 10), batch_size=2, num_workers=2)
    got = sorted(v for b in dl for v in values(b))
    assert got == list(range(10))


class Failing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise ValueError("bad sample 2")
        return i


def test_worker_exception_is_reraised():
    dl = DataLoader(Failing(), batch_size=1, num_workers=2)
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0"):
        list(dl)
    with pytest.raises(ValueError, match="bad sample 2"):
        list(DataLoader(Failing(), batch_size=1))


def test_persistent_workers_two_epochs():
    ds = TensorDataset(torch.arange(9))
    dl = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True)
    e1 = [values(b[0]) for b in dl]
    it = dl._iterator
    e2 = [values(b[0]) for b in dl]
    assert e1 == e2 == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]
    assert dl._iterator is it  # same worker processes reused
    dl._iterator._shutdown_workers()


def test_workers_partial_epoch_then_new_epoch():
    ds = TensorDataset(torch.arange(40))
    dl = DataLoader(ds, batch_size=2, num_workers=2)
    it = iter(dl)
    assert values(next(it)[0]) == [0, 1]
    del it
    assert len([b for b in dl]) == 20


class LargeOps(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.ones(600, 600) * 2 + 1  # large enough for the core's thread pool


def test_workers_run_parallel_ops_after_parent_used_thread_pool():
    # The parent's pool threads do not exist in a forked child; the core must rebuild it
    # (torch._C._after_fork, called by each worker) or the worker deadlocks.
    (torch.ones(1000, 1000) * 2 + 1).sum()
    dl = DataLoader(LargeOps(), batch_size=2, num_workers=2, timeout=30)
    assert [tuple(b.shape) for b in dl] == [(2, 600, 600), (2, 600, 600)]
