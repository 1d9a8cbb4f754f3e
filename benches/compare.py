"""Times the same workloads on rtorch, NumPy and PyTorch (when installed) in one run and
prints each library's median time and its ratio to rtorch.

    python benches/compare.py            # all workloads
    python benches/compare.py --quick    # fewer repetitions
"""

import argparse
import statistics
import time

import numpy as np

import rtorch

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


def timeit(fn, reps):
    fn()  # warm up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def workloads():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1000, 1000)).astype(np.float32)
    b = rng.standard_normal((1000, 1000)).astype(np.float32)
    m = rng.standard_normal((512, 512)).astype(np.float32)
    x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    small = rng.standard_normal(8).astype(np.float32)
    mlp_x = rng.standard_normal((64, 64)).astype(np.float32)

    def lib_inputs(lib):
        if lib == "numpy":
            return dict(a=a, b=b, m=m, small=small)
        mod = rtorch if lib == "rtorch" else torch
        return dict(
            a=mod.from_numpy(a), b=mod.from_numpy(b), m=mod.from_numpy(m), x=mod.from_numpy(x),
            w=mod.from_numpy(w), small=mod.from_numpy(small).clone().requires_grad_(True),
            mlp_x=mod.from_numpy(mlp_x), mod=mod,
        )

    def mlp_step(d):
        mod = d["mod"]
        if "mlp" not in d:
            mod.manual_seed(0)
            net = mod.nn.Sequential(mod.nn.Linear(64, 128), mod.nn.ReLU(), mod.nn.Linear(128, 10))
            d["mlp"] = (net, mod.optim.Adam(net.parameters(), lr=1e-3), mod.randint(0, 10, (64,)))
        net, opt, y = d["mlp"]
        opt.zero_grad()
        mod.nn.functional.cross_entropy(net(d["mlp_x"]), y).backward()
        opt.step()

    def chain(d):
        y = d["small"]
        for _ in range(1000):
            y = y * 1.0001
        y.sum().backward()

    return lib_inputs, [
        ("add 1M f32", lambda d: d["a"] + d["b"], True),
        ("exp 1M f32", lambda d: np.exp(d["a"]) if isinstance(d["a"], np.ndarray) else d["a"].exp(), True),
        ("sum 1M f32", lambda d: d["a"].sum(), True),
        ("matmul 512 f32", lambda d: d["m"] @ d["m"], True),
        ("softmax 1000x1000", lambda d: d["a"].softmax(-1), False),
        ("conv2d 64x3x32x32 k3", lambda d: d["mod"].conv2d(d["x"], d["w"], padding=1), False),
        ("tiny fwd+bwd (3 ops)", lambda d: ((d["small"] * d["small"]) + 1).sum().backward(), False),
        ("1000-op chain fwd+bwd", chain, False),
        ("MLP train step (64x64)", mlp_step, False),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    reps = 5 if args.quick else 20
    lib_inputs, jobs = workloads()
    libs = ["rtorch", "numpy"] + (["torch"] if torch is not None else [])
    if torch is not None:
        torch.set_num_threads(rtorch.get_num_threads())
    inputs = {lib: lib_inputs(lib) for lib in libs}
    header = f"{'workload':26s} {'rtorch':>10s}" + "".join(f" {lib:>10s} {'ratio':>6s}" for lib in libs[1:])
    print(header)
    print("-" * len(header))
    for name, fn, numpy_ok in jobs:
        t_r = timeit(lambda fn=fn: fn(inputs["rtorch"]), reps)
        row = f"{name:26s} {t_r * 1e3:9.3f}ms"
        for lib in libs[1:]:
            if lib == "numpy" and not numpy_ok:
                row += f" {'-':>10s} {'':>6s}"
                continue
            t = timeit(lambda lib=lib, fn=fn: fn(inputs[lib]), reps)
            row += f" {t * 1e3:9.3f}ms {t / t_r:5.2f}x"
        print(row)
    print("ratio = other library's time / rtorch's time (above 1: rtorch is faster)")


if __name__ == "__main__":
    main()
