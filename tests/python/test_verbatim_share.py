"""rtorch's Python sources are its own: at most VERBATIM_LIMIT_PERCENT of the long code lines
under rtorch/ may stand identically in PyTorch's Python files (counted by
scripts/verbatim_share.py, which needs PyTorch installed)."""

import importlib.util
import os

import pytest

VERBATIM_LIMIT_PERCENT = 5.0

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "verbatim_share.py")


def _load_counter():
    spec = importlib.util.spec_from_file_location("verbatim_share", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _share(counter, package_root, reference):
    """(verbatim lines, long code lines, per-file hits) over every .py file under the package."""
    same = total = 0
    per_file = {}
    for folder, _dirs, files in os.walk(package_root):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            lines = counter.code_lines(path)
            hits = sum(text in reference for _n, text in lines)
            total += len(lines)
            same += hits
            if hits:
                per_file[os.path.relpath(path, package_root)] = hits
    return same, total, per_file


def test_verbatim_share_within_limit():
    torch = pytest.importorskip("torch")
    if not os.path.exists(SCRIPT):
        pytest.skip("scripts/verbatim_share.py not present")
    counter = _load_counter()
    reference = counter.torch_lines(os.path.dirname(torch.__file__))
    same, total, per_file = _share(counter, os.path.join(ROOT, "rtorch"), reference)
    assert total > 0
    share = 100.0 * same / total
    worst = sorted(per_file.items(), key=lambda kv: -kv[1])[:10]
    assert share <= VERBATIM_LIMIT_PERCENT, (
        f"{same} of {total} long code lines ({share:.1f}%) stand verbatim in PyTorch "
        f"{torch.__version__}; most in: {worst}"
    )
