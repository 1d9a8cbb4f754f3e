"""Cost of the op profiler: per-op time of small ops with no profiler active, with one
recording, and with one recording shapes and memory.

    python benches/profiler_overhead.py [--iters 20000]

Every op opens a profiler scope at its entry; with no profiler active that is one relaxed
atomic load (the "off" column should match an uninstrumented build within noise: compare
with the same loop run on an older build of rtorch if one is at hand). Prints medians of
several repetitions, in microseconds per iteration.
"""

import argparse
import statistics
import time

import rtorch as torch
from rtorch.profiler import profile


def per_iter_us(fn, n, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--reps", type=int, default=7)
    args = p.parse_args()

    x = torch.ones(16)
    w = torch.ones(16, requires_grad=True)

    def adds(n):
        for _ in range(n):
            x.add(x)

    def fwd_bwd(n):
        for _ in range(n):
            (x * w).sum().backward()

    print(f"{'workload':32s} {'off':>9s} {'on':>9s} {'on+shapes+mem':>14s}  (us per iteration)")
    for name, fn, n in [
        ("x.add(x), 16 floats", adds, args.iters),
        ("(x * w).sum().backward()", fwd_bwd, max(1, args.iters // 10)),
    ]:
        off = per_iter_us(fn, n, args.reps)
        with profile():
            on = per_iter_us(fn, n, args.reps)
        with profile(record_shapes=True, profile_memory=True):
            full = per_iter_us(fn, n, args.reps)
        print(f"{name:32s} {off:9.3f} {on:9.3f} {full:14.3f}")


if __name__ == "__main__":
    main()
