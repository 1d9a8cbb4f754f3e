"""rtorch.distributed collectives: real 2- and 3-rank MPI jobs (every collective x dtype
against numpy, in dist_workers/collectives.py) and the errors raised without a group."""

import os
import subprocess
import sys
import textwrap

import pytest
from dist_launch import ROOT, env, mpiexec, passes

import rtorch as torch
import rtorch.distributed as dist


@pytest.mark.parametrize("nproc", [2, 3])
def test_collectives_every_dtype(nproc):
    passes(mpiexec(nproc, "collectives.py"), nproc)


def test_before_init_errors():
    assert dist.is_available() and not dist.is_initialized()
    msg = "Default process group has not been initialized"
    for call in (
        lambda: dist.get_rank(),
        lambda: dist.get_world_size(),
        lambda: dist.get_backend(),
        lambda: dist.barrier(),
        lambda: dist.all_reduce(torch.ones(2)),
        lambda: dist.broadcast(torch.ones(2), src=0),
        lambda: dist.new_group([0]),
        lambda: dist.destroy_process_group(),
    ):
        with pytest.raises(ValueError, match=msg):
            call()
    with pytest.raises(ValueError, match=msg):
        torch.utils.data.DistributedSampler(list(range(4)))


def test_backend_errors_without_mpi_init():
    # Checked before MPI is touched: no GPU means a clear RuntimeError for NCCL.
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPUs found"):
            dist.init_process_group("nccl")
    with pytest.raises(RuntimeError, match="doesn't have GLOO built in"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("carrier-pigeon")
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("mpi", timeout=5)
    assert not dist.is_initialized()
    assert dist.Backend("MPI") == "mpi" and dist.ReduceOp.SUM == dist.ReduceOp(dist.ReduceOp.SUM)
    assert dist.is_mpi_available()  # NCCL: test_distributed_nccl.py


SINGLE = textwrap.dedent(
    """
    import os
    import rtorch as torch, rtorch.distributed as dist
    from rtorch import nn
    if os.environ.get("WORLD_SIZE") == "2":
        try:
            dist.init_process_group("mpi")
        except RuntimeError as e:
            print("refused:", e)
        raise SystemExit(0)
    dist.init_process_group("mpi")
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    t = torch.arange(4.0)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    try:
        dist.all_reduce(object())
    except TypeError as e:
        print("type error:", e)
    m = nn.parallel.DistributedDataParallel(nn.Linear(2, 1))
    m(torch.ones(3, 2)).sum().backward()
    assert m.module.weight.grad.tolist() == [[3.0, 3.0]]
    dist.destroy_process_group()
    print("single ok")
    """
)


def test_single_process_without_mpiexec():
    # A script started alone is a world of one; asking for more ranks without a launcher is
    # a clear error instead of a hang.
    e = env()
    for k in [k for k in e if k.startswith(("OMPI_COMM", "PMI", "PMIX"))]:
        del e[k]
    r = subprocess.run([sys.executable, "-c", SINGLE], env=e, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "single ok" in r.stdout, r.stdout + r.stderr
    assert "type error: all_reduce: expected a Tensor" in r.stdout
    e["WORLD_SIZE"] = "2"
    r = subprocess.run([sys.executable, "-c", SINGLE], env=e, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "refused:" in r.stdout and "not part of an MPI job" in r.stdout, r.stdout + r.stderr
    assert os.path.isdir(ROOT)
