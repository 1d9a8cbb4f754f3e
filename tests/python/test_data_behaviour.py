"""utils.data behaviour pinned against PyTorch (when installed) and hand-computed references:
seed derivation, sampler draw patterns, collate/convert structure, argument errors, and the
worker protocol's edge cases (in_order=False, drained iterable workers, timeouts)."""

import collections
import collections.abc
import random
import types
import warnings

import numpy as np
import pytest

import rtorch as torch
from rtorch.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    _collate,
    _worker,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)


def _plain(x):
    """A comparable description of a (possibly nested) result of either library."""
    if hasattr(x, "tolist") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, np.ndarray):
        return ("ndarray", str(x.dtype), x.tolist())
    if isinstance(x, collections.abc.Mapping):
        return (type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


# ---- per-worker seeds -------------------------------------------------------------------


NUMPY_SEED_CASES = [
    ((0, 0), [2968811710, 3677149159, 745650761, 2884920346]),
    ((123456789012345, 3), [3999280408, 2418223825, 1775828080, 3641838301]),
    ((2**63 - 1, 1), [2076502041, 3474872666, 590866098, 3454868545]),
]


@pytest.mark.parametrize("args, words", NUMPY_SEED_CASES)
def test_numpy_worker_seed_reference_values(args, words):
    assert [int(w) for w in _worker._numpy_seed(*args)] == words


def test_numpy_worker_seed_matches_torch():
    torch_worker = pytest.importorskip("torch.utils.data._utils.worker")
    rng = random.Random(0)
    for _ in range(200):
        base, wid = rng.getrandbits(63), rng.randrange(32)
        ours = [int(w) for w in _worker._numpy_seed(base, wid)]
        assert ours == list(torch_worker._generate_state(base, wid))


class SeedReport(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "seed": info.seed,
            "py": random.random(),
            "np": float(np.random.rand()),
            "torch": torch.rand(1).item(),
        }


def test_worker_seeds_follow_the_base_seed():
    g = torch.Generator()
    g.manual_seed(11)
    dl = DataLoader(SeedReport(), batch_size=None, num_workers=2, generator=g, timeout=30)
    got = list(dl)
    g.manual_seed(11)
    base = int(torch.empty((), dtype=torch.int64).random_(generator=g).item())
    for worker_id, sample in enumerate(got):
        seed = base + worker_id
        assert sample["seed"] == seed
        assert sample["py"] == random.Random(seed).random()
        np_state = np.random.RandomState(_worker._numpy_seed(base, worker_id))
        assert sample["np"] == np_state.rand()
        torch.manual_seed(seed)
        assert sample["torch"] == torch.rand(1).item()


def _loader_draws_base_seed_first(lib):
    ds = lib.utils.data.TensorDataset(lib.arange(10))
    g = lib.Generator()
    g.manual_seed(4)
    got = [v for b in lib.utils.data.DataLoader(ds, batch_size=3, shuffle=True, generator=g)
           for v in b[0].tolist()]
    g.manual_seed(4)
    lib.empty((), dtype=lib.int64).random_(generator=g)  # the iterator's base seed
    return got == lib.randperm(10, generator=g).tolist()


def test_single_process_iterator_draws_the_base_seed():
    assert _loader_draws_base_seed_first(torch)


def test_single_process_iterator_draws_the_base_seed_in_torch():
    real = pytest.importorskip("torch")
    assert _loader_draws_base_seed_first(real)


# ---- sampler draw patterns --------------------------------------------------------------


def _sampler_patterns(lib):
    g = lib.Generator()
    g.manual_seed(9)
    with_repl = list(lib.utils.data.RandomSampler(range(5), True, 70, generator=g))
    g.manual_seed(9)
    blocks = [lib.randint(0, 5, (k,), generator=g).tolist() for k in (32, 32, 6)]
    ok_repl = with_repl == [v for b in blocks for v in b]
    g.manual_seed(9)
    cut = list(lib.utils.data.RandomSampler(range(4), num_samples=6, generator=g))
    after = lib.rand(1, generator=g).item()
    g.manual_seed(9)
    perms = [lib.randperm(4, generator=g).tolist() for _ in range(2)]
    ok_cut = cut == perms[0] + perms[1][:2] and after == lib.rand(1, generator=g).item()
    g.manual_seed(9)
    exact = list(lib.utils.data.RandomSampler(range(4), num_samples=4, generator=g))
    after = lib.rand(1, generator=g).item()
    g.manual_seed(9)
    first = lib.randperm(4, generator=g).tolist()
    lib.randperm(4, generator=g)  # an extra permutation is drawn even when nothing is left
    ok_exact = exact == first and after == lib.rand(1, generator=g).item()
    return ok_repl, ok_cut, ok_exact


def test_random_sampler_draw_pattern():
    assert _sampler_patterns(torch) == (True, True, True)


def test_random_sampler_draw_pattern_in_torch():
    real = pytest.importorskip("torch")
    assert _sampler_patterns(real) == (True, True, True)


def test_batch_sampler_len_and_iteration():
    for n in range(0, 9):
        for size in (1, 2, 3, 5):
            for drop in (False, True):
                bs = torch.utils.data.BatchSampler(range(n), size, drop)
                groups = list(bs)
                kept = (n // size) * size if drop else n
                assert len(groups) == len(bs)
                assert [i for g in groups for i in g] == list(range(kept))
                assert all(len(g) == size for g in groups[:-1])


# ---- collate / convert ------------------------------------------------------------------


class Tagged(dict):
    pass


Pair = collections.namedtuple("Pair", "a b")


def _collate_cases(lib):
    tag = Tagged(x=1.0)
    tag.note = "kept"
    batch = default_collate if lib is torch else lib.utils.data.default_collate
    out = {
        "ints": batch([1, 2]),
        "floats": batch([1.0, 2.5]),
        "bools": batch([True, False]),
        "np16": batch([np.float16(1), np.float16(2)]),
        "npint": batch([np.array([1, 2], np.int16), np.array([3, 4], np.int16)]),
        "strs": batch(["a", "b"]),
        "bytes": batch([b"a", b"b"]),
        "pair": batch([Pair(1, "u"), Pair(2, "v")]),
        "tuple": batch([(1, 2.0), (3, 4.0)]),
        "nested": batch([{"k": [1, (2, 3)]}, {"k": [4, (5, 6)]}]),
        "proxy": batch([types.MappingProxyType({"m": 1})] * 2),
        "tagged": batch([tag, tag]),
    }
    out["tagged_note"] = getattr(out["tagged"], "note", None)
    return _plain(out)


def test_collate_structure_matches_torch():
    real = pytest.importorskip("torch")
    assert _collate_cases(torch) == _collate_cases(real)


def test_collate_structure_by_hand():
    got = _collate_cases(torch)[1]
    assert got["floats"] == ("tensor", "float64", [1.0, 2.5])
    assert got["np16"] == ("tensor", "float16", [1.0, 2.0])
    assert got["bytes"] == ("list", [b"a", b"b"])
    assert got["pair"][0] == "Pair" and got["tuple"][0] == "list"
    assert got["proxy"][0] == "mappingproxy" and got["tagged"][0] == "Tagged"
    assert got["tagged_note"] == "kept"


def _convert_cases(lib):
    convert = default_convert if lib is torch else lib.utils.data.default_convert
    out = {
        "array": convert(np.arange(3, dtype=np.int32)),
        "scalar": convert(np.float32(2.5)),
        "text": convert(np.array(["a", "b"])),
        "str": convert("abc"),
        "tuple": convert((np.int64(1), "x")),
        "pair": convert(Pair(np.zeros(1), 2)),
        "od": convert(collections.OrderedDict(a=np.ones(2))),
        "number": convert(3),
    }
    return _plain(out)


def test_default_convert_matches_torch():
    real = pytest.importorskip("torch")
    assert _convert_cases(torch) == _convert_cases(real)


def test_default_convert_by_hand():
    got = _convert_cases(torch)[1]
    assert got["array"] == ("tensor", "int32", [0, 1, 2])
    assert got["text"] == ("ndarray", "<U1", ["a", "b"])
    assert got["tuple"] == ("list", [("tensor", "int64", 1), "x"])
    assert got["od"][0] == "OrderedDict" and got["number"] == 3


def test_custom_collate_fn_map_dispatch():
    seen = []

    def for_ints(batch, *, collate_fn_map=None):
        seen.append("int")
        return sum(batch)

    def for_numbers(batch, *, collate_fn_map=None):
        seen.append("number")
        return max(batch)

    table = {(float, int): for_numbers, int: for_ints}
    assert _collate.collate([1, 2], collate_fn_map=table) == 3  # exact type wins
    assert _collate.collate([1.5, 2.0], collate_fn_map=table) == 2.0  # then isinstance
    assert seen == ["int", "number"]
    assert _collate.default_collate_fn_map[int] is _collate.collate_int_fn


def test_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="found <class 'NoneType'>"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


# ---- datasets ---------------------------------------------------------------------------


def test_concat_dataset_bounds_and_deprecated_alias():
    cat = ConcatDataset([range(2), range(3), range(0), range(1)])
    assert [cat[i] for i in range(len(cat))] == [0, 1, 0, 1, 2, 0]
    assert cat.cumulative_sizes == [2, 5, 5, 6]
    with pytest.warns(DeprecationWarning):
        assert cat.cummulative_sizes == [2, 5, 5, 6]
    with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
        ConcatDataset([])


def test_random_split_zero_fraction_warns():
    # floors 1, 0, 0; the one left over goes to the first split
    with pytest.warns(UserWarning) as caught:
        parts = random_split(range(2), [0.9, 0.0, 0.1])
    assert [str(w.message)[:26] for w in caught] == [
        "Length of split at index 1",
        "Length of split at index 2",
    ]
    assert [len(p) for p in parts] == [2, 0, 0]
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(range(4), [1.5, -0.5])


def test_stack_dataset():
    sd = torch.utils.data.StackDataset(a=range(3), b="xyz")
    assert len(sd) == 3 and sd[1] == {"a": 1, "b": "y"}
    assert torch.utils.data.StackDataset(range(2), "ab")[1] == (1, "b")
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        torch.utils.data.StackDataset(range(2), "abc")
    with pytest.raises(ValueError, match="At least one dataset should be passed"):
        torch.utils.data.StackDataset()


# ---- DataLoader arguments ----------------------------------------------------------------


class Stream(IterableDataset):
    def __iter__(self):
        return iter(range(3))


def _argument_errors(lib):
    D = lib.utils.data
    ds = D.TensorDataset(lib.arange(4))
    seq = D.SequentialSampler(ds)
    cases = [
        dict(num_workers=-1),
        dict(timeout=-1),
        dict(prefetch_factor=2),
        dict(num_workers=1, prefetch_factor=-1),
        dict(persistent_workers=True),
        dict(shuffle=True, sampler=seq),
        dict(batch_sampler=D.BatchSampler(seq, 2, False), drop_last=True),
        dict(batch_size=None, drop_last=True),
        dict(batch_size=0),
    ]
    messages = []
    for kwargs in cases:
        try:
            D.DataLoader(ds, **kwargs)
            messages.append(None)
        except ValueError as e:
            messages.append(str(e))
    stream = type("Stream", (D.IterableDataset,), {"__iter__": lambda self: iter(range(3))})()
    for kwargs in (dict(shuffle=True), dict(sampler=seq), dict(batch_sampler=[[0]])):
        try:
            D.DataLoader(stream, **kwargs)
            messages.append(None)
        except ValueError as e:
            messages.append(str(e).split(", but got")[0])
    D.DataLoader(stream, shuffle=False)  # False counts as unspecified
    return messages


def test_dataloader_argument_messages_match_torch():
    real = pytest.importorskip("torch")
    assert _argument_errors(torch) == _argument_errors(real)


def test_dataloader_argument_messages():
    got = _argument_errors(torch)
    assert None not in got
    assert got[2].startswith("prefetch_factor option could only be specified in multiprocessing.")
    assert got[-1] == "DataLoader with IterableDataset: expected unspecified batch_sampler option"


def test_iterable_len_and_frozen_attributes():
    class Sized(Stream):
        def __len__(self):
            return 7

    assert len(DataLoader(Sized(), batch_size=3)) == 3
    assert len(DataLoader(Sized(), batch_size=3, drop_last=True)) == 2
    assert len(DataLoader(Sized(), batch_size=None)) == 7
    dl = DataLoader(Sized())
    for name in ("sampler", "dataset", "drop_last", "persistent_workers"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set after"):
            setattr(dl, name, None)
    dl.num_workers = 0  # not frozen


def test_empty_batch_sampler_is_still_used():
    ds = TensorDataset(torch.arange(4))
    bs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(0)), 2, False)
    dl = DataLoader(ds, batch_sampler=bs)
    assert len(dl) == 0 and list(dl) == []


# ---- worker info and errors -----------------------------------------------------------


def test_worker_info_is_read_only():
    info = _worker.WorkerInfo(id=1, num_workers=2, seed=5, dataset="d")
    assert repr(info) == "WorkerInfo(id=1, num_workers=2, seed=5, dataset=d)"
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        info.id = 3


class NeedsTwo(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


def _wrapped(exc):
    try:
        raise exc
    except Exception:
        return _worker.ExceptionWrapper(where="in test")


def test_exception_wrapper_reraise():
    with pytest.raises(KeyError) as info:
        _wrapped(KeyError("k")).reraise()
    assert str(info.value).startswith("Caught KeyError in test.\nOriginal Traceback")
    with pytest.raises(RuntimeError, match="Caught NeedsTwo in test"):
        _wrapped(NeedsTwo(1, 2)).reraise()


class Numbers(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return i


def test_workers_out_of_order_delivery_yields_everything():
    dl = DataLoader(Numbers(), batch_size=2, num_workers=2, in_order=False, timeout=30)
    got = sorted(v for b in dl for v in b.tolist())
    assert got == list(range(12))


class Uneven(IterableDataset):
    """Worker 0 yields 5 samples, worker 1 only 1."""

    def __iter__(self):
        info = get_worker_info()
        return iter(range(5) if info.id == 0 else range(100, 101))


def test_iterable_workers_running_dry_at_different_times():
    dl = DataLoader(Uneven(), batch_size=2, num_workers=2, timeout=30)
    assert [b.tolist() for b in dl] == [[0, 1], [100], [2, 3], [4]]
    dl = DataLoader(Uneven(), batch_size=2, num_workers=2, drop_last=True, timeout=30)
    assert [b.tolist() for b in dl] == [[0, 1], [2, 3]]


def test_persistent_iterable_workers_restart_each_epoch():
    dl = DataLoader(Uneven(), batch_size=2, num_workers=2, persistent_workers=True, timeout=30)
    try:
        first = [b.tolist() for b in dl]
        second = [b.tolist() for b in dl]
        assert first == second == [[0, 1], [100], [2, 3], [4]]
    finally:
        dl._iterator._shutdown_workers()


def _fail_init(worker_id):
    raise ValueError(f"init failed in {worker_id}")


def test_worker_init_fn_failure_is_reported():
    dl = DataLoader(Numbers(), batch_size=2, num_workers=2, worker_init_fn=_fail_init, timeout=30)
    with pytest.raises(ValueError, match="init failed in 0"):
        list(dl)


class Slow(Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, i):
        import time

        time.sleep(1.5)
        return i


def test_worker_timeout():
    dl = DataLoader(Slow(), num_workers=1, timeout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
            next(iter(dl))
