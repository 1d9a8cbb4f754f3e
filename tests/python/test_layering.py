"""The layering rule, checked on the source: the tensor layer reaches memory only through the
backend contract (no CPU kernel calls, no raw storage access), and only `src/backend` names
the CPU and CUDA backends."""

import pathlib
import re

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"

FORBIDDEN_IN_TENSOR_LAYER = [
    r"\bcpu::",
    r"crate::cpu\b",
    r"\bcpu_slice(_mut)?\b",
    r"\bcpu_bytes\b",
    r"\bas_slice::<",
    r"\bas_mut_slice\b",
    r"\bcuda_backend\b",
    r"from_vec_unchecked\(",
]


def rust_files(folder):
    if not (SRC / folder).exists():
        pytest.skip("source tree not available (installed package)")
    return sorted((SRC / folder).rglob("*.rs"))


def code_lines(path):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield n, line


@pytest.mark.parametrize("folder", ["tensor", "autograd"])
def test_tensor_layer_calls_no_kernel_and_touches_no_memory(folder):
    offenders = []
    for path in rust_files(folder):
        for n, line in code_lines(path):
            for pat in FORBIDDEN_IN_TENSOR_LAYER:
                if re.search(pat, line):
                    offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert not offenders, "tensor layer reaches past the backend contract:\n" + "\n".join(
        offenders
    )


def test_one_dispatch_point():
    # Only src/backend/mod.rs maps a device to its kernels.
    offenders = []
    for path in sorted(SRC.rglob("*.rs")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(("backend/", "cpu/", "cuda_backend/")) or rel == "storage.rs":
            continue
        for n, line in code_lines(path):
            if re.search(r"CpuBackend|Buffer::(Cpu|Cuda)", line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
