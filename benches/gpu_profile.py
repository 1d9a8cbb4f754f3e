"""Where a GPU training step spends its time, per op, on rtorch and PyTorch side by side.

    CUDA_LAUNCH_BLOCKING=1 python benches/gpu_profile.py [transformer|mlp] [--rows N]

rtorch's profiler times ops on the host; with CUDA_LAUNCH_BLOCKING=1 every launch waits for
its kernel, so an op's self time is its device time plus its launch cost. PyTorch's profiler
reports its kernels' device time directly. Both tables list the ops of several steps after a
warm-up, sorted by self time.
"""

import argparse
import os
import sys

from gpu_bench import mlp_step, transformer_step

import rtorch

try:
    import torch
except ImportError:
    torch = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", nargs="?", default="transformer", choices=["transformer", "mlp"])
    ap.add_argument("--rows", type=int, default=22)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    if os.environ.get("CUDA_LAUNCH_BLOCKING") != "1":
        print("note: without CUDA_LAUNCH_BLOCKING=1, rtorch's times are launch costs only",
              file=sys.stderr)
    make = {"transformer": transformer_step, "mlp": mlp_step}[args.workload]

    step = make(rtorch)
    for _ in range(2):
        step()
    rtorch.cuda.synchronize()
    with rtorch.profiler.profile() as prof:
        for _ in range(args.steps):
            step()
        rtorch.cuda.synchronize()
    print(f"== rtorch, {args.workload}, {args.steps} steps")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))

    if torch is None:
        return
    step = make(torch)
    for _ in range(2):
        step()
    torch.cuda.synchronize()
    acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=acts) as tprof:
        for _ in range(args.steps):
            step()
        torch.cuda.synchronize()
    print(f"== torch, {args.workload}, {args.steps} steps")
    print(tprof.key_averages().table(sort_by="self_cuda_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
