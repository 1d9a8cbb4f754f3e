"""The CUDA kernels (cuda/*.cu) compiled as host C++ with the emulation shim of
tests/cuda_emulation and run on the CPU against reference implementations: their semantics
are checked on every machine with a C++20 g++, GPU or not. One test per kernel family; a
failure shows the program's FAIL lines. Does not import rtorch."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "cuda_emulation_driver", ROOT / "tests" / "cuda_emulation" / "driver.py"
)
driver = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = driver
_spec.loader.exec_module(driver)

PROBLEM = driver.compiler_problem()
pytestmark = pytest.mark.skipif(
    PROBLEM is not None, reason=f"cannot build the emulation: {PROBLEM}"
)

FAMILIES = driver.families()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every family built and run once, two at a time."""
    return driver.run_all(FAMILIES, tmp_path_factory.mktemp("cuda_emulation"), workers=2)


def _failure_report(r):
    lines = r["output"].splitlines()
    fails = [ln for ln in lines if "FAIL" in ln or ln.startswith("  ")]
    summary = [ln for ln in lines if re.search(r"\d+ checks, \d+ failures", ln)]
    return "\n".join(fails[:60] + summary) or r["output"][-3000:]


@pytest.mark.parametrize("family", FAMILIES)
def test_family(results, family):
    r = results[family]
    assert r["built"], f"{family}: the emulation build failed:\n{r['log'][-6000:]}"
    assert r["rc"] == 0, f"{family}: exit status {r['rc']}\n{_failure_report(r)}"
    assert not r["missing"], f"{family}: kernels the test never launches: {r['missing']}"


def test_every_kernel_family_has_an_emulation_test():
    missing = driver.untested_families()
    assert not missing, (
        f"cuda/{{{','.join(missing)}}}.cu define kernels but tests/cuda_emulation has no "
        "test_<family>.cpp for them"
    )


def _rust_order(fn_name):
    src = (ROOT / "src" / "cuda_backend" / "elementwise.rs").read_text()
    body = re.search(r"fn " + fn_name + r"\(.*?\[(.*?)\]", src, re.S).group(1)
    return re.findall(r"\w+", body)


def _cpp_order(macro):
    src = (ROOT / "tests" / "cuda_emulation" / "test_elementwise.cpp").read_text()
    start = src.index("#define " + macro + "(X)")
    end = re.compile(r"[^\\]\n").search(src, start).end()  # the first line not continued
    return re.findall(r"X\((\w+)\)", src[start:end])


@pytest.mark.parametrize(
    "fn_name,macro", [("unary_code", "UNARY_OPS"), ("binary_code", "BINARY_OPS")]
)
def test_op_codes_follow_the_rust_launcher(fn_name, macro):
    """The emulation test numbers ops as the Rust launcher does, so a kernel whose op enum
    drifts from the launcher fails there."""
    assert _cpp_order(macro) == _rust_order(fn_name)


def test_reduction_kernels_under_emulation():
    """Row reductions and arg-reductions (every op, every dtype, strided rows, segmented long
    rows) through scripts/cuda_emu; its scan and sort suites take minutes and run by hand
    (`python scripts/cuda_emu/run.py reduce all`)."""
    problem = driver.compiler_problem()
    if problem:
        pytest.skip(problem)
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cuda_emu" / "run.py"), "reduce", "reduce"],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "0 failures" in r.stdout, r.stdout[-3000:]
