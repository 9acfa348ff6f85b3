#!/usr/bin/env bash
# Times the canonical HumanEval run end to end (all 164 reference solutions
# through `lcte eval` and the sandbox) with 1 and 2 workers, against OpenAI's
# human-eval harness doing the same (reproduced step by step in
# human_eval_reference.py, since it cannot be installed here). Repetitions
# run every configuration back to back; the table gives medians.
#
# Usage: bench/eval/canonical_humaneval.sh [BUILD_DIR]   (default: build)
# Env: LCTE_DATA_DIR (default ../shared/data), REPEATS (default 3), OTHER_LCTE
# (another lcte binary, e.g. an earlier commit's build, timed alongside).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
lcte="$build/src/cli/lcte"
data="${LCTE_DATA_DIR:-$root/../shared/data}"
[[ -x "$lcte" ]] || { echo "no $lcte; build the lcte target first" >&2; exit 1; }
python="$(python3 -c 'import sys; print(sys.executable)')"  # not a pyenv shim
exec "$python" "$here/canonical_humaneval.py" "$lcte" "$data" "${REPEATS:-3}"
