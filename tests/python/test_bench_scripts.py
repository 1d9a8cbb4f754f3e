"""The comparison benchmark runs and prints its table (a smoke test: timings are not checked)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_compare(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "compare.py"), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_compare_markdown_rounds():
    out = run_compare("--markdown", "--rounds", "2", "--only", "tiny,softmax")
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| workload | rtorch |")
    names = [r.split("|")[1].strip() for r in rows[1:]]
    assert names == ["softmax(dim=-1), 4096x1024", "tiny fwd+bwd (3 ops)"]
    for r in rows[1:]:
        assert r.split("|")[2].strip().endswith(" ms")


def test_compare_single_thread_plain():
    out = run_compare("--single-thread", "--only", "sum")
    assert "1 threads, CPU time" in out
    assert "sum(), 16M" in out
