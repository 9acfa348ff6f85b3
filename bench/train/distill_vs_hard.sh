#!/usr/bin/env bash
# Distillation against hard labels, through `lcte distill`: the same student
# (stories260K's layers 0, 2, 4), the same teacher-written data, the same
# steps; only the loss differs. Prints a table of the held-out scores against
# the teacher (KL on the top-k buckets, CE on the teacher's tokens, top-1/5
# agreement).
#
#   [SEED=1] bench/train/distill_vs_hard.sh [STEPS]   (LCTE=build/src/cli/lcte, LCTE_DATA_DIR=../shared/data)
#
# Data: 240 story openings (8 openings x 30 names); the teacher writes each
# completion (--teacher-generate, temperature 1, seed-fixed), 10% held out.
# The teacher pass runs once; every run reuses its cache.
set -euo pipefail
STEPS=${1:-80}
SEED=${SEED:-1}
LCTE=${LCTE:-build/src/cli/lcte}
DATA_DIR=${LCTE_DATA_DIR:-../shared/data}
TEACHER=$DATA_DIR/models/stories260K-f32.gguf
WORK=$(mktemp -d /tmp/lcte-distill-vs-hard.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

openings=("Once upon a time, there was a little" "One day," "It was a sunny day and" "In a small town, there lived"
          "Every morning," "There was a big" "After school," "Long ago, a kind")
names=(Lily Tom Sue Ben Max Anna Sam Mia Tim Lucy Jack Emma Leo Zoe Kate Bob Amy Joe Mark Jane
       Fred Rose Dan Ella Jake Ruby Nick Lola Pete Jill)
for o in "${openings[@]}"; do
  for n in "${names[@]}"; do
    printf '{"prompt": "%s %s", "completion": ""}\n' "$o" "$n"
  done
done > "$WORK/prompts.jsonl"

common=(--teacher "$TEACHER" --init-from-teacher every:2 --data "$WORK/prompts.jsonl" --data-format pairs
        --teacher-generate --generate-temperature 1 --valid-fraction 0.1 --seq-len 64 --batch 8
        --steps "$STEPS" --lr 3e-3 --warmup 3 --top-k 64 --cache-dir "$WORK" --log-every 0 --seed "$SEED")

printf '| student trained with | held-out CE (teacher tokens) | held-out KL to teacher | top-1 agreement | top-5 agreement | tokens/s |\n'
printf '|---|---|---|---|---|---|\n'
run() {
  local label=$1; shift
  local out
  out=$("$LCTE" --log-level warn distill "${common[@]}" "$@" --out "$WORK/s.gguf")
  echo "$out" | awk -v label="$label" '
    /^distilled/ { for (i = 1; i <= NF; ++i) if ($i ~ /^\(/) tps = substr($i, 2) }
    /^held-out:/ { gsub(",", ""); ce = $5; kl = $9; t1 = $12; t5 = $14 }
    END { printf "| %s | %s | %s | %s | %s | %s |\n", label, ce, kl, t1, t5, tps }'
}
run "hard labels only (alpha 1)" --alpha 1
run "forward KL, T = 1 (alpha 0)" --alpha 0 --loss kl
run "0.5 CE + 0.5 KL, T = 2" --alpha 0.5 --loss kl --temperature 2
run "JSD(0.5) (alpha 0)" --alpha 0 --loss jsd --beta 0.5
run "reverse KL (alpha 0)" --alpha 0 --loss rkl
