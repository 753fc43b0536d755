# Sourced by scripts/gpu_check.sh and scripts/gpu_train.sh (needs PY set): on the offline GPU machine, install
# the wheels carried in .whl/ (scripts/gpu_wheels.sh) when pymunk is missing, and put them on PYTHONPATH.
if ls .whl/*.whl >/dev/null 2>&1 && ! "$PY" -c "import pymunk" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/lewm-site .whl/*.whl \
    && export PYTHONPATH=/tmp/lewm-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
