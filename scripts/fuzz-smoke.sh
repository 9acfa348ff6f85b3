#!/usr/bin/env bash
# Builds every libFuzzer target under fuzz/ with clang (build-fuzz, ASan and
# UBSan on) and fuzzes each for a short time: first the inputs that once
# crashed it (fuzz/regressions/), then $LCTE_FUZZ_SECONDS (default 60) of
# fuzzing from a corpus kept in build-fuzz/corpus/<target>/. Exit status
# non-zero when any target crashes; the crashing input is left in
# build-fuzz/crashes/<target>/.
#   scripts/fuzz-smoke.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${LCTE_FUZZ_SECONDS:-60}"
data_dir="${LCTE_DATA_DIR:-../shared/data}"
dir=build-fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLCTE_FUZZ=ON \
  -DLCTE_BUILD_TESTS=OFF -DLCTE_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"

# Inputs that show each target a well-formed start; the fuzzer mutates them.
seed_target() {
  local target="$1" corpus="$2"
  case "$target" in
    fuzz_gguf)
      cp fuzz/regressions/*.gguf "$corpus"/ 2>/dev/null || true
      for m in stories260K-q4_0 stories260K-q8_0; do
        [ -f "$data_dir/models/$m.gguf" ] && cp "$data_dir/models/$m.gguf" "$corpus/seed-$m.gguf"
      done
      ;;
  esac
  return 0
}

regressions_of() {
  case "$1" in
    fuzz_gguf) ls fuzz/regressions/*.gguf 2>/dev/null || true ;;
  esac
}

failed=()
for target in "${targets[@]}"; do
  bin="$dir/fuzz/$target"
  corpus="$dir/corpus/$target"
  crashes="$dir/crashes/$target"
  mkdir -p "$corpus" "$crashes"
  seed_target "$target" "$corpus"
  mapfile -t regressions < <(regressions_of "$target")
  if [ ${#regressions[@]} -gt 0 ] && ! "$bin" "${regressions[@]}" >"$dir/$target.regressions.log" 2>&1; then
    echo "$target: a regression input crashes again (see $dir/$target.regressions.log)"
    failed+=("$target")
    continue
  fi
  log="$dir/$target.log"
  if "$bin" "$corpus" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo "?")
    cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 || true)
    echo "$target: ${#regressions[@]} regression inputs pass; ${seconds} s, $runs inputs, ${cov:-cov: ?}, no crash"
  else
    echo "$target: CRASH after fuzzing (input in $crashes/, log $log)"
    grep -m3 -E "ERROR:|runtime error:|SUMMARY:" "$log" || true
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
  exit 1
fi
echo "fuzz smoke: ${#targets[@]} targets, no crash"
