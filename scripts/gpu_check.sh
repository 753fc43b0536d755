#!/usr/bin/env bash
# The GPU core, checked and measured in one go (<= 8 minutes on an H100/H200-class GPU):
#   bash scripts/gpu_check.sh               # on a machine with a CUDA GPU
#   bash scripts/gpu_check.sh --cpu-smoke   # the same steps on the CPU at toy sizes (~2 minutes; in the test suite)
# 1. device, torch and CUDA versions;
# 2. correctness: `pytest -m gpu tests/test_gpu.py` (model fwd/bwd fp32 + bf16, SIGReg, CEM, CUDA-graph cost,
#    save on the GPU / load on the CPU, 30 training steps) against the CPU;
# 3. benchmarks + kernel profile (scripts/gpu_report.py): training at the paper preset (fp32, bf16,
#    bf16 + torch.compile) and plans at the paper's size and solver (fp32/bf16, eager/CUDA graphs).
# Writes pytest_gpu.txt, gpu_report.json and gpu_report.md to $OUT (or ./gpu-report when $OUT is unset).
# The last line says "gpu_check: ok" only when every step and every report section passed; otherwise
# "gpu_check: FAILED (<what failed>)" and exit status 1 (a section's error, type and first line, is in the report).
# The GPU machine has no network: wheels it lacks (pymunk, cffi, pycparser) come from .whl/ (scripts/gpu_wheels.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
SMOKE=0
case "${1:-}" in --cpu-smoke) SMOKE=1 ;; "") ;; *) echo "usage: $0 [--cpu-smoke]" >&2; exit 2 ;; esac
PY=${PYTHON:-}
if [ -z "$PY" ]; then if [ "$SMOKE" = 1 ] && [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
DEST=${OUT:-./gpu-report}
mkdir -p "$DEST"
rm -f "$DEST/gpu_report.json"  # rewritten below: an earlier run's errors must not be read as this run's
. scripts/gpu_env.sh  # carried wheels (offline GPU machine), unbuffered output
"$PY" - <<'PYEOF'
import os, platform, torch
cuda = torch.cuda.is_available()
print(f"python {platform.python_version()}  torch {torch.__version__}  CUDA {torch.version.cuda}  "
      f"cuDNN {torch.backends.cudnn.version() if cuda else None}  cores {os.cpu_count()}")
print("device:", torch.cuda.get_device_name(0) if cuda else "no CUDA device")
PYEOF
FAILS=()  # what failed, for the last line
step_failed() {  # $1: what, $2: its exit status (124: cut by timeout)
  if [ "$2" = 124 ]; then FAILS+=("$1: timed out after $3 s"); else FAILS+=("$1: exit $2"); fi
}
if [ "$SMOKE" = 1 ]; then export LEWM_TEST_DEVICE=cpu; SMOKE_ARG=--smoke; else SMOKE_ARG=; fi
echo "== correctness: pytest -m gpu (device ${LEWM_TEST_DEVICE:-cuda})"
timeout 90 "$PY" -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider 2>&1 | tee "$DEST/pytest_gpu.txt"
RC=${PIPESTATUS[0]}; [ "$RC" = 0 ] || step_failed "pytest -m gpu" "$RC" 90
echo "== benchmarks + profile"
timeout 150 "$PY" scripts/gpu_report.py --out "$DEST" $SMOKE_ARG --sections train,plan,profile
RC=$?; [ "$RC" = 0 ] || [ "$RC" = 1 ] || step_failed "benchmarks" "$RC" 150  # 1: sections failed (listed below)
echo "== training with torch.compile (bounded: its compilation can take minutes)"
timeout 100 "$PY" scripts/gpu_report.py --out "$DEST" $SMOKE_ARG --sections compile --append
RC=$?; [ "$RC" = 0 ] || [ "$RC" = 1 ] || step_failed "torch.compile training" "$RC" 100
# the report's failed sections ("<section>: <type>: <first line>"), each named by its section
if [ -f "$DEST/gpu_report.json" ]; then
  while IFS= read -r LINE; do [ -n "$LINE" ] && FAILS+=("$LINE"); done < <("$PY" -c '
import json, sys
try:
    print("\n".join("section " + str(e).split(": ")[0] for e in json.load(open(sys.argv[1]))["errors"]))
except Exception as e:
    print(f"gpu_report.json unreadable ({type(e).__name__})")' "$DEST/gpu_report.json")
else
  FAILS+=("no gpu_report.json")
fi
if [ ${#FAILS[@]} = 0 ]; then
  echo "== gpu_check: ok (report in $DEST)"
  exit 0
fi
MSG=$(printf '%s; ' "${FAILS[@]}")
echo "== gpu_check: FAILED (${#FAILS[@]} failed: ${MSG%; }; report in $DEST)"
exit 1
