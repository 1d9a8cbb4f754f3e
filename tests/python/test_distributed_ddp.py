"""DistributedDataParallel on real 2- and 3-rank MPI jobs (dist_workers/ddp.py): an MLP and
a small CNN end with the parameters of one process trained on all ranks' batches; no_sync,
unused and shared parameters, buffers, and DistributedSampler with the real group."""

import pytest
from dist_launch import mpiexec, passes


@pytest.mark.parametrize("nproc", [2, 3])
def test_ddp_matches_single_process(nproc):
    passes(mpiexec(nproc, "ddp.py"), nproc)


def test_ddp_names():
    import rtorch as torch
    from rtorch.nn.parallel import DistributedDataParallel
    from rtorch.nn.parallel.distributed import DistributedDataParallel as same

    assert torch.nn.parallel.DistributedDataParallel is DistributedDataParallel is same
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(torch.nn.Linear(2, 2))
