#!/usr/bin/env bash
# The GPU recipe: collect on every core, train a larger model on one GPU for a fixed time, evaluate.
#   bash scripts/gpu_train.sh pusht            # one H100/H200-class GPU, 16 cores: <= 9 minutes in all
#   bash scripts/gpu_train.sh pusht --smoke    # the same lines on the CPU at toy sizes (~1 minute)
# Variants train side by side on the one GPU (a ~4M-param model leaves most of an H200 idle):
#   A  preset gpu-small (ViT-Tiny width, 64 px / 8-px patches, D=32, predictor dropout 0.1)
#   B  A with the paper's latent size D=192                      (2026-12-04: 21/50 + 19/50, shipped)
#   C  A without predictor dropout (the paper's ablation: 0.1 -> 96%, 0 -> 78% on PushT)
#   D  B with a stronger SIGReg, lambda 0.2 (the paper: > 80% for lambda in [0.01, 0.2])
#   E  B with ViT-Tiny's full depth (12 encoder layers, as the paper), torch.compile
#   F  B with twice the batch (512) and lr x sqrt(2) (7e-4), torch.compile: more windows per second
#   G  F at half the lambda (0.045): B's lambda x batch, so B's balance of the two losses with twice its windows a
#      step. SIGReg's pull grows with the batch: on the CPU (docs/pusht_findings.md, sessions 23-26) lambda x batch set
#      that balance, doubling it kept the angle but made the latent too jumpy to plan (5/50), and at a fixed
#      lambda x batch a larger batch was no lever; F doubles B's, G keeps it
#   P  B with 4-px patches (256 tokens a frame: the paper's 16 x 16 grid at 224 px / 14), torch.compile; on the CPU
#      (session 20, cpu-small on the CPU) 4-px patches read the block angle better than 8-px ones early (step 350: z
#      linear r 0.28 vs 0.21) but it drained away as training went on, as with 8-px ones (step 700: 0.16 vs 0.17);
#      a test on the GPU's width and data (docs/pusht_findings.md, session 20)
# The default set follows the first run's finding (docs/pusht_findings.md: D=192 brought the angle in, and
# B's losses were still falling at 195 s): B again on a longer clock (the control, eager), E and G compiled.
# Each is exported (fp16) and evaluated with the paper's protocol and solver (50 episodes, goal 25 steps
# ahead, budget 50; CEM 300 / top 30 / 30 iterations, horizon 5, replan every 5 blocks) on eval seeds 0 and 1.
# Writes to $OUT (or ./gpu-train-out): <env>_<variant>.pt for each variant, and gpu_train.tar.gz with every
# eval JSON, training log, metrics.jsonl and config (at most 8 files come back from the GPU machine).
# Knobs (environment): EPISODES (3000), TRAIN_SECONDS (default: what the deadline leaves), DEADLINE_S (540,
# seconds after the start by which everything must be written), VARIANTS ("B E G"), WORKERS (nproc - 2),
# WORK (scratch: data, runs, logs; default a fresh ${TMPDIR:-/tmp}/lewm-gpu-train-<time>-<pid> per run; a WORK
# given must not hold another run's run_<variant> folders, which training would resume).
set -uo pipefail
cd "$(dirname "$0")/.."
USAGE="usage: scripts/gpu_train.sh pusht|two_room|reacher [--smoke]"
case "$#:${2:-}" in 1:|2:--smoke) ;; *) echo "$USAGE" >&2; exit 2 ;; esac
ENV=$1
SMOKE=0; [ "${2:-}" = "--smoke" ] && SMOKE=1
T_START=${T0:-$(date +%s)}  # T0: the start of a longer command this runs in (the deadline counts from it)
PY=${PYTHON:-}
if [ -z "$PY" ]; then if [ "$SMOKE" = 1 ] && [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
DEST=${OUT:-./gpu-train-out}
# a fresh WORK per run: a shared one handed the next run the last one's data (another EPISODES) and its
# run_<variant> folders (resumed: a smoke run's, or finished runs that then trained nothing)
WORK=${WORK:-${TMPDIR:-/tmp}/lewm-gpu-train-$(date +%Y%m%d-%H%M%S)-$$}
. scripts/gpu_env.sh  # carried wheels (offline GPU machine), unbuffered output
NPROC=$(nproc)
if [ "$SMOKE" = 1 ]; then
  DEVICE=cpu; EPISODES=${EPISODES:-16}; DEADLINE_S=${DEADLINE_S:-90}; EVAL_EPISODES=2; ITERS=2; SAMPLES=16; TOPK=4
  BATCH=8
  PRESET=(--preset cpu-tiny --set model.image_size=64 --set model.patch_size=16 --set train.log_every=5
          --set train.ckpt_every=20 --threads 1)
  export OMP_NUM_THREADS=1
else
  DEVICE=cuda; EPISODES=${EPISODES:-3000}; DEADLINE_S=${DEADLINE_S:-540}; EVAL_EPISODES=50; ITERS=30; SAMPLES=300; TOPK=30
  BATCH=256
  PRESET=(--preset gpu-small)
fi
WORKERS=${WORKERS:-$(( NPROC > 3 ? NPROC - 2 : 1 ))}
VARIANTS=${VARIANTS:-B E G}
case "$ENV" in
  pusht)    EVAL=(--iterations "$ITERS" --receding-horizon 5) ;;
  two_room) EVAL=(--iterations 10 --receding-horizon 1 --cost-steps all); PRESET+=(--history 1) ;;
  reacher)  EVAL=(--iterations 10 --horizon 8 --receding-horizon 1 --cost-steps min --cost-mean-weight 0.1 --plan-from best) ;;
  *) echo "gpu_train: unknown env $ENV (pusht, two_room, reacher)" >&2; exit 2 ;;
