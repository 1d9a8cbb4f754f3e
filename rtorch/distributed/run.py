"""``python -m rtorch.distributed.run``: torchrun's command line for one node, starting the
ranks through ``mpiexec``.

    python -m rtorch.distributed.run --nproc-per-node 2 train.py --epochs 3

Each rank sees ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT`` as under torchrun, and ``init_process_group("mpi")``
(or ``init_process_group()``) joins the job. The exit status is the job's: if a rank fails,
mpiexec stops the others and reports which one failed.
"""

import argparse
import os
import signal
import subprocess
import sys
import uuid

from ._launch import mpi_env, mpiexec_command


def _nproc(value):
    if value in ("cpu", "auto"):
        return os.cpu_count() or 1
    if value == "gpu":
        import rtorch

        n = rtorch.cuda.device_count()
        if n == 0:
            raise argparse.ArgumentTypeError("--nproc-per-node gpu: no CUDA device is available")
        return n
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--nproc-per-node must be an integer, 'cpu', 'gpu' or 'auto', got {value!r}"
        ) from None
    if n < 1:
        raise argparse.ArgumentTypeError("--nproc-per-node must be at least 1")
    return n


def _nnodes(value):
    # torchrun accepts "MIN:MAX" for elastic jobs; a fixed size is MIN == MAX.
    lo, _, hi = str(value).partition(":")
    try:
        lo, hi = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nnodes must be N or MIN:MAX, got {value!r}") from None
    if lo != hi:
        raise argparse.ArgumentTypeError(
            "elastic --nnodes MIN:MAX is not supported; give a fixed N"
        )
    return lo


def parser():
    p = argparse.ArgumentParser(
        prog="python -m rtorch.distributed.run",
        description="Start a data-parallel job on this node: one process per rank, through mpiexec.",
    )
    for flag, kw in (
        (
            "--nproc-per-node",
            dict(type=_nproc, default=1, help="ranks on this node (N, cpu, gpu, auto)"),
        ),
        (
            "--nnodes",
            dict(type=_nnodes, default=1, help="number of nodes (only 1 with this launcher)"),
        ),
        ("--node-rank", dict(type=int, default=0, help="rank of this node (0)")),
        ("--master-addr", dict(default="127.0.0.1", help="exported as MASTER_ADDR")),
        ("--master-port", dict(type=int, default=29500, help="exported as MASTER_PORT")),
        ("--max-restarts", dict(type=int, default=0, help="only 0 (no restarts)")),
        ("--rdzv-id", dict(default=None, help="job id, exported as TORCHELASTIC_RUN_ID")),
    ):
        p.add_argument(
            flag, flag.replace("-", "_").replace("__", "--"), dest=flag[2:].replace("-", "_"), **kw
        )
    p.add_argument("--standalone", action="store_true", help="single-node job (the default here)")
    p.add_argument("-m", "--module", action="store_true", help="run TRAINING_SCRIPT as a module")
    p.add_argument(
        "--no-python",
        "--no_python",
        dest="no_python",
        action="store_true",
        help="run TRAINING_SCRIPT as an executable",
    )
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def command(args):
    """The mpiexec command line and environment for parsed ``args``."""
    if args.nnodes != 1 or args.node_rank != 0:
        raise SystemExit(
            "rtorch.distributed.run starts single-node jobs; for several nodes start one MPI "
            "job across them: mpiexec -n TOTAL --host node1:N,node2:N python script.py"
        )
    if args.max_restarts:
        raise SystemExit("--max-restarts: restarting failed ranks is not supported (use 0)")
    env = mpi_env()
    env["MASTER_ADDR"] = args.master_addr
    env["MASTER_PORT"] = str(args.master_port)
    env["GROUP_WORLD_SIZE"] = "1"
    env["TORCHELASTIC_RUN_ID"] = args.rdzv_id or uuid.uuid4().hex[:12]
    n = args.nproc_per_node
    if n > 1:
        # As torchrun: do not let every rank start one thread per core.
        threads = str(max(1, (os.cpu_count() or 1) // n))
        env.setdefault("OMP_NUM_THREADS", threads)
        env.setdefault("RAYON_NUM_THREADS", threads)
    if args.no_python:
        kind = "--exec"
    else:
        kind = "--module" if args.module else "--script"
    program = [sys.executable, "-u", "-m", "rtorch.distributed._worker", kind, args.training_script]
    return mpiexec_command(n, program + list(args.training_script_args)), env


def main(argv=None):
    args = parser().parse_args(argv)
    cmd, env = command(args)
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum, _frame):
        # Stopping the launcher stops the job (mpiexec passes the signal to the ranks).
        proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    sys.exit(main())
