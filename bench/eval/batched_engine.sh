#!/usr/bin/env bash
# Aggregate generation throughput of `lcte eval --backend engine --n N` with
# continuous batching on and off, same model, same tasks, back to back in one
# run: for each --max-seqs value (1: one sequence at a time), HumanEval's
# first LIMIT tasks, N samples each of at most MAX_TOKENS tokens at
# temperature 0.8, WORKERS eval workers (each a concurrent request to the
# engine), sandbox isolation ISOLATION (default auto). Whole runs are timed from outside;
# tokens are the completion_tokens of every sample in the run's samples.csv.
#
# With LLAMA_SERVER (a llama.cpp llama-server binary), each round also runs
# the same eval through `--backend http` against llama-server started on the
# same model with -np SLOTS parallel slots (SLOTS default 8, -t THREADS,
# default the number of cores, one slot's context CTX default 1024), with
# --max-in-flight SLOTS: the same tasks, samples, sandbox and machine, so the
# sandbox's time is in both rows.
#
# usage: [ISOLATION=auto] [LIMIT=8] [N=10] [MAX_TOKENS=64] [WORKERS=4] [SEQS="1 10 40"] [REPEATS=1]
#        [LLAMA_SERVER=path/to/llama-server] [SLOTS=8] [THREADS=N] [CTX=1024] [PORT=18431]
#        bench/eval/batched_engine.sh BUILD_DIR MODEL.gguf
set -euo pipefail
build=${1:?build directory}
model=${2:?model file}
limit=${LIMIT:-8} n=${N:-10} max_tokens=${MAX_TOKENS:-64} workers=${WORKERS:-4} seqs=${SEQS:-"1 10 40"}
repeats=${REPEATS:-1}
slots=${SLOTS:-8} threads=${THREADS:-$(nproc)} ctx=${CTX:-1024} port=${PORT:-18431}
lcte="$build/src/cli/lcte"
[ -x "$lcte" ] || lcte="$build/lcte"
out=$(mktemp -d)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap 'stop_server; rm -rf "$out"' EXIT

# One timed eval run: row label, run number, then lcte eval's backend flags.
timed_eval() {
  local label=$1 r=$2
  shift 2
  local id
  id="$(echo "$label" | tr -c 'A-Za-z0-9\n' '_')-r$r"
  local t0 t1
  t0=$(date +%s.%N)
  "$lcte" eval --suite humaneval "$@" --n "$n" --limit "$limit" --max-tokens "$max_tokens" --temperature 0.8 \
    --workers "$workers" --no-store --out "$out" --run-id "$id" --isolation "${ISOLATION:-auto}" --offline \
    >/dev/null 2>"$out/$id.err" || { cat "$out/$id.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 - "$out/$id/samples.csv" "$t0" "$t1" "$label" "$r" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='latin-1')))
wall = float(sys.argv[3]) - float(sys.argv[2])
tokens = sum(int(r['completion_tokens']) for r in rows)
passed = sum(r['passed'] == 'true' or r['passed'] == '1' for r in rows)
print(f"| {sys.argv[4]} | {sys.argv[5]} | {wall:.2f} | {tokens} | {tokens / wall:.1f} | {len(rows) / wall:.2f} | {passed}/{len(rows)} |")
PY
}

start_server() {
  "$LLAMA_SERVER" -m "$model" -np "$slots" -c $((slots * ctx)) -t "$threads" --host 127.0.0.1 --port "$port" \
    >"$out/llama-server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "llama-server did not become ready; its log:" >&2
  cat "$out/llama-server.log" >&2
  exit 1
}

echo "model $(basename "$model"), HumanEval first $limit tasks, n=$n, max_tokens $max_tokens, $workers workers"
[ -z "${LLAMA_SERVER:-}" ] || echo "llama-server: $LLAMA_SERVER -np $slots -t $threads -c $((slots * ctx))"
echo
echo "| backend | run | wall s | completion tokens | tokens/s | samples/s | passed |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for r in $(seq 1 "$repeats"); do
  for s in $seqs; do
    timed_eval "lcte engine --max-seqs $s" "$r" --backend engine --model "$model" --max-seqs "$s" --threads "$threads"
  done
  if [ -n "${LLAMA_SERVER:-}" ]; then
    # Started per round and stopped before the next, so neither side runs
    # beside the other's idle threads.
    start_server
    timed_eval "llama-server -np $slots" "$r" --backend http --base-url "http://127.0.0.1:$port/v1" \
      --model "$(basename "$model")" --max-in-flight "$slots"
    stop_server
  fi
done
