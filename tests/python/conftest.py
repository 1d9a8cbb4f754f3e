"""Shared pytest configuration: a deterministic hypothesis profile (fixed seed, no deadline,
few examples) so the suite is reproducible and fast, a `real_torch` fixture that skips
cleanly when PyTorch is not installed, and a `device` fixture ("cpu", and "cuda" when a GPU
is usable) whose CUDA skips are counted in the terminal summary."""

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "rtorch",
    max_examples=30,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("rtorch")


@pytest.fixture
def real_torch():
    from tensor_helpers import try_import_torch

    t = try_import_torch()
    if t is None:
        pytest.skip("PyTorch is not installed")
    return t


# ---- devices -------------------------------------------------------------------------------

CUDA_SKIP_REASON = "CUDA not available"


def _cuda_available():
    import rtorch

    return rtorch.cuda.is_available()


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Runs a test once per device: always on the CPU, on CUDA when a GPU is usable."""
    if request.param == "cuda" and not _cuda_available():
        pytest.skip(CUDA_SKIP_REASON)
    return request.param


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    n = sum(1 for r in skipped if CUDA_SKIP_REASON in str(getattr(r, "longrepr", "")))
    if n:
        terminalreporter.write_line(f"{n} tests skipped because CUDA is not available")
