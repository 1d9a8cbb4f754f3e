"""Starting multi-process jobs for the distributed tests: mpiexec with rtorch's local-job
settings, every job bounded by a timeout so that a hang fails fast."""

import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'rtorch[distributed]')")

from rtorch.distributed._launch import mpi_env, mpiexec_command  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dist_workers")


def env():
    e = mpi_env()
    # The ranks import the same rtorch as this test process (the tree, or an installed wheel).
    import rtorch

    here = os.path.dirname(os.path.dirname(os.path.abspath(rtorch.__file__)))
    e["PYTHONPATH"] = os.pathsep.join(p for p in [here, e.get("PYTHONPATH", "")] if p)
    e.setdefault("RAYON_NUM_THREADS", "1")
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def run(cmd, timeout=60):
    """Runs ``cmd`` in its own process group; past ``timeout`` the whole group (launcher,
    mpiexec and every rank) is killed and the test fails with the output so far."""
    proc = subprocess.Popen(
        cmd,
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s; output:\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def mpiexec(nproc, worker, *args, extra=(), timeout=60):
    """Runs ``dist_workers/<worker>`` on ``nproc`` ranks."""
    program = [sys.executable, os.path.join(WORKERS, worker), *args]
    return run(mpiexec_command(nproc, program, extra), timeout)


def passes(result, nproc, marker="PASS all"):
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-4000:]
    assert result.stdout.splitlines().count(marker) == nproc, text[-4000:]
