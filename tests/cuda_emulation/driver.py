"""Builds and runs the host-emulation tests of the CUDA kernel families.

Each family `cuda/<name>.cu` with a test program `tests/cuda_emulation/test_<name>.cpp` is
compiled as one C++20 translation unit: shim.h (the CUDA emulation), the prelude, the family's
source, then the test program (g++ -include, in that order). The program prints one
"FAIL ..." line per failed check and "kernels launched: ..." at the end; it exits non-zero on
any failure. `check_coverage` compares the launched kernels with the family's entry points
(the unmangled functions of the executable).

    python tests/cuda_emulation/driver.py [family ...]    # build and run, print the output
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CUDA = ROOT / "cuda"
CXX = "g++"
FLAGS = [
    "-std=c++20",
    "-O1",
    "-pthread",
    "-DRTORCH_HOST_EMULATION",
    "-fno-strict-aliasing",  # the prelude reads scalars through reinterpret_cast
    "-ffp-contract=off",  # no fused multiply-add: roundings as written
]
# Extra compiler flags from the environment, e.g. EMU_CXXFLAGS="-fsanitize=undefined
# -fno-sanitize-recover=all" to stop at undefined behaviour in a kernel.
FLAGS += os.environ.get("EMU_CXXFLAGS", "").split()
RUN_TIMEOUT = 300


def families() -> list[str]:
    """Families that have a test program."""
    return sorted(p.stem[len("test_") :] for p in HERE.glob("test_*.cpp"))


def untested_families() -> list[str]:
    """Families whose source defines kernels but that have no test program (a placeholder
    source without `__global__` does not count)."""
    tested = set(families())
    # The reduction family has its own harness (fibers for CUDA threads) in scripts/cuda_emu.
    tested |= {p.name.removesuffix("_test.cpp") for p in (ROOT / "scripts" / "cuda_emu").glob("*_test.cpp")}
    return sorted(
        p.stem for p in CUDA.glob("*.cu") if p.stem not in tested and "__global__" in p.read_text()
    )


def compiler_problem() -> str | None:
    """None when g++ can build the tests, else why not."""
    if shutil.which(CXX) is None:
        return f"{CXX} not found"
    probe = (
        "#include <barrier>\n#include <atomic>\nint main() { int x = 0; "
        "std::atomic_ref<int>(x).fetch_add(1); std::barrier<> b(1); return 0; }\n"
    )
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "probe.cpp"
        src.write_text(probe)
        r = subprocess.run(
            [CXX, "-std=c++20", "-pthread", str(src), "-o", str(Path(d) / "p")],
            capture_output=True,
            text=True,
        )
    if r.returncode != 0:
        return f"{CXX} lacks C++20 (<barrier>, std::atomic_ref): {r.stderr.strip()[:300]}"
    return None


def build(family: str, outdir: Path) -> tuple[Path | None, str]:
    """Compiles one family's test program; (executable or None, compiler output)."""
    exe = outdir / f"emu_{family}"
    cmd = [
        CXX,
        *FLAGS,
        "-I",
        str(HERE),
        "-include",
        str(HERE / "shim.h"),
        "-include",
        str(CUDA / "prelude.cuh"),
        "-include",
        str(CUDA / f"{family}.cu"),
        str(HERE / f"test_{family}.cpp"),
        "-o",
        str(exe),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return (exe if r.returncode == 0 else None), r.stdout + r.stderr


def run(exe: Path, timeout: float = RUN_TIMEOUT) -> tuple[int, str]:
    """Runs a test program; (exit status, output). A timeout counts as status -1."""
    try:
        r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return -1, out + f"\nFAIL: timed out after {timeout} s"
    return r.returncode, r.stdout + r.stderr


def entry_points(exe: Path) -> set[str] | None:
    """The executable's unmangled global functions other than main: the kernels (extern "C"
    in the family's source). None when `nm` is unavailable."""
    if shutil.which("nm") is None:
        return None
    r = subprocess.run(["nm", "--defined-only", "-g", str(exe)], capture_output=True, text=True)
    names = set()
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "Tt" and re.fullmatch(r"[A-Za-z]\w*", parts[2]):
            names.add(parts[2])
    names.discard("main")
    return names


def launched(output: str) -> set[str]:
    m = re.search(r"^kernels launched:(.*)$", output, re.M)
    return set(m.group(1).split()) if m else set()


def check_coverage(exe: Path, output: str) -> list[str]:
    """Kernels of the family the test program never launched."""
    names = entry_points(exe)
    return [] if names is None else sorted(names - launched(output))


def build_and_run(family: str, outdir: Path) -> dict:
    exe, log = build(family, outdir)
    if exe is None:
        return {"family": family, "built": False, "log": log}
    rc, out = run(exe)
    return {
        "family": family,
        "built": True,
        "log": log,
        "rc": rc,
        "output": out,
        "missing": check_coverage(exe, out) if rc == 0 else [],
    }


def run_all(names: list[str], outdir: Path, workers: int = 2) -> dict[str, dict]:
    with ThreadPoolExecutor(workers) as pool:
        return {r["family"]: r for r in pool.map(lambda f: build_and_run(f, outdir), names)}


def main(argv: list[str]) -> int:
    problem = compiler_problem()
    if problem:
        print(problem)
        return 2
    names = argv or families()
    status = 0
    with tempfile.TemporaryDirectory() as d:
        for name, r in run_all(names, Path(d)).items():
            print(f"==== {name}")
            if not r["built"]:
                print(r["log"])
                status = 1
                continue
            print(r["output"].rstrip())
            if r["missing"]:
                print("FAIL: kernels never launched: " + " ".join(r["missing"]))
            status |= r["rc"] != 0 or bool(r["missing"])
    for name in untested_families():
        print(f"FAIL: cuda/{name}.cu defines kernels but has no test_{name}.cpp")
        status = 1
    return int(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
