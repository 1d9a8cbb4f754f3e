"""Times the same workloads on rtorch, PyTorch (when installed) and NumPy (where the workload
is a plain array operation) in one run, and prints each library's median time and the ratio
rtorch / other (below 1: rtorch is faster).

    python benches/compare.py                 # every workload
    python benches/compare.py --quick         # fewer repetitions
    python benches/compare.py --only conv,lstm
    python benches/compare.py --markdown      # a table for the README
    python benches/compare.py --single-thread # one thread each, CPU time
    python benches/compare.py --rounds 3      # each library timed 3 times, alternating
"""

import argparse
import os
import platform
import statistics
import sys
import time

if "--single-thread" in sys.argv:
    # NumPy's and PyTorch's BLAS read these when they load.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"

import numpy as np  # noqa: E402

import rtorch  # noqa: E402

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


# Wall-clock time by default; CPU time of the process with --single-thread.
CLOCK = time.perf_counter


# Seconds to wait before timing each library: BLAS and OpenMP worker threads keep spinning
# for up to ~0.2 s after their last parallel region (OpenBLAS, Intel/GNU OpenMP), and on a
# small machine a library timed in that window loses its cores to the previous one's
# threads (measured: a 1024² matmul right after NumPy's took 1.5–1.7× as long).
SETTLE_S = 0.3


def median_time(fn, reps, min_time=0.2):
    """Median seconds per call over `reps` calls (more when calls are short), started on
    settled cores."""
    time.sleep(SETTLE_S)
    fn()  # warm up: caches, lazily built modules, first-touch pages
    t0 = CLOCK()
    fn()
    once = CLOCK() - t0
    reps = max(reps, min(200, int(min_time / max(once, 1e-6))))
    times = []
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    return statistics.median(times)


class Workload:
    """A named job built once per library: `setup(lib)` returns a callable to time."""

    def __init__(self, name, key, setup, numpy_setup=None):
        self.name, self.key, self.setup, self.numpy_setup = name, key, setup, numpy_setup


def arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def np_exp(a):
    return lambda: np.exp(a)


def elementwise(name, key, op, np_op, n=1 << 24):
    a, b = arr(n), arr(n, seed=1)

    def setup(L):
        x, y = L.from_numpy(a.copy()), L.from_numpy(b.copy())
        return lambda: op(L, x, y)

    def nsetup():
        x, y = a.copy(), b.copy()
        return lambda: np_op(x, y)

    return Workload(name, key, setup, nsetup if np_op else None)


def sum_dim0():
    a = arr(4096, 1024)

    def setup(L):
        x = L.from_numpy(a)
        return lambda: x.sum(dim=0)

    return Workload("x.sum(dim=0), 4096x1024", "sum0", setup, lambda: lambda: a.sum(axis=0))


def softmax():
    a = arr(4096, 1024)

    def setup(L):
        x = L.from_numpy(a)
        return lambda: L.softmax(x, dim=-1)

    return Workload("softmax(dim=-1), 4096x1024", "softmax", setup)


def layer_norm():
    a = arr(4096, 1024)

    def setup(L):
        L.manual_seed(0)
        ln = L.nn.LayerNorm(1024)
        x = L.from_numpy(a).requires_grad_(True)

        def run():
            ln(x).sum().backward()

        return run

    return Workload("LayerNorm(1024) fwd+bwd, 4096 rows", "layernorm", setup)


def cross_entropy():
    a = arr(1024, 8192)
    t = np.random.default_rng(2).integers(0, 8192, 1024)

    def setup(L):
        x = L.from_numpy(a).requires_grad_(True)
        y = L.from_numpy(t)

        def run():
            L.nn.functional.cross_entropy(x, y).backward()

        return run

    return Workload("cross_entropy fwd+bwd, 1024x8192", "xent", setup)


def conv(backward):
    a = arr(8, 64, 56, 56)

    def setup(L):
        L.manual_seed(0)
        c = L.nn.Conv2d(64, 64, 3, padding=1)
        x = L.from_numpy(a).requires_grad_(backward)

        def run():
            out = c(x)
            if backward:
                out.sum().backward()

        return run

    tag = "fwd+bwd" if backward else "fwd"
    return Workload(
        f"Conv2d 64->64 3x3 8x64x56x56 {tag}", "conv_bwd" if backward else "conv", setup
    )


