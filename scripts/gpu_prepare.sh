#!/usr/bin/env bash
# Run on the build machine before scripts/gpu_check.sh: builds the abi3 wheel with the CUDA
# backend into dist/ and compiles every kernel family for sm_90 into dist/kernel-cache, so the
# GPU machine spends its time on tests and benchmarks, not on compilers.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist && mkdir -p dist/kernel-cache
maturin build --release -q --out dist
export RTORCH_KERNEL_CACHE="$PWD/dist/kernel-cache"
# Compile with the wheel just built, not the in-tree extension.
SITE=$(mktemp -d)
python3 -m pip install -q --no-deps --target "$SITE" dist/rtorch-*.whl
(cd "$SITE" && PYTHONPATH="$SITE" python3 - <<'PY'
import rtorch
for family, log in rtorch._C._cuda_compile_check("sm_90"):
    print(family, "clean" if not log else log)
print(rtorch._C._cuda_prebuild("sm_90"))
PY
)
ls -la dist dist/kernel-cache
