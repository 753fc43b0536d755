#!/usr/bin/env bash
# Set up (venv + Python deps) and open the LeWM lab on the shipped checkpoints at http://127.0.0.1:8501
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
exec .venv/bin/streamlit run app/lab.py "$@"
