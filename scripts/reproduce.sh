#!/usr/bin/env bash
# Reproduce a shipped checkpoint from scratch on this CPU: collect -> train -> export -> eval.
#   bash scripts/reproduce.sh two_room|pusht|reacher
# Writes runs/data/<env>.h5, runs/<env>/ (training), checkpoints/<env>/{model.pt,eval.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV=${1:?usage: scripts/reproduce.sh two_room|pusht|reacher}
PY=.venv/bin/python
case "$ENV" in
  two_room) EPISODES=2000; TRAIN="--preset cpu-small --history 1 --batch-size 128 --steps 4000" ;;
  pusht)    EPISODES=1200; TRAIN="--preset cpu-small --history 3 --batch-size 64 --steps 3000" ;;
  reacher)  EPISODES=1200; TRAIN="--preset cpu-small --history 3 --batch-size 64 --steps 3000" ;;
  *) echo "unknown env $ENV"; exit 2 ;;
esac
mkdir -p runs/data "checkpoints/$ENV"
[ -f "runs/data/$ENV.h5" ] || $PY -m lewm collect --env "$ENV" --episodes $EPISODES --image-size 64 --out "runs/data/$ENV.h5"
$PY -m lewm train --data "runs/data/$ENV.h5" $TRAIN --out "runs/$ENV"
$PY -m lewm export --checkpoint "runs/$ENV/last.pt" --out "checkpoints/$ENV/model.pt" --force
$PY -m lewm eval --checkpoint "checkpoints/$ENV/model.pt" --episodes 50 --seed 0 --json --out "checkpoints/$ENV/eval.json" > /dev/null
$PY -c "import json; d=json.load(open('checkpoints/$ENV/eval.json')); print(f\"$ENV: success {d['success_rate']:.0%}, plan median {d['plan_seconds_median']:.2f} s\")"
