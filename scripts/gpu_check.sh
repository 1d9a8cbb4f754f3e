#!/usr/bin/env bash
# The whole GPU check in one call, on a machine with a GPU, PyTorch and no network. Builds
# nothing: it installs the wheel built beforehand (scripts/gpu_prepare.sh), points rtorch at
# the kernel binaries compiled ahead for sm_90, runs the CUDA tests and then the benchmarks.
#
#     bash scripts/gpu_check.sh [--quick]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/rtorch-gpu-out}
mkdir -p "$OUT"
SITE=$(mktemp -d)

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

echo "== install"
WHEEL=$(ls dist/rtorch-*.whl | head -n1)
$PY -m pip install -q --no-deps --no-index --target "$SITE" "$WHEEL" || exit 1
export PYTHONPATH="$SITE" RTORCH_KERNEL_CACHE="$PWD/dist/kernel-cache"
$PY - <<'PY'
import rtorch
print("rtorch", rtorch.__file__, "cuda available:", rtorch.cuda.is_available(),
      "devices:", rtorch.cuda.device_count())
PY

echo "== tests (CUDA)"
# The repository's tests import rtorch from PYTHONPATH (the installed wheel), not the tree.
(cd tests/python && timeout 420 $PY -m pytest -q -x -p no:cacheprovider --rootdir=. \
    test_cuda_api.py test_cuda_ops.py 2>&1 | tee "$OUT/pytest.txt" | tail -n 25)

echo "== NCCL (rtorch.distributed, needs the nvidia-nccl-cu13 wheel and mpi4py; skips without)"
$PY - <<'PY'
import rtorch.distributed as dist
print("nccl available:", dist.is_nccl_available(), "mpi available:", dist.is_mpi_available())
PY
(cd tests/python && timeout 300 $PY -m pytest -q -p no:cacheprovider --rootdir=. -rs \
    test_distributed_nccl.py 2>&1 | tee "$OUT/nccl.txt" | tail -n 15)

echo "== benchmarks"
timeout 300 $PY benches/gpu_bench.py "$@" 2>&1 | tee "$OUT/bench.txt" | tail -n 14
