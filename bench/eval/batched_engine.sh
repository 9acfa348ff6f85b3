#!/usr/bin/env bash
# Aggregate generation throughput of `lcte eval --backend engine --n N` with
# continuous batching on and off, same model, same tasks, back to back in one
# run: for each --max-seqs value (1: one sequence at a time), HumanEval's
# first LIMIT tasks, N samples each of at most MAX_TOKENS tokens at
# temperature 0.8, WORKERS eval workers (each a concurrent request to the
# engine), sandbox isolation ISOLATION (default auto). Whole runs are timed from outside;
# tokens are the completion_tokens of every sample in the run's samples.csv.
#
# usage: [ISOLATION=auto] [LIMIT=8] [N=10] [MAX_TOKENS=64] [WORKERS=4] [SEQS="1 10 40"] [REPEATS=1]
#        bench/eval/batched_engine.sh BUILD_DIR MODEL.gguf
set -euo pipefail
build=${1:?build directory}
model=${2:?model file}
limit=${LIMIT:-8} n=${N:-10} max_tokens=${MAX_TOKENS:-64} workers=${WORKERS:-4} seqs=${SEQS:-"1 10 40"}
repeats=${REPEATS:-1}
lcte="$build/src/cli/lcte"
[ -x "$lcte" ] || lcte="$build/lcte"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "model $(basename "$model"), HumanEval first $limit tasks, n=$n, max_tokens $max_tokens, $workers workers"
echo
echo "| --max-seqs | run | wall s | completion tokens | tokens/s | samples/s | passed |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for r in $(seq 1 "$repeats"); do
  for s in $seqs; do
    id="s$s-r$r"
    t0=$(date +%s.%N)
    "$lcte" eval --suite humaneval --backend engine --model "$model" --n "$n" --limit "$limit" \
      --max-tokens "$max_tokens" --temperature 0.8 --workers "$workers" --max-seqs "$s" --no-store \
      --out "$out" --run-id "$id" --isolation "${ISOLATION:-auto}" --offline >/dev/null 2>"$out/$id.err" ||
      { cat "$out/$id.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    python3 - "$out/$id/samples.csv" "$t0" "$t1" "$s" "$r" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='latin-1')))
wall = float(sys.argv[3]) - float(sys.argv[2])
tokens = sum(int(r['completion_tokens']) for r in rows)
passed = sum(r['passed'] == 'true' or r['passed'] == '1' for r in rows)
print(f"| {sys.argv[4]} | {sys.argv[5]} | {wall:.2f} | {tokens} | {tokens / wall:.1f} | {len(rows) / wall:.2f} | {passed}/{len(rows)} |")
PY
  done
done
