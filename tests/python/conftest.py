"""Shared pytest configuration: a deterministic hypothesis profile (fixed seed, no deadline,
few examples) so the suite is reproducible and fast, and a `real_torch` fixture that skips
cleanly when PyTorch is not installed."""

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
