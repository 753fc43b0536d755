#!/usr/bin/env bash
# The GPU core, checked and measured in one go (<= 8 minutes on an H100/H200-class GPU):
#   bash scripts/gpu_check.sh               # on a machine with a CUDA GPU
#   bash scripts/gpu_check.sh --cpu-smoke   # the same steps on the CPU at toy sizes (< 2 minutes; in the test suite)
# 1. device, torch and CUDA versions;
# 2. correctness: `pytest -m gpu tests/test_gpu.py` (model fwd/bwd fp32 + bf16, SIGReg, CEM, CUDA-graph cost,
#    save on the GPU / load on the CPU, 30 training steps) against the CPU;
# 3. benchmarks + kernel profile (scripts/gpu_report.py): training at the paper preset (fp32, bf16,
#    bf16 + torch.compile) and plans at the paper's size and solver (fp32/bf16, eager/CUDA graphs).
# Writes pytest_gpu.txt, gpu_report.json and gpu_report.md to $OUT (or ./gpu-report when $OUT is unset).
# The GPU machine has no network: wheels it lacks (pymunk, cffi, pycparser) come from .whl/ (scripts/gpu_wheels.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
SMOKE=0
case "${1:-}" in --cpu-smoke) SMOKE=1 ;; "") ;; *) echo "usage: $0 [--cpu-smoke]" >&2; exit 2 ;; esac
PY=${PYTHON:-}
if [ -z "$PY" ]; then if [ "$SMOKE" = 1 ] && [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
DEST=${OUT:-./gpu-report}
mkdir -p "$DEST"
. scripts/gpu_env.sh  # carried wheels (offline GPU machine), unbuffered output
"$PY" - <<'PYEOF'
import os, platform, torch
cuda = torch.cuda.is_available()
print(f"python {platform.python_version()}  torch {torch.__version__}  CUDA {torch.version.cuda}  "
      f"cuDNN {torch.backends.cudnn.version() if cuda else None}  cores {os.cpu_count()}")
print("device:", torch.cuda.get_device_name(0) if cuda else "no CUDA device")
PYEOF
STATUS=0
if [ "$SMOKE" = 1 ]; then export LEWM_TEST_DEVICE=cpu; SMOKE_ARG=--smoke; else SMOKE_ARG=; fi
echo "== correctness: pytest -m gpu (device ${LEWM_TEST_DEVICE:-cuda})"
timeout 90 "$PY" -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider 2>&1 | tee "$DEST/pytest_gpu.txt"
[ "${PIPESTATUS[0]}" = 0 ] || STATUS=1
echo "== benchmarks + profile"
timeout 150 "$PY" scripts/gpu_report.py --out "$DEST" $SMOKE_ARG --sections train,plan,profile || STATUS=1
echo "== training with torch.compile (bounded: its compilation can take minutes)"
timeout 100 "$PY" scripts/gpu_report.py --out "$DEST" $SMOKE_ARG --sections compile --append || STATUS=1
echo "== gpu_check: $([ $STATUS = 0 ] && echo ok || echo FAILED) (report in $DEST)"
exit $STATUS
