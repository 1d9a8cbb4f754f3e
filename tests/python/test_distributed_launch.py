"""The launcher (python -m rtorch.distributed.run), a rank that dies (the others fail in
bounded time instead of hanging), and the data-parallel digits example."""

import os
import sys
import textwrap
import time

import pytest
from dist_launch import ROOT, mpiexec, run

ENV_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import rtorch.distributed as dist
    keys = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    print("ENV", sys.argv[1:], *[os.environ[k] for k in keys], dist.is_torchelastic_launched())
    dist.init_process_group()
    assert dist.get_rank() == int(os.environ["RANK"])
    dist.barrier()
    """
)


def test_launcher_sets_torchrun_variables(tmp_path):
    script = tmp_path / "show_env.py"
    script.write_text(ENV_SCRIPT)
    cmd = [sys.executable, "-m", "rtorch.distributed.run", "--nproc-per-node", "3",
           "--master-port", "29511", str(script), "--flag", "x"]
    r = run(cmd)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = sorted(line for line in r.stdout.splitlines() if line.startswith("ENV"))
    assert lines == [
        f"ENV ['--flag', 'x'] {rank} {rank} 3 3 127.0.0.1 29511 True" for rank in range(3)
    ]


def test_launcher_rejects_multi_node_and_bad_counts():
    r = run([sys.executable, "-m", "rtorch.distributed.run", "--nnodes", "2", "x.py"])
    assert r.returncode != 0 and "single-node" in r.stderr
    r = run([sys.executable, "-m", "rtorch.distributed.run", "--nproc_per_node", "zero", "x.py"])
    assert r.returncode != 0 and "--nproc-per-node" in r.stderr


def test_dead_rank_ends_the_job():
    # Default mpiexec: a rank that exits abnormally makes mpiexec stop the others.
    start = time.monotonic()
    r = mpiexec(3, "failure.py", "collective", timeout=60)
    assert r.returncode != 0
    assert "finished without noticing" not in r.stdout
    assert time.monotonic() - start < 40


def test_dead_rank_reported_by_survivors():
    # With recovery enabled the survivors keep running: DDP's gradient all-reduce must give
    # up after the group's timeout (3 s) with a DistBackendError, not wait forever.
    r = mpiexec(3, "failure.py", "ddp", extra=["--enable-recovery"], timeout=60)
    reports = [line for line in r.stdout.splitlines() if "REPORTED" in line]
    assert len(reports) == 2, r.stdout + r.stderr
    for line in reports:
        assert "timed out after 3.0 s" in line
        took = float(line.split("after ")[1].split("s:")[0])
        assert 2.5 < took < 10


def test_ddp_digits_example():
    pytest.importorskip("sklearn")
    script = os.path.join(ROOT, "examples", "train_digits_ddp.py")
    r = run([sys.executable, "-m", "rtorch.distributed.run", "--nproc-per-node", "2", script,
             "--model", "mlp", "--epochs", "3", "--lr", "5e-3"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("epoch") == 3  # rank 0 only
    acc = float(r.stdout.split("test accuracy: ")[1].split("%")[0])
    assert acc > 80, r.stdout


@pytest.mark.parametrize(
    "banner,kind,major,btl",
    [
        ("mpiexec (Open MPI) 5.0.11", "openmpi", 5, "self,sm,tcp"),
        ("mpiexec (OpenRTE) 4.1.6", "openmpi", 4, "self,vader,tcp"),
        ("HYDRA build details:\n    Version: 4.2.1", "mpich", None, "self,sm,tcp"),
    ],
)
def test_environment_follows_the_installed_mpi(tmp_path, monkeypatch, banner, kind, major, btl):
    # Open MPI 4 (common as a system package) has no "sm" transport: naming it stops MPI_Init.
    from rtorch.distributed import _launch

    fake = tmp_path / "mpiexec"
    fake.write_text(f"#!/bin/sh\ncat <<'END'\n{banner}\nEND\n")
    fake.chmod(0o755)
    monkeypatch.setattr(_launch, "mpiexec_path", lambda: str(fake))
    assert _launch.implementation(str(fake)) == kind
    assert _launch.openmpi_major(str(fake)) == major
    env = _launch.mpi_env({})
    assert env["OMPI_MCA_btl"] == btl
    assert _launch.mpi_env({"OMPI_MCA_btl": "self,tcp"})["OMPI_MCA_btl"] == "self,tcp"
