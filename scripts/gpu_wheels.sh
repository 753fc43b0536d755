#!/usr/bin/env bash
# Download, here (where PyPI is reachable), the wheels that the GPU machine lacks for the lab's core:
# pymunk (PushT physics) and its runtime needs cffi and pycparser, for Python 3.12 on manylinux x86-64.
# The GPU machine has no network; scripts/gpu_check.sh and scripts/gpu_train.sh install these from .whl/
# with `pip install --no-index`. Everything else the core needs (torch, numpy, h5py, pillow, scipy,
# scikit-learn, tqdm, imageio, pytest) is preinstalled there.
#   bash scripts/gpu_wheels.sh            # -> .whl/*.whl (ignored by git)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mkdir -p .whl
PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for spec in "pymunk==7.3.1" "cffi==2.1.1" "pycparser==3.12"; do
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${PLAT[@]}" -d .whl "$spec"
done
ls -l .whl
