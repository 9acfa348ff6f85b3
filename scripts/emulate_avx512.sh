#!/usr/bin/env bash
# Runs the AVX-512 kernel tables' tests (the isa_avx512.* and isa_avx512vnni.*
# cases of kernels_tests, kernels_conformance_tests and model_test) on a CPU
# without AVX-512: a separate build, configured with -DLCTE_EMULATE_AVX512=ON,
# compiles both AVX-512 tables for AVX2 with SIMDe standing in for the 512-bit
# and VNNI intrinsics (src/kernels/x86_simd.h), so the same kernel code runs and is
# compared with the scalar reference and llama.cpp's logits. It says nothing
# about their speed. On a CPU with AVX-512 the normal build runs those tests
# natively and this script is not needed.
#
# usage: scripts/emulate_avx512.sh [BUILD_DIR]   (default build-avx512emu)
# Writes BUILD_DIR/ctest-junit.xml; exits non-zero if the build or a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build-avx512emu}"
case "$(uname -m)" in
  x86_64 | amd64) ;;
  *)
    echo "emulate_avx512: $(uname -m) is not x86-64; there is no AVX-512 table to run" >&2
    exit 0
    ;;
esac
source scripts/deps.sh
lcte_install_deps
mkdir -p "$build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLCTE_EMULATE_AVX512=ON \
  -DLCTE_BUILD_BENCH=OFF >"$build_dir/configure.log" 2>&1 || {
  cat "$build_dir/configure.log" >&2
  exit 1
}
rm -f "$build_dir/ctest-junit.xml"  # a failed build must not leave an earlier run's results
cmake --build "$build_dir" -j"$(nproc)" --target kernels_tests kernels_conformance_tests model_test
ctest --test-dir "$build_dir" -R '^isa_avx512(vnni)?[.]' -j"$(nproc)" --timeout 900 --output-on-failure \
  --output-junit "$PWD/$build_dir/ctest-junit.xml"
