#!/bin/sh
# The quant-report table for the tiny models: quantize rand-llama-d256-f32
# (or the model given) to every file type lcte writes and compare each with
# the source over reference/kld-text.txt, as llama-perplexity --kl-divergence
# did for reference/kld.md.
#   bench/quant/report_tiny.sh [BUILD_DIR] [MODEL] [OUT_DIR]
set -eu
build=${1:-build}
data=${LCTE_DATA_DIR:-$(dirname "$0")/../../../shared/data}
model=${2:-$data/models/rand-llama-d256-f32.gguf}
out=${3:-${TMPDIR:-/tmp}/lcte-report-tiny}
lcte=$build/src/cli/lcte
mkdir -p "$out"
files=""
for t in Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 Q3_K_L Q3_K_M Q3_K_S Q2_K; do
  f="$out/$(basename "$model" .gguf)-$t.gguf"
  "$lcte" quantize "$model" "$f" "$t" -t "${THREADS:-2}" > /dev/null 2>&1
  files="$files $f"
done
# shellcheck disable=SC2086
"$lcte" quant-report "$model" $files --text "$data/reference/kld-text.txt" --ctx 256 \
  --pp "${PP:-64}" --tg "${TG:-16}" --reps "${REPS:-3}" -t "${THREADS:-2}" \
  --csv "$out/report.csv" --json "$out/report.json"
