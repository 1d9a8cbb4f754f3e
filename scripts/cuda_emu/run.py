"""Run a kernel family's host test on the CPU, without a GPU.

    python scripts/cuda_emu/run.py reduce [test args...]

Builds cuda/prelude.cuh + cuda/<family>.cu as C++20 for the host with shim.h (every CUDA
thread of a block is a cooperative fiber; __syncthreads and warp shuffles are barriers, so a
shuffle or barrier that not every thread reaches hangs or reports a mismatch) and links it
with <family>_test.cpp, which drives the kernels like the Rust side and checks them against a
sequential model of the CPU backend. Scheduling is deterministic, so data races that need
real concurrency are not found. A development aid; needs g++ 12 or newer.
"""

import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# Host versions of the prelude's PTX half conversions.
HALF = r"""
inline float h2f(f16 h) { _Float16 x; memcpy(&x, &h.x, 2); return (float)x; }
inline f16 f2h(float f) { _Float16 x = (_Float16)f; f16 h; memcpy(&h.x, &x, 2); return h; }
inline float b2f(bf16 b) { return __uint_as_float(((u32)b.x) << 16); }
inline bf16 f2b(float f) {
    u32 u = __float_as_uint(f); bf16 b;
    if ((u & 0x7fffffff) > 0x7f800000) { b.x = (u >> 16) | 0x40; return b; }
    u += 0x7fff + ((u >> 16) & 1); b.x = u >> 16; return b;
}
"""


def main():
    family = sys.argv[1] if len(sys.argv) > 1 else "reduce"
    pre = (ROOT / "cuda" / "prelude.cuh").read_text()
    a, b = pre.index("// ---- half conversions"), pre.index("// ---- type traits")
    pre = pre[:a] + HALF + pre[b:]
    body = (ROOT / "cuda" / f"{family}.cu").read_text()
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        (d / "kern.h").write_text(f'#include "{HERE / "shim.h"}"\n{pre}\n{body}')
        exe = d / "test"
        cmd = [
            "g++",
            "-std=c++20",
            "-O1",
            "-w",
            f"-I{d}",
            str(HERE / f"{family}_test.cpp"),
            "-o",
            str(exe),
        ]
        subprocess.run(cmd, check=True)
        sys.exit(subprocess.run([str(exe), *sys.argv[2:]]).returncode)


if __name__ == "__main__":
    main()
