#include "quant/quantize.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "core/error.h"
#include "kernels/kernels.h"
#include "quant/kquants.h"

namespace lcte::quant {

bool can_quantize_to(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K: return true;
    default: return false;
  }
}

void quantize_row(GgmlType t, const float* x, void* dst, int64_t n, const float* importance) {
  if (!can_quantize_to(t)) fail("quantize: lcte cannot write type {}", type_name(t));
  const int64_t block = type_traits(t).block_size;
  if (n <= 0 || n % block != 0)
    fail("quantize: a row of {} elements does not split into {} blocks of {}", n, type_name(t), block);
  switch (t) {
    case GgmlType::Q2_K: return quantize_row_q2_K(x, dst, n, importance);
    case GgmlType::Q3_K: return quantize_row_q3_K(x, dst, n, importance);
    case GgmlType::Q4_K: return quantize_row_q4_K(x, dst, n, importance);
    case GgmlType::Q5_K: return quantize_row_q5_K(x, dst, n, importance);
    case GgmlType::Q6_K: return quantize_row_q6_K(x, dst, n, importance);
    case GgmlType::Q4_0:
      if (importance) return quantize_row_q4_0_weighted(x, dst, n, importance);
      break;
    case GgmlType::Q4_1:
      if (importance) return quantize_row_q4_1_weighted(x, dst, n, importance);
      break;
    case GgmlType::Q5_0:
      if (importance) return quantize_row_q5_0_weighted(x, dst, n, importance);
      break;
    case GgmlType::Q5_1:
      if (importance) return quantize_row_q5_1_weighted(x, dst, n, importance);
      break;
    default: break;  // F32/F16/BF16/Q8_0: no weighted variant
  }
  kernels::quantize_row_ref(t, x, dst, n);
}

void quantize_rows(GgmlType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* importance,
                   int threads) {
  if (nrows <= 0) return;
  const size_t out_row = row_bytes(t, n_per_row);
  auto run = [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r)
      quantize_row(t, src + r * n_per_row, static_cast<uint8_t*>(dst) + r * out_row, n_per_row, importance);
  };
  // Validate once on this thread so a bad type or row length throws here
  // rather than inside a worker; the remaining rows go out in contiguous
  // slices, the calling thread taking the first.
  run(0, 1);
  const int64_t rest = nrows - 1;
  const int64_t n_threads = std::clamp<int64_t>(threads, 1, std::max<int64_t>(rest, 1));
  auto slice_begin = [&](int64_t k) { return 1 + rest * k / n_threads; };
  std::vector<std::thread> workers;
  for (int64_t k = 1; k < n_threads; ++k) workers.emplace_back(run, slice_begin(k), slice_begin(k + 1));
  run(slice_begin(0), slice_begin(1));
  for (std::thread& w : workers) w.join();
}

}  // namespace lcte::quant
