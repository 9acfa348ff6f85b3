#!/usr/bin/env bash
# The engine's speed table against llama.cpp, from nothing but this tree and a
# llama.cpp checkout or build: random LLaMA models of several sizes are made
# (bench/model/make_synthetic.py, F16), quantized by lcte to each type, and
# every one is run by llama-bench and `lcte bench` alternately in the same run
# (compare_llama_bench.py). On a CPU with AVX-512 the same lcte also runs with
# LCTE_KERNELS=avx2 (BASELINE_KERNELS), so the table shows what its AVX-512
# kernels gain.
#
# usage: bench/model/same_run_table.sh LLAMA [OUT_DIR]
#   LLAMA    a llama.cpp build directory (with bin/llama-bench), or a llama.cpp
#            source checkout, which is then built in OUT_DIR/llama-build as
#            docs/benchmarks.md describes (GGML_NATIVE, no curl, Release)
#   OUT_DIR  models, per-model JSON and table.md (default /tmp/lcte-same-run)
# environment (defaults in brackets):
#   SIZES    width x layers of each model ["2048x4 1536x6"]: 2048x4 is the
#            table in docs/benchmarks.md, the others held-out sizes
#   TYPES    ["F16 Q8_0 Q4_0 Q4_K_M Q5_K_M Q6_K"]
#   THREADS  [1,2]   ROUNDS [3]   PROMPT [128]   GEN [64]   REPS [3]
#   BASELINE_KERNELS  the kernel table of a second lcte column (LCTE_KERNELS):
#            avx2 on a CPU with AVX-512, none elsewhere; avx512 on a VNNI CPU
#            shows what VNNI adds; empty for no second column
#   LLAMA_COMMIT  the commit to print for llama.cpp (llama-bench built outside
#            git says "unknown"); taken from the checkout when LLAMA is one
# The lcte binary is build/src/cli/lcte (built first if absent). Each model
# takes a few minutes on 2 cores; the machine should be otherwise idle.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
die() {
  echo "same_run_table: $*" >&2
  exit 1
}
[ $# -ge 1 ] || die "usage: same_run_table.sh LLAMA_BUILD_OR_SOURCE [OUT_DIR]"
llama="$(cd "$1" && pwd)" || die "$1: no such directory"
out="${2:-/tmp/lcte-same-run}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
sizes="${SIZES:-2048x4 1536x6}"
types="${TYPES:-F16 Q8_0 Q4_0 Q4_K_M Q5_K_M Q6_K}"
vocab="${LCTE_DATA_DIR:-$root/../shared/data}/models/stories260K-f32.gguf"
[ -f "$vocab" ] || die "data file absent: $vocab (the vocabulary the models take; set LCTE_DATA_DIR)"

lcte="$root/build/src/cli/lcte"
if [ ! -x "$lcte" ]; then
  (cd "$root" && source scripts/deps.sh && lcte_install_deps && lcte_build build)
fi

commit="${LLAMA_COMMIT:-}"
if [ -x "$llama/bin/llama-bench" ]; then
  llama_build="$llama"
elif [ -f "$llama/CMakeLists.txt" ]; then
  llama_build="$out/llama-build"
  if [ ! -x "$llama_build/bin/llama-bench" ]; then
    echo "building llama.cpp from $llama in $llama_build" >&2
    cmake -S "$llama" -B "$llama_build" -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$llama_build" -j"$(nproc)" --target llama-bench >/dev/null
  fi
  [ -n "$commit" ] || commit="$(git -C "$llama" rev-parse --short=7 HEAD 2>/dev/null || true)"
else
  die "$llama is neither a llama.cpp build (bin/llama-bench) nor a source checkout (CMakeLists.txt)"
fi

baseline=()
base_kernels="${BASELINE_KERNELS-}"
if [ -z "${BASELINE_KERNELS+set}" ] && grep -qw avx512f /proc/cpuinfo; then base_kernels=avx2; fi
[ -z "$base_kernels" ] || baseline=(--baseline-kernels "$base_kernels")
commit_arg=()
[ -z "$commit" ] || commit_arg=(--llama-commit "$commit")

table="$out/table.md"
{
  echo "# lcte against llama.cpp, same run ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  dirty=""
  git -C "$root" diff --quiet HEAD 2>/dev/null || dirty=" with uncommitted changes"
  echo "lcte $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$dirty, llama.cpp ${commit:-?} ($llama_build)."
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) logical CPUs;" \
    "flags: $(grep -m1 -o -w 'avx2\|avx512f\|avx512_vnni\|avx512_bf16\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
} >"$table"

for size in $sizes; do
  dim="${size%x*}"
  layers="${size#*x}"
  heads=$((dim / 128))
  kv=$((heads / 4 > 0 ? heads / 4 : 1))
  ffn=$(((dim * 8 / 3 + 255) / 256 * 256))
  f16="$out/d$dim-l$layers-f16.gguf"
  [ -f "$f16" ] || python3 "$here/make_synthetic.py" "$vocab" "$f16" --dim "$dim" --layers "$layers" \
    --ffn "$ffn" --heads "$heads" --kv-heads "$kv" >/dev/null
  for type in $types; do
    lower="$(echo "$type" | tr 'A-Z' 'a-z')"
    model="$out/d$dim-l$layers-$lower.gguf"
    if [ "$lower" != f16 ] && [ ! -f "$model" ]; then
      "$lcte" quantize "$f16" "$model" "$type" -t "$(nproc)" >"$out/quantize-$lower.log" 2>&1 ||
        die "lcte quantize $type failed: see $out/quantize-$lower.log"
    fi
    echo >>"$table"
    python3 "$here/compare_llama_bench.py" --llama-build "$llama_build" "${commit_arg[@]}" "${baseline[@]}" \
      -p "${PROMPT:-128}" -n "${GEN:-64}" -t "${THREADS:-1,2}" -r "${REPS:-3}" --rounds "${ROUNDS:-3}" \
      --stat median --json "$out/d$dim-l$layers-$lower.json" "$model" | tee -a "$table"
  done
done
echo
echo "table: $table"
