#!/usr/bin/env bash
# Builds lcte with a sanitizer into its own build directory and runs tests
# under it:
#   scripts/sanitize.sh asan [CTEST_ARGS...]   ASan + UBSan (build-asan), the whole suite
#   scripts/sanitize.sh tsan [CTEST_ARGS...]   TSan (build-tsan), the threaded parts
# CTEST_ARGS replace the default test selection (e.g. -L '^model_test$' or
# -R ThreadPool); $LCTE_SANITIZE_TARGETS (space-separated) replaces the
# default build targets. The last line is ctest's summary, and the exit status
# is non-zero when a test failed or a sanitizer reported an error.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/sanitize.sh asan|tsan [CTEST_ARGS...]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
kind="$1"
shift

case "$kind" in
  asan)
    option=LCTE_ASAN
    targets=""  # everything
    selection=()
    # halt_on_error: a UBSan report fails the test that caused it.
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    ;;
  tsan)
    option=LCTE_TSAN
    # The thread pool and forward pass (model_test), the resource sampler
    # (test_measure), the eval harness's worker threads (eval_test), the
    # server (test_server, which also runs the lcte binary) and the dashboard
    # (test_dashboard: its jobs, event bus, store tail and token stream behind
    # cpp-httplib's threads).
    targets="model_test test_measure eval_test test_server test_dashboard lcte"
    # The scalar and AVX2 copies of the model tests repeat single-threaded work.
    selection=(-L '^(model_test|test_measure|eval_test|test_server|test_dashboard)$' -E '^isa_(scalar|avx2)\.')
    # scripts/tsan.supp: why the one suppression (uninstrumented cpp-httplib).
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp}"
    ;;
  *) usage ;;
esac
[ $# -eq 0 ] || selection=("$@")
targets="${LCTE_SANITIZE_TARGETS:-$targets}"
dir="build-$kind"

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# RelWithDebInfo: reports carry file and line; -O2 keeps the suite's run time sane.
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -D"$option"=ON -DLCTE_BUILD_BENCH=OFF \
  "${launcher[@]}" >/dev/null
if [ -n "$targets" ]; then
  # shellcheck disable=SC2086 # a list of target names
  cmake --build "$dir" -j"$(nproc)" --target $targets
else
  cmake --build "$dir" -j"$(nproc)"
fi
# Sanitized code is slower, hence the longer timeout.
set +e
ctest --test-dir "$dir" -j"$(nproc)" --output-on-failure --timeout 1800 "${selection[@]}" 2>&1 | tee "$dir/ctest.log"
status=${PIPESTATUS[0]}
set -e
# A report in a test that still exited 0 (a child process, a leak at exit
# after the test's verdict) must not go unnoticed.
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" "$dir/ctest.log"; then
  echo "sanitize.sh: sanitizer reports in $dir/ctest.log"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
