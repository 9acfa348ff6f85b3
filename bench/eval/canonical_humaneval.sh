#!/usr/bin/env bash
# Times the canonical HumanEval run end to end (all 164 reference solutions
# through `lcte eval` and the sandbox) with 1 and 2 workers, and the same
# work done the way OpenAI's human-eval harness does it (humaneval_like.py:
# one multiprocessing.Process per sample), for comparison.
#
# Usage: bench/eval/canonical_humaneval.sh [BUILD_DIR]   (default: build)
# Env: LCTE_DATA_DIR (default ../shared/data), REPEATS (default 1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
lcte="$build/src/cli/lcte"
data="${LCTE_DATA_DIR:-$root/../shared/data}"
repeats="${REPEATS:-1}"
[[ -x "$lcte" ]] || { echo "no $lcte; build the lcte target first" >&2; exit 1; }
python="$(python3 -c 'import sys; print(sys.executable)')"  # not a pyenv shim
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$python" --version)"
printf "%-34s %8s %8s %10s %12s\n" "harness" "workers" "passed" "seconds" "samples/s"
for workers in 1 2; do
  for ((r = 0; r < repeats; r++)); do
    start=$(date +%s.%N)
    LCTE_DATA_DIR="$data" "$lcte" --log-level warn eval --suite humaneval --backend canonical --split all \
      --workers "$workers" --out "$out" --run-id "w$workers-$r" --json > "$out/summary-$workers-$r.json" 2>/dev/null
    end=$(date +%s.%N)
    "$python" - "$out/summary-$workers-$r.json" "$workers" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); seconds = float(sys.argv[4]) - float(sys.argv[3])
print(f"{'lcte eval (sandbox)':<34} {sys.argv[2]:>8} {s['status_counts']['passed']:>8} "
      f"{seconds:>10.2f} {s['samples'] / seconds:>12.1f}")
PY
  done
done
for workers in 1 2; do
  for ((r = 0; r < repeats; r++)); do
    line="$("$python" "$here/humaneval_like.py" "$data/humaneval/HumanEval.jsonl.gz" "$workers")"
    # "164 samples, 164 passed, 6.01 s, 27.3 samples/s"
    read -r n _ passed _ seconds _ rate _ <<< "$(echo "$line" | tr -d ',')"
    printf "%-34s %8s %8s %10s %12s\n" "human-eval method (python mp)" "$workers" "$passed" "$seconds" "$rate"
  done
done