def cnn_step():
    a = arr(32, 1, 28, 28)
    t = np.random.default_rng(3).integers(0, 10, 32)

    def setup(L):
        L.manual_seed(0)
        nn = L.nn
        net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 10),
        )
        opt = L.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        x, y = L.from_numpy(a), L.from_numpy(t)

        def run():
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        return run

    return Workload("small CNN train step, batch 32, 28x28", "cnn", setup)


def lstm_step():
    a = arr(50, 32, 128)

    def setup(L):
        L.manual_seed(0)
        lstm = L.nn.LSTM(128, 256)
        head = L.nn.Linear(256, 1)
        opt = L.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=0.01)
        x = L.from_numpy(a)

        def run():
            opt.zero_grad()
            out, _ = lstm(x)
            head(out[-1]).pow(2).mean().backward()
            opt.step()

        return run

    return Workload("LSTM(128->256) train step, 50x32", "lstm", setup)


def lstm_cell_loop():
    """The same sizes as `lstm_step`, stepped from Python with LSTMCell (a decoder's shape):
    small GEMMs per step and a weight gradient summed over 50 uses."""
    a = arr(50, 32, 128)

    def setup(L):
        L.manual_seed(0)
        cell = L.nn.LSTMCell(128, 256)
        head = L.nn.Linear(256, 1)
        opt = L.optim.SGD(list(cell.parameters()) + list(head.parameters()), lr=0.01)
        x = L.from_numpy(a)

        def run():
            opt.zero_grad()
            h = c = L.zeros(32, 256)
            for t in range(50):
                h, c = cell(x[t], (h, c))
            head(h).pow(2).mean().backward()
            opt.step()

        return run

    return Workload("LSTMCell(128->256) loop train step, 50x32", "lstmcell", setup)


def transformer_step():
    a = arr(16, 64, 256)
    t = np.random.default_rng(4).integers(0, 16, 16 * 64)

    def setup(L):
        L.manual_seed(0)
        layer = L.nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
        head = L.nn.Linear(256, 16)
        opt = L.optim.AdamW(list(layer.parameters()) + list(head.parameters()), lr=1e-3)
        x, y = L.from_numpy(a), L.from_numpy(t)

        def run():
            opt.zero_grad()
            logits = head(layer(x)).reshape(-1, 16)
            L.nn.functional.cross_entropy(logits, y).backward()
            opt.step()

        return run

    return Workload("TransformerEncoderLayer(256) AdamW step, 16x64", "transformer", setup)


def mlp_step():
    a = arr(256, 784)
    t = np.random.default_rng(5).integers(0, 10, 256)

    def setup(L):
        L.manual_seed(0)
        nn = L.nn
        net = nn.Sequential(
            nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
        )
        opt = L.optim.SGD(net.parameters(), lr=0.01)
        x, y = L.from_numpy(a), L.from_numpy(t)

        def run():
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        return run

    return Workload("MLP 784-1024-1024-10 SGD step, b256", "mlp", setup)


def matmul(n):
    a, b = arr(n, n), arr(n, n, seed=1)

    def setup(L):
        x, y = L.from_numpy(a), L.from_numpy(b)
        return lambda: x @ y

    return Workload(f"matmul {n}x{n}", f"mm{n}", setup, lambda: lambda: a @ b)


def tiny_graph():
    a = arr(8)

    def setup(L):
        x = L.from_numpy(a).requires_grad_(True)
        return lambda: ((x * x) + 1).sum().backward()

    return Workload("tiny fwd+bwd (3 ops)", "tiny", setup)


