"""Distributed benchmark (not a test): rtorch.distributed.all_reduce against mpi4py's own
Allreduce on numpy arrays of the same size, and a DistributedDataParallel training step
against a single-process step.

    python benches/distributed_bench.py              # starts itself on 2 ranks
    python benches/distributed_bench.py --nproc 3 --quick
    python benches/distributed_bench.py --markdown   # tables for the README

Rank 0 prints the time per operation (the fastest repetition; ``--median`` for the median);
``overhead`` is rtorch / mpi4py - 1. The third column runs mpi4py's call on a tensor's
memory, which separates what the buffer costs (numpy asks the kernel for huge pages on large
arrays) from what rtorch.distributed adds.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np


def timeit(fns, comm, reps):
    """Seconds per call of each function in ``fns`` (the fastest of ``reps`` calls, or the
    median with --median), run alternately so that both see the same machine load, every
    rank starting each call together. On a shared machine the minimum is the figure least
    disturbed by other processes taking the cores."""
    MPI = __import__("mpi4py").MPI
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(reps):
        for k, fn in enumerate(fns):
            comm.Barrier()
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    # The slowest rank decides the time of a collective.
    pick = statistics.median if STAT["median"] else min
    return [comm.allreduce(pick(t), op=MPI.MAX) for t in times]


STAT = {"median": False}


def human(n):
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:g} {unit}"
        n /= 1024
    return f"{n:g} GB"


def bench_all_reduce(args, dist, torch, MPI, rows):
    from rtorch.distributed._mpi import raw

    comm = MPI.COMM_WORLD
    size = 1024
    while size <= args.max_mb * 1024 * 1024:
        n = size // 4
        reps = max(5, min(200, (64 << 20) // size)) // (4 if args.quick else 1) or 3
        t = torch.ones(n)
        a = np.ones(n, dtype=np.float32)
        # Another tensor's memory as a numpy array. Each call gets its own buffer: on two
        # ranks sharing memory, a 1 MB Allreduce run right after another one on the same
        # buffer took 20-25 % longer (the peer reads lines still held in this core's cache),
        # so a shared buffer would favour whichever call comes after a call on another one.
        r = raw(torch.ones(n))
        ours, theirs, same_memory = timeit(
            [
                lambda t=t: dist.all_reduce(t),
                lambda a=a: comm.Allreduce(MPI.IN_PLACE, a),
                lambda r=r: comm.Allreduce(MPI.IN_PLACE, r),
            ],
            comm,
            reps,
        )
        rows.append(
            (human(size), ours * 1e6, theirs * 1e6, same_memory * 1e6, size / theirs / 1e9,
             ours / theirs - 1)
        )
        size *= 4


def bench_ddp(args, dist, torch, MPI, rows):
    from ddp_workloads import models, step_pair

    from rtorch.nn.parallel import DistributedDataParallel as DDP

    comm = MPI.COMM_WORLD
    reps = 10 if args.quick else 40
    for name, make, shape in models(torch.nn):
        local, ddp, params = step_pair(torch, DDP, make, shape, args.batch)
        t_local, t_ddp = timeit([local, ddp], comm, reps)
        rows.append((name, params, t_local * 1e3, t_ddp * 1e3, t_ddp / t_local - 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--max-mb", type=int, default=64)
    p.add_argument("--batch", type=int, default=64, help="per rank")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--median", action="store_true", help="median instead of minimum time")
    args = p.parse_args()
    STAT["median"] = args.median

    from rtorch.distributed._env import mpi_launch_info

    if mpi_launch_info() is None:
        # Started alone: start again on --nproc ranks.
        from rtorch.distributed.run import main as launch

        sys.exit(launch(["--nproc-per-node", str(args.nproc), *sys.argv]))

    from mpi4py import MPI

    import rtorch as torch
    import rtorch.distributed as dist

    dist.init_process_group("mpi")
    rank = dist.get_rank()
    reduce_rows, ddp_rows = [], []
    bench_all_reduce(args, dist, torch, MPI, reduce_rows)
    bench_ddp(args, dist, torch, MPI, ddp_rows)
    if rank == 0:
        world = dist.get_world_size()
        threads = os.environ.get("RAYON_NUM_THREADS", "?")
        stat = "median" if args.median else "fastest"
        print(f"{world} ranks, {threads} compute thread(s) per rank, {os.cpu_count()} CPUs, "
              f"{stat} of the repetitions\n")
        sep = " | " if args.markdown else "  "

        def print_row(cells):
            line = sep.join(cells)
            print(f"| {line} |" if args.markdown else line)

        head = ["size", "rtorch all_reduce (µs)", "mpi4py Allreduce, numpy array (µs)",
                "mpi4py Allreduce, the tensor's memory (µs)", "mpi4py GB/s", "overhead"]
        print_row(head)
        if args.markdown:
            print_row(["---"] + ["---:"] * (len(head) - 1))
        for size, ours, theirs, same, bw, over in reduce_rows:
            print_row([size, f"{ours:.1f}", f"{theirs:.1f}", f"{same:.1f}", f"{bw:.2f}",
                       f"{over * 100:+.0f}%"])
        print()
        head = ["model", "parameters", f"1 process, batch {args.batch} (ms)",
                f"DDP {world} ranks, batch {args.batch} each (ms)", "DDP overhead"]
        print_row(head)
        if args.markdown:
            print_row(["---"] + ["---:"] * (len(head) - 1))
        for name, params, t_local, t_ddp, over in ddp_rows:
            print_row([name, str(params), f"{t_local:.2f}", f"{t_ddp:.2f}", f"{over * 100:+.0f}%"])
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
