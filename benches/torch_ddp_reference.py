"""PyTorch's own DistributedDataParallel (gloo backend, loopback) on the workloads of
``distributed_bench.py``'s DDP table, timed the same way: the reference for rtorch's DDP
overhead on the same machine. Needs PyTorch; not a test.

    torchrun --nproc-per-node 2 benches/torch_ddp_reference.py [--markdown] [--median]
"""

import argparse
import statistics
import time

import torch
import torch.distributed as dist
from ddp_workloads import models, step_pair  # beside this script
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP


def timeit(fns, reps, pick):
    """Seconds per call of each of ``fns``, run alternately, every rank starting together;
    the slowest rank decides."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(reps):
        for k, fn in enumerate(fns):
            dist.barrier()
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    out = []
    for t in times:
        v = torch.tensor([pick(t)], dtype=torch.float64)
        dist.all_reduce(v, op=dist.ReduceOp.MAX)
        out.append(float(v))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64, help="per rank")
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--threads", type=int, default=1, help="compute threads per rank")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--median", action="store_true", help="median instead of minimum time")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo")
    pick = statistics.median if args.median else min
    rows = []
    for name, make, shape in models(nn):
        local, ddp, params = step_pair(torch, DDP, make, shape, args.batch)
        t_local, t_ddp = timeit([local, ddp], args.reps, pick)
        rows.append((name, params, t_local * 1e3, t_ddp * 1e3, t_ddp / t_local - 1))
    if dist.get_rank() == 0:
        world = dist.get_world_size()
        stat = "median" if args.median else "fastest"
        print(f"PyTorch {torch.__version__} DDP (gloo), {world} ranks, {args.threads} compute "
              f"thread(s) per rank, {stat} of {args.reps} repetitions\n")
        head = ["model", "parameters", f"1 process, batch {args.batch} (ms)",
                f"DDP {world} ranks, batch {args.batch} each (ms)", "DDP overhead"]
        sep = " | " if args.markdown else "  "
        lines = [head] + ([["---"] + ["---:"] * 4] if args.markdown else [])
        lines += [[n, str(c), f"{a:.2f}", f"{b:.2f}", f"{o * 100:+.0f}%"] for n, c, a, b, o in rows]
        for cells in lines:
            line = sep.join(cells)
            print(f"| {line} |" if args.markdown else line)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
