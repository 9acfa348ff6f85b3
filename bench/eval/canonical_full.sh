#!/usr/bin/env bash
# The full canonical self-checks, too long for ctest on 2 cores: every
# reference solution of HumanEval (164), MBPP (974, all splits) and sanitized
# MBPP (427) through `lcte eval` and the sandbox. Prints each suite's summary
# and lists any task whose reference did not pass, with its status and error.
#
# Usage: bench/eval/canonical_full.sh [BUILD_DIR] [WORKERS]
# Env: TIMEOUT (seconds per sample, default 30: Mbpp/123's reference needs
# 5.5 s of CPU, which is over 10 s of wall time on a loaded 2-core machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
workers="${2:-2}"
lcte="$build/src/cli/lcte"
data="${LCTE_DATA_DIR:-$root/../shared/data}"
[[ -x "$lcte" ]] || { echo "no $lcte; build the lcte target first" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
for suite in humaneval mbpp mbpp-sanitized; do
  echo "== $suite"
  LCTE_DATA_DIR="$data" "$lcte" --log-level warn eval --suite "$suite" --backend canonical --split all \
    --workers "$workers" --timeout "${TIMEOUT:-30}" --out "$out" --run-id "$suite" --no-store
  python3 - "$out/$suite/summary.json" <<'PY' || status=1
import json, sys
s = json.load(open(sys.argv[1]))
bad = [t for t in s["per_task"] if t["c"] != t["n"]]
for t in bad:
    print("  not passed:", t["task_id"], t["statuses"])
sys.exit(1 if bad else 0)
PY
done
exit $status
