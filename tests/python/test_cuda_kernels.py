"""The CUDA kernels compile on any machine: NVRTC (the pinned 13.0 wheel, found through
rtorch's library preload, with no search path set) compiles every kernel family for Ampere and
Hopper, with no warning, and every kernel the backend launches exists."""

import pytest

import rtorch
from rtorch.cuda import _libs


def test_nvrtc_is_found_through_the_preload():
    found = _libs.preload()
    assert found.get("nvrtc"), (
        "libnvrtc.so.13 not found: install the test extra (pip install -e '.[test]'), which "
        "pins nvidia-cuda-nvrtc==13.0.*"
    )


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_every_kernel_family_compiles_cleanly(arch):
    logs = rtorch.cuda._compile_check(arch)  # cached: the sm_90 compile serves other tests too
    assert all(isinstance(f, str) and isinstance(log, str) for f, log in logs)
    families = {f for f, _ in logs}
    assert families == {"memory", "elementwise", "reduce", "index", "nn", "optim", "random"}
    noisy = {f: log for f, log in logs if log}
    assert not noisy, f"NVRTC reported warnings for {arch}: {noisy}"


def test_compile_check_rejects_a_bad_architecture():
    with pytest.raises(ValueError, match="sm_90"):
        rtorch._C._cuda_compile_check("hopper")
