"""Training-step time in float32 and under autocast (bfloat16, or float16 with --dtype) for
an MLP and a small CNN, on rtorch and PyTorch (when installed), CPU or CUDA.

    python benches/amp_bench.py                    # CPU, bfloat16
    python benches/amp_bench.py --device cuda --dtype float16
    python benches/amp_bench.py --markdown         # a table for the README

Each step is forward + loss + backward + optimizer step; the median of the timed steps is
reported with the ratio autocast / float32 (below 1: mixed precision is faster).
"""

import argparse
import platform
import statistics
import time

import rtorch

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


def mlp(T):
    return T.nn.Sequential(
        T.nn.Linear(512, 1024), T.nn.ReLU(), T.nn.Linear(1024, 1024), T.nn.ReLU(), T.nn.Linear(1024, 10)
    )


def cnn(T):
    return T.nn.Sequential(
        T.nn.Conv2d(3, 32, 3, padding=1), T.nn.ReLU(), T.nn.MaxPool2d(2),
        T.nn.Conv2d(32, 64, 3, padding=1), T.nn.ReLU(), T.nn.MaxPool2d(2),
        T.nn.Flatten(), T.nn.Linear(64 * 8 * 8, 10),
    )


WORKLOADS = {
    "mlp 512-1024-1024-10, batch 256": (mlp, (256, 512)),
    "cnn 2 conv + linear, 32x32, batch 32": (cnn, (32, 3, 32, 32)),
}


def step_time(T, build, shape, device, dtype, mixed, steps):
    T.manual_seed(0)
    model = build(T).to(device)
    opt = T.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = T.randn(*shape, device=device)
    y = T.randint(0, 10, (shape[0],), device=device)
    scaler = T.amp.GradScaler(device, enabled=mixed and dtype == "float16")
    low = getattr(T, dtype)

    def step():
        opt.zero_grad()
        with T.autocast(device, dtype=low, enabled=mixed):
            loss = T.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device == "cuda":
            T.cuda.synchronize()

    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    libs = [("rtorch", rtorch)] + ([("torch", torch)] if torch is not None else [])
    rows = []
    for name, (build, shape) in WORKLOADS.items():
        for lib, T in libs:
            f32 = step_time(T, build, shape, args.device, args.dtype, False, args.steps)
            amp = step_time(T, build, shape, args.device, args.dtype, True, args.steps)
            rows.append((name, lib, f32 * 1e3, amp * 1e3, amp / f32))
    print(f"# {platform.processor() or platform.machine()}, device {args.device}, autocast dtype {args.dtype}")
    if args.markdown:
        print(f"| workload | library | float32 step (ms) | {args.dtype} autocast step (ms) | ratio |")
        print("|---|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.2f} |")
    else:
        for r in rows:
            print(f"{r[0]:40s} {r[1]:7s} f32 {r[2]:8.1f} ms   amp {r[3]:8.1f} ms   ratio {r[4]:.2f}")


if __name__ == "__main__":
    main()
