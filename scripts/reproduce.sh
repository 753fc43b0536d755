#!/usr/bin/env bash
# Reproduce a shipped checkpoint from scratch on this CPU: collect -> train -> export -> eval.
#   bash scripts/reproduce.sh two_room|pusht|reacher
# Writes runs/data/<env>.h5, runs/<env>/ (training), checkpoints/<env>/{model.pt,eval.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV=${1:?usage: scripts/reproduce.sh two_room|pusht|reacher}
PY=.venv/bin/python
case "$ENV" in
  # exactly the settings of the shipped checkpoints (the shipped PushT run was stopped at step 1750 of 2500 for time)
  # Two-Room: 8-px patches (16-px patches let the encoder drop the dot's y), D=2 with a strong SIGReg (lambda 1: at D=2
  # a weaker one bends or drops a coordinate, lambda 2 under-fits; at D>=3 it folds the map): see README.
  # ~2 steps/s on both cores (22 min), ~1 step/s on one.
  two_room) COLLECT="--episodes 2000 --mix-random 0.3 --seed 1"
            TRAIN="--history 1 --latent-dim 2 --lambda 1.0 --batch-size 128 --steps 2600 --set model.patch_size=8 --threads 2"
            EVAL="--receding-horizon 1 --cost-steps all" ;;
  pusht)    COLLECT="--episodes 1200"; TRAIN="--history 3 --latent-dim 8 --batch-size 64 --steps 2500 --threads 1"
            EVAL="--iterations 30 --receding-horizon 5" ;;
  reacher)  COLLECT="--episodes 1200"; TRAIN="--history 3 --latent-dim 4 --batch-size 64 --steps 1500 --threads 1"
            EVAL="--receding-horizon 5" ;;
  *) echo "unknown env $ENV"; exit 2 ;;
esac
mkdir -p runs/data "checkpoints/$ENV"
[ -f "runs/data/$ENV.h5" ] || $PY -m lewm collect --env "$ENV" $COLLECT --image-size 64 --out "runs/data/$ENV.h5"
$PY -m lewm train --data "runs/data/$ENV.h5" --preset cpu-small $TRAIN --out "runs/$ENV"
# --data: BatchNorm statistics re-estimated on 32 batches (training already saves them re-estimated on 16)
$PY -m lewm export --checkpoint "runs/$ENV/last.pt" --out "checkpoints/$ENV/model.pt" --data "runs/data/$ENV.h5" --force
$PY -m lewm eval --checkpoint "checkpoints/$ENV/model.pt" --episodes 50 --seed 0 $EVAL --threads 1 --json --out "checkpoints/$ENV/eval.json" > /dev/null
$PY -c "import json; d=json.load(open('checkpoints/$ENV/eval.json')); print(f\"$ENV: success {d['success_rate']:.0%}, plan median {d['plan_seconds_median']:.2f} s\")"
