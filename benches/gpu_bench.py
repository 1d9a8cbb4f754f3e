"""GPU benchmarks: the same workloads on rtorch and PyTorch on one GPU, in one run.

    python benches/gpu_bench.py [--quick]

Times with each library's CUDA events after a warm-up (kernel compilation, cuBLAS handles)
and prints the median per workload, PyTorch's time, and the ratio rtorch / PyTorch (below 1
is faster). Elementwise rows also give the achieved bandwidth against a device-to-device
copy measured in the same run.
"""

import argparse
import statistics
import sys

import rtorch

try:
    import torch
except ImportError:  # the table then has rtorch's column only
    torch = None


def timed(lib, fn, reps):
    """Median milliseconds of `fn` over `reps` runs, timed with `lib`'s CUDA events."""
    for _ in range(3):
        fn()
    lib.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = lib.cuda.Event(enable_timing=True), lib.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def set_tf32(lib, on):
    lib.backends.cuda.matmul.allow_tf32 = on


def mlp_step(lib):
    """An MLP training step (AdamW, batch 512) on `lib` (rtorch or torch)."""
    lib.manual_seed(0)
    net = lib.nn.Sequential(
        lib.nn.Linear(1024, 4096), lib.nn.ReLU(), lib.nn.Linear(4096, 4096), lib.nn.ReLU(),
        lib.nn.Linear(4096, 10),
    ).to("cuda")
    opt = lib.optim.AdamW(net.parameters(), lr=1e-3)
    x = lib.randn(512, 1024, device="cuda")
    y = lib.randint(0, 10, (512,), device="cuda")

    def step():
        opt.zero_grad()
        lib.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    return step


def transformer_step(lib):
    """A TransformerEncoderLayer(512, 8 heads) + head training step (AdamW) on `lib`."""
    lib.manual_seed(0)
    layer = lib.nn.TransformerEncoderLayer(512, 8, 2048, dropout=0.1, batch_first=True)
    net = lib.nn.Sequential(layer).to("cuda")
    head = lib.nn.Linear(512, 1000).to("cuda")
    params = list(net.parameters()) + list(head.parameters())
    opt = lib.optim.AdamW(params, lr=1e-4)
    x = lib.randn(32, 128, 512, device="cuda")
    y = lib.randint(0, 1000, (32 * 128,), device="cuda")

    def step():
        opt.zero_grad()
        out = head(net(x)).reshape(-1, 1000)
        lib.nn.functional.cross_entropy(out, y).backward()
        opt.step()

    return step


def workloads(quick):
    n_big = (1 << 26) if quick else (1 << 28)  # elements for add/exp
    rows = 8192 if quick else 32768

    def matmul(dtype_name, tf32):
        def setup(lib):
            dt = getattr(lib, dtype_name)
            a = lib.randn(4096, 4096, device="cuda").to(dt)
            b = lib.randn(4096, 4096, device="cuda").to(dt)
            set_tf32(lib, tf32)
            return lambda: a @ b

        return setup

    def elementwise(op):
        def setup(lib):
            x = lib.rand(n_big, device="cuda")
            y = lib.rand(n_big, device="cuda")
            return (lambda: x + y) if op == "add" else (lambda: lib.exp(x))

        return setup

    def copy(lib):
        x = lib.rand(n_big, device="cuda")
        return lambda: x.clone()

    def small_ops(lib):
        # Launch- and host-bound: 100 tiny adds, the per-op cost a training step pays.
        x = lib.rand(4096, device="cuda")
        y = lib.rand(4096, device="cuda")

        def run():
            for _ in range(100):
                x + y

        return run

    def softmax(lib):
        x = lib.randn(rows, 4096, device="cuda")
        return lambda: lib.softmax(x, dim=-1)

    def layer_norm(lib):
        x = lib.randn(rows, 4096, device="cuda")
        ln = lib.nn.LayerNorm(4096).to("cuda")
        return lambda: ln(x)

    gb = n_big * 4 / 1e9
    return [
        ("matmul f32 4096", matmul("float32", False), None),
        ("matmul tf32 4096", matmul("float32", True), None),
        ("matmul bf16 4096", matmul("bfloat16", False), None),
        (f"copy {n_big >> 20}M f32", copy, 2 * gb),
        (f"add {n_big >> 20}M f32", elementwise("add"), 3 * gb),
        (f"exp {n_big >> 20}M f32", elementwise("exp"), 2 * gb),
        ("100 x add 4K f32 (per-op overhead)", small_ops, None),
        (f"softmax {rows}x4096", softmax, None),
        (f"layer_norm {rows}x4096", layer_norm, None),
        ("MLP step (AdamW, batch 512)", mlp_step, None),
        ("transformer step (512d, 8 heads)", transformer_step, None),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not rtorch.cuda.is_available():
        sys.exit("rtorch sees no CUDA device")
    reps = 5 if args.quick else 20
    print(f"device: {rtorch.cuda.get_device_name(0)}; torch: "
          f"{torch.__version__ if torch is not None else 'not installed'}")
    rows = []
    print(HEADER, flush=True)
    for name, setup, gbytes in workloads(args.quick):
        line = [name]
        for lib in (rtorch, torch):
            if lib is None:
                line.append(None)
                continue
            try:
                line.append(timed(lib, setup(lib), reps))
            except Exception as e:  # report and go on: one table for the whole run
                print(f"{name} on {lib.__name__}: {type(e).__name__}: {e}", file=sys.stderr)
                line.append(None)
            finally:
                set_tf32(lib, False)
        line.append(gbytes)
        rows.append(line)
        print(_row(*line), flush=True)  # as it comes: a run cut short still reports
        rtorch.cuda.empty_cache()
        if torch is not None:
            torch.cuda.empty_cache()
    print(HEADER)
    for line in rows:
        print(_row(*line))


HEADER = f"{'workload':36s} {'rtorch ms':>10s} {'torch ms':>10s} {'ratio':>7s} {'GB/s':>8s}"


def _row(name, r, t, gbytes):
    def fmt(v):
        return f"{v:10.3f}" if v is not None else f"{'-':>10s}"

    ratio = f"{r / t:7.2f}" if r is not None and t else f"{'-':>7s}"
    bw = f"{gbytes / (r / 1e3):8.0f}" if gbytes and r else f"{'':>8s}"
    return f"{name:36s} {fmt(r)} {fmt(t)} {ratio} {bw}"


if __name__ == "__main__":
    main()