esac
[ "$SMOKE" = 1 ] && EVAL=(--iterations "$ITERS" --receding-horizon 5)
variant_args() {
  case "$1" in
    A) ;;
    B) echo "--latent-dim 192" ;;
    C) echo "--set model.dropout=0.0" ;;
    D) echo "--latent-dim 192 --lambda 0.2" ;;
    E) echo "--latent-dim 192 --set model.enc_depth=12 --set train.compile=true" ;;
    F) echo "--latent-dim 192 --set train.lr=7e-4 --set train.compile=true" ;;  # batch: variant_batch
    G) echo "--latent-dim 192 --lambda 0.045 --set train.lr=7e-4 --set train.compile=true" ;;  # batch: variant_batch
    P) echo "--latent-dim 192 --set model.patch_size=4 --set train.compile=true" ;;
    *) echo "gpu_train: unknown variant '$1' (A B C D E F G P)" >&2; return 1 ;;
  esac
}
variant_batch() { case "$1" in F|G) echo $(( 2 * BATCH )) ;; *) echo "$BATCH" ;; esac; }  # F, G: twice the batch (a flag given once)
# every variant checked before anything is collected or started (an unknown one stopped the script after the
# first variants had been started, and they trained on, orphaned)
SEEN=" "
for V in $VARIANTS; do
  variant_args "$V" > /dev/null || exit 2
  case "$SEEN" in *" $V "*) echo "gpu_train: variant $V given twice in VARIANTS='$VARIANTS'" >&2; exit 2 ;; esac
  SEEN="$SEEN$V "
done
[ "$SEEN" != " " ] || { echo "gpu_train: VARIANTS='$VARIANTS' names no variant (A B C D E F G P)" >&2; exit 2; }
# the number knobs, before anything starts (was: DEADLINE_S=abc counted as 0 and TRAIN_SECONDS=abc or 5 became 10 s
# without a word; EPISODES=abc failed in collect, as "--episodes", after the start)
for K in EPISODES DEADLINE_S WORKERS T_START ${TRAIN_SECONDS:+TRAIN_SECONDS}; do
  case "${!K}" in
    ''|*[!0-9]*|0*) echo "gpu_train: ${K/T_START/T0}='${!K}' must be a whole number >= 1 (see the knobs at the top of scripts/gpu_train.sh)" >&2; exit 2 ;;
  esac
done
[ -z "${TRAIN_SECONDS:-}" ] || [ "$TRAIN_SECONDS" -ge 10 ] || {
  echo "gpu_train: TRAIN_SECONDS=$TRAIN_SECONDS is below the 10 s a training needs to start; give 10 or more (or leave it unset: what DEADLINE_S leaves)" >&2; exit 2; }
for V in $VARIANTS; do
  [ ! -e "$WORK/run_$V" ] || { echo "gpu_train: WORK=$WORK already holds run_$V (another run's, which training" \
    "would resume): give a fresh WORK or leave WORK unset" >&2; exit 2; }
