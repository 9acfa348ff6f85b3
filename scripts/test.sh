#!/usr/bin/env bash
# Installs what lcte needs, builds it, and runs the whole test suite. Test data
# comes from $LCTE_DATA_DIR (default ../shared/data); tests whose data is
# absent skip and say which file they wanted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
lcte_install_deps
lcte_build build
set +e
ctest --test-dir build -j"$(nproc)" --output-on-failure --timeout 900 2>&1 | tee build/ctest.log
status=${PIPESTATUS[0]}
set -e
# The last line is the one CI reads: "N passed, N failed".
summary=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" build/ctest.log | tail -1)
total=$(echo "$summary" | sed -E 's/.*out of ([0-9]+).*/\1/')
failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests failed.*/\1/')
if [ -z "$summary" ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "$((total - failed)) passed, ${failed} failed"
exit "$status"
