#!/usr/bin/env bash
# Installs what lcte needs, builds it, and runs the whole test suite. Test data
# comes from $LCTE_DATA_DIR (default ../shared/data); tests whose data is
# absent skip and say which file they wanted.
#
# The last line is the one CI reads: "N passed, N failed, N skipped", counted
# by scripts/ctest_summary.py from ctest's JUnit file, with the skipped tests
# grouped by the data file (or machine feature) they wanted just above it.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${LCTE_DATA_DIR:-../shared/data}"

say_if_no_data() {
  [ -d "$data_dir" ] ||
    echo "lcte: the test data directory $data_dir is absent (set LCTE_DATA_DIR): the tests that need its files will be skipped"
}

say_if_no_data
source scripts/deps.sh
lcte_install_deps
if ! lcte_build build; then
  echo "lcte: the build failed; no test ran"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
junit="$PWD/build/ctest-junit.xml"
rm -f "$junit"
set +e
ctest --test-dir build -j"$(nproc)" --output-on-failure --timeout 900 --output-junit "$junit" 2>&1 |
  tee build/ctest.log
status=${PIPESTATUS[0]}
set -e
# A CPU without AVX-512 skips the isa_avx512 and isa_avx512vnni tests above;
# their kernels then run here, emulated with SIMDe, in a build of their own
# (about 2 minutes on two cores). LCTE_EMULATE_AVX512=0 leaves them out.
also=()
if [ "${LCTE_EMULATE_AVX512:-1}" != 0 ] && [ "$(uname -m)" = x86_64 ] && ! grep -qw avx512f /proc/cpuinfo; then
  echo
  echo "lcte: this CPU has no AVX-512: running the isa_avx512 and isa_avx512vnni tests emulated (scripts/emulate_avx512.sh)"
  set +e
  bash scripts/emulate_avx512.sh build-avx512emu 2>&1 | tee build/emulate-avx512.log
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  set -e
  also=(--also "emulated-avx512=build-avx512emu/ctest-junit.xml")
fi
echo
python3 scripts/ctest_summary.py "$junit" --data-dir "$data_dir" "${also[@]}" || [ "$status" -ne 0 ] || status=1
exit "$status"