def workloads():
    """(key, constructor) pairs: a workload's arrays are only built when it runs."""
    return [
        (
            "add_",
            lambda: elementwise(
                "x.add_(y), 16M, in place",
                "add_",
                lambda L, x, y: x.add_(y),
                lambda x, y: np.add(x, y, out=x),
            ),
        ),
        (
            "add",
            lambda: elementwise("x + y, 16M", "add", lambda L, x, y: x + y, lambda x, y: x + y),
        ),
        (
            "exp",
            lambda: elementwise(
                "exp, 16M", "exp", lambda L, x, y: L.exp(x), lambda x, y: np.exp(x)
            ),
        ),
        (
            "tanh",
            lambda: elementwise(
                "tanh, 16M", "tanh", lambda L, x, y: L.tanh(x), lambda x, y: np.tanh(x)
            ),
        ),
        (
            "gelu",
            lambda: elementwise("gelu, 16M", "gelu", lambda L, x, y: L.nn.functional.gelu(x), None),
        ),
        (
            "sigmoid",
            lambda: elementwise("sigmoid, 16M", "sigmoid", lambda L, x, y: L.sigmoid(x), None),
        ),
        (
            "sum",
            lambda: elementwise("sum(), 16M", "sum", lambda L, x, y: x.sum(), lambda x, y: x.sum()),
        ),
        ("sum0", sum_dim0),
        ("softmax", softmax),
        ("layernorm", layer_norm),
        ("xent", cross_entropy),
        ("conv", lambda: conv(False)),
        ("conv_bwd", lambda: conv(True)),
        ("cnn", cnn_step),
        ("lstm", lstm_step),
        ("lstmcell", lstm_cell_loop),
        ("transformer", transformer_step),
        ("mlp", mlp_step),
        ("mm256", lambda: matmul(256)),
        ("mm1024", lambda: matmul(1024)),
        ("mm2048", lambda: matmul(2048)),
        ("tiny", tiny_graph),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default="", help="comma-separated workload keys")
    p.add_argument("--markdown", action="store_true")
    p.add_argument(
        "--single-thread",
        action="store_true",
        help="one thread in every library, timed in CPU time (time.process_time): the kernels "
        "compared without thread scheduling, robust to other load on the machine",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="time every library this many times per workload, alternating which goes first; "
        "prints median times, the median of the per-round ratios and their range (on a noisy "
        "machine the libraries then see the same load phases)",
    )
    args = p.parse_args()
    reps = 3 if args.quick else 10
    rounds = max(1, args.rounds)
    only = {k for k in args.only.split(",") if k}
    global CLOCK
    if args.single_thread:
        rtorch.set_num_threads(1)
        CLOCK = time.process_time
    threads = rtorch.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    libs = [("rtorch", rtorch)] + ([("torch", torch)] if torch is not None else [])
    versions = f"rtorch {rtorch.__version__}, numpy {np.__version__}"
    if torch is not None:
        versions += f", PyTorch {torch.__version__}"
    clock = "CPU time" if args.single_thread else "wall time"
    print(f"# {platform.processor() or platform.machine()}, {threads} threads, {clock}; {versions}")
    spread = rounds > 1
    if args.markdown:
        extra = " ratio range |" if spread else ""
        print("| workload | rtorch | PyTorch | rtorch/PyTorch | NumPy | rtorch/NumPy |" + extra)
        print("|---|---:|---:|---:|---:|---:|" + ("---:|" if spread else ""))
    else:
        print(
            f"{'workload':44s} {'rtorch':>9s} {'torch':>9s} {'ratio':>6s} {'numpy':>9s} {'ratio':>6s}"
        )
    for key, make in workloads():
        if only and key not in only:
            continue
        w = make()
        runs = [(name, w.setup(L)) for name, L in libs]
        if w.numpy_setup is not None:
            runs.append(("numpy", w.numpy_setup()))
        per_round = {name: [] for name, _ in runs}
        for k in range(rounds):
            for name, run in runs if k % 2 == 0 else runs[::-1]:
                per_round[name].append(median_time(run, reps))
        times = {name: statistics.median(ts) for name, ts in per_round.items()}
        r = times["rtorch"]
        cells = [f"{r * 1e3:.2f} ms"]
        for lib in ("torch", "numpy"):
            if lib not in times:
                cells += ["-", "-"]
                continue
            ratios = [a / b for a, b in zip(per_round["rtorch"], per_round[lib])]
            cells += [f"{times[lib] * 1e3:.2f} ms", f"{statistics.median(ratios):.2f}"]
        if spread and "torch" in per_round:
            ratios = [a / b for a, b in zip(per_round["rtorch"], per_round["torch"])]
            cells.append(f"{min(ratios):.2f}–{max(ratios):.2f}")
        if args.markdown:
            print(f"| {w.name} | " + " | ".join(cells) + " |")
        else:
            print(
                f"{w.name:44s} "
                + " ".join(f"{c:>9s}" if i % 2 == 0 else f"{c:>6s}" for i, c in enumerate(cells))
            )
    if not args.markdown:
        print("ratio = rtorch time / other time (below 1: rtorch is faster)")


if __name__ == "__main__":
    main()
