"""Compile kernel families in cuda/ with NVRTC from the nvidia-cuda-nvrtc wheel, without a GPU.

    python scripts/nvrtc_compile.py [family ...] [--arch sm_90] [--entries]

Prints the NVRTC log of each family and exits non-zero on an error or warning. A development
aid; the test suite checks the same sources through `rtorch._C._cuda_compile_check`, which
uses the options the runtime uses.
"""

import argparse
import ctypes
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_nvrtc():
    import importlib.util

    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the nvidia-cuda-nvrtc wheel is not installed")
    for base in spec.submodule_search_locations:
        for lib in sorted(pathlib.Path(base).glob("*/lib")):
            builtins = sorted(lib.glob("libnvrtc-builtins.so.*"))
            main = lib / "libnvrtc.so.13"
            if main.exists():
                for b in builtins:
                    if ".alt." not in b.name:
                        ctypes.CDLL(str(b), mode=ctypes.RTLD_GLOBAL)
                return ctypes.CDLL(str(main), mode=ctypes.RTLD_GLOBAL)
    sys.exit("libnvrtc.so.13 not found")


def compile_family(nv, name, arch, ptx):
    src = (ROOT / "cuda" / "prelude.cuh").read_text() + "\n" + (ROOT / "cuda" / f"{name}.cu").read_text()
    prog = ctypes.c_void_p()
    rc = nv.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), f"{name}.cu".encode(), 0, None, None)
    assert rc == 0, rc
    target = arch.replace("sm_", "compute_") if ptx else arch
    opts = [f"--gpu-architecture={target}".encode(), b"--std=c++17", b"-default-device"]
    arr = (ctypes.c_char_p * len(opts))(*opts)
    rc = nv.nvrtcCompileProgram(prog, len(opts), arr)
    size = ctypes.c_size_t()
    nv.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nv.nvrtcGetProgramLog(prog, log)
    text = log.value.decode(errors="replace").strip()
    entries = []
    if rc == 0 and ptx:
        nv.nvrtcGetPTXSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        nv.nvrtcGetPTX(prog, buf)
        entries = re.findall(r"\.entry\s+(\w+)", buf.value.decode())
    return rc, text, entries


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("families", nargs="*")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--entries", action="store_true", help="list the kernel entry points")
    a = ap.parse_args()
    fams = a.families or sorted(p.stem for p in (ROOT / "cuda").glob("*.cu"))
    nv = load_nvrtc()
    bad = False
    for f in fams:
        rc, log, entries = compile_family(nv, f, a.arch, ptx=True)
        if rc == 0:
            rc, log2, _ = compile_family(nv, f, a.arch, ptx=False)
            log = log or log2
        status = "ok" if rc == 0 and not log else ("WARN" if rc == 0 else "ERROR")
        bad |= status != "ok"
        print(f"{f}: {status} ({len(entries)} kernels)")
        if log:
            print(log)
        if a.entries:
            print(" ".join(entries))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
