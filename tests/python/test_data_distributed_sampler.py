"""DistributedSampler and the ``torch.utils.data._utils`` import paths."""

import itertools
import math

import pytest

import rtorch
from rtorch.utils.data import DataLoader, DistributedSampler, Sampler, TensorDataset
from rtorch.utils.data.distributed import DistributedSampler as FromModule

COMBOS = [
    (n, replicas, drop_last)
    for n in (0, 1, 2, 5, 7, 10, 16, 23)
    for replicas in (1, 2, 3, 4, 8)
    for drop_last in (False, True)
]


def expected_shares(n, replicas, drop_last):
    """The documented rule, written out: pad by repeating from the start (or cut the
    uneven tail), then replica r takes every replicas-th index starting at r."""
    order = list(range(n))
    if drop_last and n % replicas:
        per = math.ceil((n - replicas) / replicas)
    else:
        per = math.ceil(n / replicas)
    total = per * replicas
    if drop_last:
        order = order[:total]
    else:
        while len(order) < total:
            order += order[: total - len(order)]
    return [order[r:total:replicas] for r in range(replicas)]


def test_module_path_and_base():
    assert FromModule is DistributedSampler
    assert issubclass(DistributedSampler, Sampler)
    assert DistributedSampler.__module__ == "rtorch.utils.data.distributed"
    assert DistributedSampler[int] is DistributedSampler


@pytest.mark.parametrize("n,replicas,drop_last", COMBOS)
def test_unshuffled_shares(n, replicas, drop_last):
    want = expected_shares(n, replicas, drop_last)
    for rank in range(replicas):
        s = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(s) == want[rank]
        assert len(s) == len(want[rank]) == s.num_samples
        assert s.total_size == s.num_samples * replicas


def test_small_dataset_many_replicas_repeats_whole_copies():
    shares = [list(DistributedSampler(range(2), 5, r, shuffle=False)) for r in range(5)]
    assert shares == [[0], [1], [0], [1], [0]]


@pytest.mark.parametrize("n,replicas,drop_last", COMBOS)
def test_shuffled_shares_partition_a_permutation(n, replicas, drop_last):
    shares = [
        list(DistributedSampler(range(n), replicas, r, shuffle=True, seed=5, drop_last=drop_last))
        for r in range(replicas)
    ]
    flat = list(itertools.chain(*shares))
    assert {len(s) for s in shares} <= {len(shares[0])}
    if drop_last:
        # Distinct indices, n rounded down to a multiple of replicas.
        assert len(set(flat)) == len(flat) == (n // replicas) * replicas
    else:
        assert set(flat) == set(range(n))
        assert len(flat) == (math.ceil(n / replicas) * replicas if n else 0)


def test_shuffle_follows_seed_and_epoch():
    def share(seed, epoch, rank=0):
        s = DistributedSampler(range(50), 2, rank, seed=seed)
        s.set_epoch(epoch)
        return list(s)

    assert share(0, 0) == share(0, 0)
    assert share(0, 1) != share(0, 0)
    assert share(3, 0) != share(0, 0)
    # seed + epoch is what seeds the order.
    assert share(1, 2) == share(3, 0) == share(2, 1)
    # The order does not depend on the default generator.
    rtorch.manual_seed(1)
    a = share(0, 4)
    rtorch.manual_seed(2)
    assert share(0, 4) == a
    # The shuffled order is a randperm from a generator seeded with seed + epoch.
    g = rtorch.Generator()
    g.manual_seed(7)
    order = rtorch.randperm(50, generator=g).tolist()
    assert share(7, 0, 1) == order[1::2]


def test_attributes():
    s = DistributedSampler(range(10), num_replicas=3, rank=1, seed=4, drop_last=True)
    assert (s.num_replicas, s.rank, s.epoch, s.seed, s.shuffle, s.drop_last) == (3, 1, 0, 4, True, True)
    assert (s.num_samples, s.total_size) == (3, 9)
    s.set_epoch(6)
    assert s.epoch == 6


@pytest.mark.parametrize("kwargs", [{}, {"num_replicas": 2}, {"rank": 0}])
def test_needs_process_group_when_not_given(kwargs):
    # As PyTorch: without the distributed package (here: mpi4py) the error says so.
    if rtorch.distributed.is_available():
        error, match = ValueError, "Default process group has not been initialized"
    else:
        error, match = RuntimeError, "Requires distributed package to be available"
    with pytest.raises(error, match=match):
        DistributedSampler(range(4), **kwargs)


@pytest.mark.parametrize("replicas,rank", [(2, 2), (2, -1), (0, 0)])
def test_invalid_rank(replicas, rank):
    with pytest.raises(ValueError, match=rf"Invalid rank {rank}, rank should be in the interval"):
        DistributedSampler(range(4), replicas, rank)


def test_with_dataloader():
    data = TensorDataset(rtorch.arange(10).float())
    seen = []
    for rank in range(2):
        loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, rank))
        for (batch,) in loader:
            seen += batch.long().tolist()
    assert sorted(seen) == list(range(10))


@pytest.mark.parametrize("n,replicas,drop_last", COMBOS[::3])
def test_matches_pytorch_unshuffled(real_torch, n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as Ref

    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        ref = Ref(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(ref)
        assert (len(ours), ours.total_size) == (len(ref), ref.total_size)


def test_matches_pytorch_errors(real_torch):
    from torch.utils.data.distributed import DistributedSampler as Ref

    for args in [(), (2,), (3, 3)]:
        with pytest.raises(ValueError) as ref:
            Ref(range(4), *args)
        if not rtorch.distributed.is_available() and len(args) < 2:
            with pytest.raises(RuntimeError, match="Requires distributed package"):
                DistributedSampler(range(4), *args)
            continue
        with pytest.raises(ValueError) as ours:
            DistributedSampler(range(4), *args)
        assert str(ours.value) == str(ref.value)


def test_utils_import_paths():
    from rtorch.utils.data._utils.collate import collate, default_collate_fn_map
    from rtorch.utils.data._utils.worker import get_worker_info

    from rtorch.utils.data import _utils, default_collate

    assert _utils.collate.default_collate is default_collate
    assert get_worker_info() is None

    class Point:
        def __init__(self, x):
            self.x = x

    # A type registered in the shared table is collated by default_collate.
    default_collate_fn_map[Point] = lambda batch, *, collate_fn_map=None: [p.x for p in batch]
    try:
        assert default_collate([Point(1), Point(2)]) == [1, 2]
        assert collate([Point(3)], collate_fn_map=default_collate_fn_map) == [3]
    finally:
        del default_collate_fn_map[Point]