done
mkdir -p "$DEST" "$WORK" || exit 1
# on any exit (an error, Ctrl-C, a timeout's SIGTERM): stop the trainings and evaluations this script started
CHILDREN=""
kill_tree() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
  kill "$1" 2>/dev/null
}
cleanup() { local p; for p in $CHILDREN; do kill_tree "$p"; done; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
log() { echo "[gpu_train $(( $(date +%s) - T_START ))s] $*"; }
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"

DATA="$WORK/${ENV}_${EPISODES}ep.h5"  # reused only by a run with the same WORK and EPISODES
if [ ! -f "$DATA" ]; then
  log "collect $EPISODES $ENV episodes on $WORKERS workers"
  "$PY" -m lewm collect --env "$ENV" --episodes "$EPISODES" --image-size 64 --workers "$WORKERS" --compression none \
    --no-progress --out "$DATA" || { echo "gpu_train: collect failed" >&2; exit 1; }
fi
NOW=$(( $(date +%s) - T_START ))
# what the deadline leaves for training: data loading (~30 s), then export + eval (~100 s) after it
TRAIN_SECONDS=${TRAIN_SECONDS:-$(( DEADLINE_S - NOW - (SMOKE ? 45 : 150) ))}
[ "$TRAIN_SECONDS" -ge 10 ] || TRAIN_SECONDS=10
log "train variants [$VARIANTS] with a time budget of $TRAIN_SECONDS s each, side by side on $DEVICE (work: $WORK)"
declare -A TRAIN_PID TRAIN_RC
for V in $VARIANTS; do
  ARGS=$(variant_args "$V") || exit 2
  # shellcheck disable=SC2086
  "$PY" -m lewm train --data "$DATA" "${PRESET[@]}" --batch-size "$(variant_batch "$V")" $ARGS --set train.time_budget_s="$TRAIN_SECONDS" \
    --device "$DEVICE" --out "$WORK/run_$V" > "$WORK/train_$V.log" 2>&1 &
  TRAIN_PID[$V]=$!; CHILDREN="$CHILDREN $!"
done
FAILED=""
for V in $VARIANTS; do
  wait "${TRAIN_PID[$V]}"; TRAIN_RC[$V]=$?
  [ "${TRAIN_RC[$V]}" = 0 ] || FAILED="$FAILED $V:${TRAIN_RC[$V]}"
done
for V in $VARIANTS; do
  log "train $V (exit ${TRAIN_RC[$V]}): $(tail -c 400 "$WORK/train_$V.log" | tr '\r' '\n' | grep -v '^\s*$' | tail -1)"
done
EVAL_TIMEOUT=$(( DEADLINE_S - ($(date +%s) - T_START) - 10 ))
[ "$EVAL_TIMEOUT" -ge 20 ] || EVAL_TIMEOUT=20
log "export + evaluate (seeds 0 and 1, $EVAL_EPISODES episodes, CEM $SAMPLES/$TOPK/$ITERS; cut at $EVAL_TIMEOUT s)"
for V in $VARIANTS; do
  # a failed training is not exported: its last.pt is an earlier checkpoint, not the recipe's result
  [ "${TRAIN_RC[$V]}" = 0 ] || { log "skip export + eval of $V: its training exited ${TRAIN_RC[$V]} (see train_$V.log)"; continue; }
  [ -f "$WORK/run_$V/last.pt" ] || continue
  ( "$PY" -m lewm export --checkpoint "$WORK/run_$V/last.pt" --out "$DEST/${ENV}_$V.pt" --force > "$WORK/export_$V.log" 2>&1 \
    && for SEED in 0 1; do
         timeout "$EVAL_TIMEOUT" "$PY" -m lewm eval --checkpoint "$DEST/${ENV}_$V.pt" --episodes "$EVAL_EPISODES" --seed "$SEED" --samples "$SAMPLES" \
           --topk "$TOPK" "${EVAL[@]}" --device "$DEVICE" --threads 1 --json --out "$WORK/eval_${V}_seed$SEED.json" \
           > "$WORK/eval_${V}_seed$SEED.log" 2>&1 &
       done; wait ) &
  CHILDREN="$CHILDREN $!"
done
wait
"$PY" - "$WORK" "$VARIANTS" "$TRAIN_SECONDS" "$T_START" "$FAILED" <<'PYEOF'
import json, os, sys, time
work, variants, budget_s, t_start = sys.argv[1], sys.argv[2].split(), float(sys.argv[3]), float(sys.argv[4])
failed = dict(f.split(":") for f in sys.argv[5].split())  # variant -> its training's exit status
rows = []
for v in variants:
    m = {}
    try:
        m = json.loads(open(f"{work}/run_{v}/metrics.jsonl").read().strip().splitlines()[-1])
    except Exception:
        pass
    # measured: the run's clock at its last logged step (a run stops at its step limit or at the budget)
    secs = f"{m['elapsed_s']:.0f}" if isinstance(m.get("elapsed_s"), (int, float)) else "-"
    name = f"{v} (train failed, exit {failed[v]})" if v in failed else v
    r = [name, m.get("step", "-"), secs, f"{m.get('pred_loss', float('nan')):.4f}", f"{m.get('samples_per_s', 0):,.0f}"]
    for seed in (0, 1):
        try:
            e = json.load(open(f"{work}/eval_{v}_seed{seed}.json"))
            r.append(f"{e['successes']}/{e['episodes']} (plan {e['plan_seconds_median']:.3f} s)")
        except Exception:
            r.append("-")
    rows.append(r)
summary = {"train_budget_seconds": budget_s, "wall_seconds": time.time() - t_start,
           "columns": ["variant", "steps", "train s", "pred loss", "samples/s", "eval seed 0", "eval seed 1"],
           "rows": rows}
json.dump(summary, open(f"{work}/summary.json", "w"), indent=2)
print("| " + " | ".join(summary["columns"]) + " |")
print("|" + "---|" * len(summary["columns"]))
for r in rows:
    print("| " + " | ".join(map(str, r)) + " |")
print(f"wall time {summary['wall_seconds']:.0f} s, training budget {budget_s:.0f} s per variant (measured: 'train s')")
PYEOF
( cd "$WORK" && tar czf "$DEST/gpu_train.tar.gz" --exclude='*.h5' --exclude='last.pt' --exclude='step_*.pt' . )
log "done: $(ls "$DEST" | tr '\n' ' ')"
[ -z "$FAILED" ] || { echo "gpu_train: training failed for variant(s)$FAILED (variant:exit status)" >&2; exit 1; }
