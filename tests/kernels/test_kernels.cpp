// Dot products, activation quantization and the batched matmul: every SIMD
// ISA against the scalar reference, and the scalar reference against
// dequantize-then-multiply in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/fp16.h"
#include "test_util.h"

namespace lcte {
namespace {

using kernels::Isa;

struct Quantized {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // the dequantized activation
};

Quantized quantize_act(GgmlType w, const std::vector<float>& x, Isa isa = Isa::Scalar) {
  const GgmlType act = kernels::activation_type(w);
  const int64_t n = static_cast<int64_t>(x.size());
  Quantized q;
  q.bytes.resize(kernels::activation_row_bytes(w, n));
  kernels::quantize_activations(act, x.data(), q.bytes.data(), n, isa);
  q.values.resize(x.size());
  kernels::dequantize_row(act, q.bytes.data(), q.values.data(), n, Isa::Scalar);
  return q;
}

std::vector<float> dequant(GgmlType t, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  kernels::dequantize_row(t, row.data(), out.data(), n, Isa::Scalar);
  return out;
}

// Sum of |w_i a_i|: the scale against which float rounding is measured.
double magnitude(const std::vector<float>& w, const std::vector<float>& a) {
  double m = 0;
  for (size_t i = 0; i < w.size(); ++i) m += std::fabs(static_cast<double>(w[i]) * a[i]);
  return m;
}

// F16 and BF16 weights multiply activations rounded to F16 / BF16 (as in
// llama.cpp).
std::vector<float> as_weight_sees(GgmlType w, std::vector<float> x) {
  if (w == GgmlType::F16)
    for (float& v : x) v = fp16_to_fp32(fp32_to_fp16(v));
  if (w == GgmlType::BF16)
    for (float& v : x) v = bf16_to_fp32(fp32_to_bf16(v));
  return x;
}

double exact_dot(const std::vector<float>& w, const std::vector<float>& a) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i) s += static_cast<double>(w[i]) * a[i];
  return s;
}

bool has_min_term(GgmlType t) { return t == GgmlType::Q4_1 || t == GgmlType::Q5_1; }

// The Q8_1 "s" field is d * sum(q) rounded to half precision, so formats with
// a min carry that rounding (2^-11 relative) on the min term.
double min_term_slack(GgmlType w, const std::vector<uint8_t>& wrow, const std::vector<float>& a, int64_t n) {
  if (!has_min_term(w)) return 0;
  double slack = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    uint16_t m;
    std::memcpy(&m, wrow.data() + b * type_traits(w).block_bytes + 2, 2);
    double s = 0;
    for (int j = 0; j < 32; ++j) s += a[b * 32 + j];
    slack += std::fabs(fp16_to_fp32(m)) * (std::fabs(s) * std::ldexp(1.0, -10) + 1e-3);
  }
  return slack;
}

TEST(VecDot, ScalarMatchesDequantizedDot) {
  for (GgmlType w : testing::weight_types()) {
    for (int64_t n : {256, 768, 4096}) {
      const auto wrow = testing::random_row(w, n, 1 + static_cast<uint32_t>(n) + static_cast<uint32_t>(w));
      const auto x = testing::random_floats(static_cast<size_t>(n), 77);
      const Quantized a = quantize_act(w, x);
      const auto wv = dequant(w, wrow, n);
      const float got = kernels::vec_dot(w, n, wrow.data(), a.bytes.data(), Isa::Scalar);
      const double want = exact_dot(wv, as_weight_sees(w, a.values));
      const double tol = 2e-6 * magnitude(wv, a.values) + min_term_slack(w, wrow, x, n) + 1e-6;
      EXPECT_NEAR(got, want, tol) << type_name(w) << " n=" << n;
    }
  }
}

TEST(VecDot, SimdMatchesScalar) {
  const auto isas = testing::simd_isas();
  if (isas.empty()) GTEST_SKIP() << "no SIMD ISA under test (LCTE_KERNELS=scalar, or none on this CPU/build)";
  for (GgmlType w : testing::weight_types()) {
    for (int64_t n : {256, 512, 2816}) {
      for (uint32_t seed = 0; seed < 4; ++seed) {
        const auto wrow = testing::random_row(w, n, seed * 31 + static_cast<uint32_t>(w));
        const auto x = testing::random_floats(static_cast<size_t>(n), seed + 1000);
        const Quantized a = quantize_act(w, x);
        const auto wv = dequant(w, wrow, n);
        const float ref = kernels::vec_dot(w, n, wrow.data(), a.bytes.data(), Isa::Scalar);
        double wmax = 0, asum = 0;
        for (float v : wv) wmax = std::max(wmax, std::fabs(static_cast<double>(v)));
        for (float v : a.values) asum += std::fabs(v);
        const double tol = 1e-6 * wmax * asum + 1e-6;
        for (Isa isa : isas) {
          const float got = kernels::vec_dot(w, n, wrow.data(), a.bytes.data(), isa);
          EXPECT_NEAR(got, ref, tol) << type_name(w) << " " << kernels::isa_name(isa) << " n=" << n;
        }
      }
    }
  }
}

// F32 weights take rows of any length; the SIMD tails must be right.
TEST(VecDot, FloatRowsOfOddLength) {
  for (GgmlType w : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    for (int64_t n : {1, 7, 13, 31, 33, 100}) {
      const auto wrow = testing::random_row(w, n, 5);
      const auto x = testing::random_floats(static_cast<size_t>(n), 6);
      const auto wv = dequant(w, wrow, n);
      const double want = exact_dot(wv, as_weight_sees(w, x));
      for (Isa isa : testing::isas_under_test()) {
        EXPECT_NEAR(kernels::vec_dot(w, n, wrow.data(), x.data(), isa), want, 1e-5 * magnitude(wv, x) + 1e-7)
            << type_name(w) << " n=" << n;
      }
    }
  }
}

// Float matmuls with rows whose length is not a multiple of 8 (the tails),
// against a double-precision dot per output; and every output is the same
// whether computed in a batch or one token at a time (llama.cpp takes its
// one-token order for such rows at any batch size).
TEST(Matmul, FloatTilesOfOddLengthAndShapeIndependent) {
  for (GgmlType w : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    for (int64_t n : {13, 37, 264})
      for (int64_t ntok : {5, 8, 19}) {
        const int64_t nrows = 9;
        const size_t wb = row_bytes(w, n);
        std::vector<uint8_t> wmat(wb * nrows);
        std::vector<std::vector<float>> wv(nrows);
        for (int64_t r = 0; r < nrows; ++r) {
          const auto row = testing::random_row(w, n, 40 + static_cast<uint32_t>(r));
          std::memcpy(wmat.data() + r * wb, row.data(), wb);
          wv[r] = dequant(w, row, n);
        }
        std::vector<float> acts(static_cast<size_t>(n * ntok));
        for (int64_t t = 0; t < ntok; ++t) {
          const auto x = testing::random_floats(static_cast<size_t>(n), 70 + static_cast<uint32_t>(t));
          std::copy(x.begin(), x.end(), acts.begin() + t * n);
        }
        for (Isa isa : testing::simd_isas()) {
          std::vector<float> batch(static_cast<size_t>(nrows * ntok)), single(static_cast<size_t>(nrows));
          kernels::matmul(w, n, wmat.data(), wb, nrows, acts.data(), n * sizeof(float), ntok, batch.data(), nrows, isa);
          for (int64_t t = 0; t < ntok; ++t) {
            const std::vector<float> x(acts.begin() + t * n, acts.begin() + (t + 1) * n);
            kernels::vec_dot_rows(w, n, wmat.data(), wb, nrows, x.data(), single.data(), isa);
            for (int64_t r = 0; r < nrows; ++r) {
              EXPECT_NEAR(batch[t * nrows + r], exact_dot(wv[r], as_weight_sees(w, x)),
                          1e-5 * magnitude(wv[r], x) + 1e-7)
                  << type_name(w) << " n=" << n << " r" << r << " t" << t;
              // llama.cpp's order: rows whose length is not a multiple of
              // 16 (F32/F16) or 32 (BF16) use its one-token order in a batch
              // too.
              EXPECT_EQ(batch[t * nrows + r], single[r]) << type_name(w) << " n=" << n << " r" << r << " t" << t;
            }
          }
        }
      }
  }
}

TEST(ActivationQuant, SimdIsByteIdenticalToScalar) {
  for (GgmlType act : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
    const int64_t n = 256 * 6;
    auto x = testing::random_floats(static_cast<size_t>(n), 9, 3.0f);
    for (int j = 256; j < 512; ++j) x[j] = 0.0f;  // an all-zero block
    x[600] = -50.0f;                              // a dominant negative value
    x[900] = 40.0f;
    x[901] = -40.0f;  // a tie in magnitude
    std::vector<uint8_t> ref(row_bytes(act, n)), got(row_bytes(act, n));
    kernels::quantize_activations(act, x.data(), ref.data(), n, Isa::Scalar);
    for (Isa isa : testing::simd_isas()) {
      std::fill(got.begin(), got.end(), 0xAB);
      kernels::quantize_activations(act, x.data(), got.data(), n, isa);
      EXPECT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size())) << type_name(act) << " " << kernels::isa_name(isa);
    }
  }
}

// llama.cpp's x86 build quantizes activations with its AVX code, whose rule
// differs from its scalar reference: Q8_0/Q8_1 scale by id = 127/amax (not
// 1/d) and round half to even (_mm256_round_ps), Q8_K by -127/max with
// nearest_int (also half to even). Blocks with amax = 127 make id exactly 1,
// so elements at k + 0.5 are exact ties whose result is known by hand; one
// element rounded away from zero (the scalar reference's roundf) fails this.
TEST(ActivationQuant, TiesRoundToEvenAsLlamaCppX86) {
  std::vector<Isa> isas = {Isa::Scalar};
  for (Isa isa : testing::simd_isas()) isas.push_back(isa);
  // Block 0: amax 127; ties at +-0.5, +-1.5, 2.5, -3.5, 4.5, 126.5.
  std::vector<float> x(256, 0.0f);
  const float ties[] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -3.5f, 4.5f, 126.5f, 127.0f, -2.5f, 5.5f};
  const int8_t want_q[] = {0, 0, 2, -2, 2, -4, 4, 126, 127, -2, 6};  // half to even
  for (size_t i = 0; i < std::size(ties); ++i) x[i] = ties[i];
  for (int j = 11; j < 32; ++j) x[j] = static_cast<float>(j) - 20.0f;  // exact integers
  for (GgmlType act : {GgmlType::Q8_0, GgmlType::Q8_1}) {
    const size_t qs = act == GgmlType::Q8_0 ? 2 : 4;
    for (Isa isa : isas) {
      std::vector<uint8_t> q(row_bytes(act, 256));
      kernels::quantize_activations(act, x.data(), q.data(), 256, isa);
      const auto* qb = reinterpret_cast<const int8_t*>(q.data() + qs);
      int sum = 0;
      for (size_t i = 0; i < std::size(ties); ++i)
        EXPECT_EQ(qb[i], want_q[i]) << type_name(act) << " " << kernels::isa_name(isa) << " x=" << ties[i];
      for (int j = 11; j < 32; ++j) EXPECT_EQ(qb[j], j - 20) << type_name(act) << " " << kernels::isa_name(isa);
      for (int j = 0; j < 32; ++j) sum += qb[j];
      uint16_t d;
      std::memcpy(&d, q.data(), 2);
      EXPECT_EQ(fp16_to_fp32(d), 1.0f);
      if (act == GgmlType::Q8_1) {
        uint16_t s16;
        std::memcpy(&s16, q.data() + 2, 2);
        EXPECT_EQ(fp16_to_fp32(s16), static_cast<float>(sum)) << kernels::isa_name(isa);
      }
    }
  }
  // Q8_K: the first element of largest magnitude is 127.0 (index 8, before
  // -127 at 200), so iscale = -127/127 = -1 and q = -x, ties half to even.
  std::vector<float> xk(256, 0.0f);
  for (size_t i = 0; i < std::size(ties); ++i) xk[i] = ties[i];
  xk[200] = -127.0f;
  for (Isa isa : isas) {
    std::vector<uint8_t> q(row_bytes(GgmlType::Q8_K, 256));
    kernels::quantize_activations(GgmlType::Q8_K, xk.data(), q.data(), 256, isa);
    const auto* qb = reinterpret_cast<const int8_t*>(q.data() + 4);
    for (size_t i = 0; i < std::size(ties); ++i)
      EXPECT_EQ(qb[i], -want_q[i]) << "q8_K " << kernels::isa_name(isa) << " x=" << ties[i];
    EXPECT_EQ(qb[200], 127) << kernels::isa_name(isa);
  }
}

// Each quantized activation is within half a step of the input, and the
// derived fields (Q8_1's s, Q8_K's bsums) are consistent with the quants.
TEST(ActivationQuant, ErrorIsHalfAStepAndSumsMatch) {
  const int64_t n = 1024;
  const auto x = testing::random_floats(static_cast<size_t>(n), 12, 2.0f);
  for (GgmlType act : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
    const int64_t bs = type_traits(act).block_size;
    std::vector<uint8_t> q(row_bytes(act, n));
    kernels::quantize_activations(act, x.data(), q.data(), n, Isa::Scalar);
    std::vector<float> y(static_cast<size_t>(n));
    kernels::dequantize_row(act, q.data(), y.data(), n, Isa::Scalar);
    for (int64_t b = 0; b < n / bs; ++b) {
      float amax = 0;
      for (int64_t j = 0; j < bs; ++j) amax = std::max(amax, std::fabs(x[b * bs + j]));
      const float step = amax / 127.0f;
      for (int64_t j = 0; j < bs; ++j)
        ASSERT_NEAR(y[b * bs + j], x[b * bs + j], 0.5 * step + 127 * step * std::ldexp(1.0, -11) + 1e-7)
            << type_name(act) << " " << j;
      const uint8_t* blk = q.data() + b * type_traits(act).block_bytes;
      if (act == GgmlType::Q8_1) {
        uint16_t s;
        std::memcpy(&s, blk + 2, 2);
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(blk[4 + j]);
        EXPECT_EQ(s, fp32_to_fp16((amax / 127.0f) * static_cast<float>(sum)));
      }
      if (act == GgmlType::Q8_K) {
        for (int j = 0; j < 16; ++j) {
          int sum = 0;
          for (int l = 0; l < 16; ++l) sum += static_cast<int8_t>(blk[4 + 16 * j + l]);
          int16_t bsum;
          std::memcpy(&bsum, blk + 260 + 2 * j, 2);
          EXPECT_EQ(bsum, sum);
        }
      }
    }
  }
}

// matmul and vec_dot_rows equal one vec_dot per (row, token), with strides
// that leave gaps and sizes that leave partial tiles.
TEST(Matmul, MatchesVecDotForEveryIsa) {
  std::vector<Isa> isas = {Isa::Scalar};
  for (Isa isa : testing::simd_isas()) isas.push_back(isa);
  // 5 and 7 tokens leave every remainder (1, 2, 3) of the 3- and 4-token
  // tiles; 8 or more go through the 32-block formats' 8-token groups (9 and
  // 19: a group plus leftover tokens; 64: several groups).
  for (const int64_t ntok : {1, 2, 3, 5, 7, 8, 9, 19, 64})
    for (GgmlType w : testing::weight_types()) {
      const int64_t n = 512, nrows = 11;
      const size_t wrow_bytes = row_bytes(w, n), w_stride = wrow_bytes + 64;
      const size_t arow_bytes = kernels::activation_row_bytes(w, n), a_stride = arow_bytes + 32;
      std::vector<uint8_t> wmat(w_stride * nrows), amat(a_stride * ntok);
      // Float rounding in the kernels is measured against max|w| * sum|a|: the
      // K formats with mins subtract terms of that size, so the result can be
      // much smaller than the partial sums.
      std::vector<double> wmax(nrows), asum(ntok);
      for (int64_t r = 0; r < nrows; ++r) {
        const auto row = testing::random_row(w, n, 500 + static_cast<uint32_t>(r));
        std::memcpy(wmat.data() + r * w_stride, row.data(), wrow_bytes);
        for (float v : dequant(w, row, n)) wmax[r] = std::max(wmax[r], std::fabs(static_cast<double>(v)));
      }
      for (int64_t t = 0; t < ntok; ++t) {
        const auto x = testing::random_floats(static_cast<size_t>(n), 900 + static_cast<uint32_t>(t));
        const Quantized a = quantize_act(w, x);
        std::memcpy(amat.data() + t * a_stride, a.bytes.data(), arow_bytes);
        for (float v : a.values) asum[t] += std::fabs(v);
      }
      for (Isa isa : isas) {
        const size_t out_stride = nrows + 3;
        std::vector<float> out(out_stride * ntok, -1.0f);
        kernels::matmul(w, n, wmat.data(), w_stride, nrows, amat.data(), a_stride, ntok, out.data(), out_stride, isa);
        std::vector<float> rows(nrows);
        for (int64_t t = 0; t < ntok; ++t) {
          kernels::vec_dot_rows(w, n, wmat.data(), w_stride, nrows, amat.data() + t * a_stride, rows.data(), isa);
          for (int64_t r = 0; r < nrows; ++r) {
            const float ref =
                kernels::vec_dot(w, n, wmat.data() + r * w_stride, amat.data() + t * a_stride, Isa::Scalar);
            const double tol = 1e-6 * wmax[r] * asum[t] + 1e-6;
            EXPECT_NEAR(out[t * out_stride + r], ref, tol)
                << type_name(w) << " " << kernels::isa_name(isa) << " r" << r << " t" << t;
            EXPECT_NEAR(rows[r], ref, tol) << type_name(w) << " " << kernels::isa_name(isa) << " rows r" << r;
          }
          for (size_t r = nrows; r < out_stride; ++r) EXPECT_EQ(out[t * out_stride + r], -1.0f) << "wrote past a row";
        }
      }
    }
}

// llama.cpp's float order for Q4_0 and Q8_0 weights, written out in scalar
// code from its description (docs/parts/engine.md), so the SIMD kernels are
// checked against an independent statement of the order, bit for bit.
float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// Integer dot of elements [e0, e1) of one Q4_0 / Q8_0 weight block with one
// Q8_0 activation block.
int block_idot(GgmlType w, const uint8_t* wb, const uint8_t* ab, int e0, int e1) {
  int s = 0;
  for (int e = e0; e < e1; ++e) {
    const int q =
        w == GgmlType::Q4_0 ? (e < 16 ? (wb[2 + e] & 15) : (wb[2 + e - 16] >> 4)) - 8 : static_cast<int8_t>(wb[2 + e]);
    s += q * static_cast<int8_t>(ab[2 + e]);
  }
  return s;
}

// Q4_0 (llama.cpp's repacked 8x8 layout): one scalar FMA chain of each
// block's whole integer dot times d_w * d_a.
float llama_order_q4_0(const uint8_t* w, const uint8_t* a, int64_t nb) {
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * 18;
    const uint8_t* ab = a + b * 34;
    const float scale = half_at(wb) * half_at(ab);
    acc = std::fma(static_cast<float>(block_idot(GgmlType::Q4_0, wb, ab, 0, 32)), scale, acc);
  }
  return acc;
}

// Q8_0 (ggml_vec_dot_q8_0_q8_0 / tinyBLAS_Q0): eight lanes of 4-element
// integer sums, one FMA chain per lane, reduced as hsum_float_8.
float llama_order_q8_0(const uint8_t* w, const uint8_t* a, int64_t nb) {
  float lane[8] = {};
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * 34;
    const uint8_t* ab = a + b * 34;
    const float scale = half_at(wb) * half_at(ab);
    for (int k = 0; k < 8; ++k)
      lane[k] = std::fma(static_cast<float>(block_idot(GgmlType::Q8_0, wb, ab, 4 * k, 4 * k + 4)), scale, lane[k]);
  }
  const float s04 = lane[0] + lane[4], s15 = lane[1] + lane[5], s26 = lane[2] + lane[6], s37 = lane[3] + lane[7];
  const float even = s04 + s26, odd = s15 + s37;
  return even + odd;
}

// Every SIMD path (one token, element-lane tiles, token-lane tiles over
// packed 8-token groups, leftovers) gives llama.cpp's bits for Q4_0 and Q8_0
// at every batch size; rows 0..15 go through full tiles, 16..18 the rest.
TEST(Matmul, Q4_0AndQ8_0InLlamaCppOrderAtEveryBatchSize) {
  for (GgmlType w : {GgmlType::Q4_0, GgmlType::Q8_0})
    for (Isa isa : testing::simd_isas())
      for (const int64_t ntok : {1, 2, 3, 5, 8, 9, 17, 24, 35}) {
        const int64_t n = 320, nrows = 19, nb = n / 32;
        const size_t wb = row_bytes(w, n), ab = kernels::activation_row_bytes(w, n);
        std::vector<uint8_t> wmat(wb * nrows), amat(ab * ntok);
        for (int64_t r = 0; r < nrows; ++r) {
          const auto row = testing::random_row(w, n, 211 + static_cast<uint32_t>(r));
          std::memcpy(wmat.data() + r * wb, row.data(), wb);
        }
        for (int64_t t = 0; t < ntok; ++t) {
          // Large activations make the integer sums large (Q4_0: int16
          // partial sums near their bound) and the float sums inexact.
          const Quantized q = quantize_act(
              w, testing::random_floats(static_cast<size_t>(n), 77 + static_cast<uint32_t>(t), 50.0f), isa);
          std::memcpy(amat.data() + t * ab, q.bytes.data(), ab);
        }
        std::vector<float> out(static_cast<size_t>(nrows * ntok));
        kernels::matmul(w, n, wmat.data(), wb, nrows, amat.data(), ab, ntok, out.data(), nrows, isa);
        for (int64_t t = 0; t < ntok; ++t)
          for (int64_t r = 0; r < nrows; ++r) {
            const uint8_t* wr = wmat.data() + r * wb;
            const uint8_t* ar = amat.data() + t * ab;
            const float want = w == GgmlType::Q4_0 ? llama_order_q4_0(wr, ar, nb) : llama_order_q8_0(wr, ar, nb);
            ASSERT_EQ(f32_bits(out[t * nrows + r]), f32_bits(want))
                << type_name(w) << " " << kernels::isa_name(isa) << " ntok " << ntok << " r" << r << " t" << t << ": "
                << out[t * nrows + r] << " vs " << want;
            ASSERT_EQ(f32_bits(kernels::vec_dot(w, n, wr, ar, isa)), f32_bits(want)) << type_name(w) << " vec_dot";
          }
      }
}

// llama.cpp's order for a float product of several tokens with rows whose
// length is a multiple of 16 (llamafile's tinyBLAS in its AVX-512 build):
// per output one 16-lane FMA chain over 16-element steps, then the lanes
// reduced as GCC's _mm512_reduce_add_ps does (8 + 8, 4 + 4, the 64-bit
// halves swapped and added, then lanes 0 + 1). F16 weights see activations
// rounded to F16.
float reduce_add_16(const float (&lane)[16]) {
  float h[8], q[4], p[4];
  for (int l = 0; l < 8; ++l) h[l] = lane[8 + l] + lane[l];
  for (int l = 0; l < 4; ++l) q[l] = h[4 + l] + h[l];
  for (int l = 0; l < 4; ++l) p[l] = q[l] + q[l ^ 2];
  return p[0] + p[1];
}

float llama_order_float_tiles(const std::vector<float>& w, const std::vector<float>& x) {
  float lane[16] = {};
  for (size_t i = 0; i < w.size(); i += 16)
    for (int l = 0; l < 16; ++l) lane[l] = std::fma(w[i + l], x[i + l], lane[l]);
  return reduce_add_16(lane);
}

// Every SIMD ISA's float tiles give those bits at any tile shape, for rows
// of whole column slices (2048: four of 512), one partial slice (272) and
// whole slices with a partial one after them (1040), row counts past the
// tiles (11) and token counts past them.
TEST(Matmul, F32AndF16PromptsInLlamaCppOrder) {
  for (GgmlType w : {GgmlType::F32, GgmlType::F16})
    for (Isa isa : testing::simd_isas())
      for (const int64_t n : {16, 272, 1040, 2048})
        for (const int64_t ntok : {2, 3, 7}) {
          const int64_t nrows = 11;
          const size_t wb = row_bytes(w, n);
          std::vector<uint8_t> wmat(wb * nrows);
          std::vector<std::vector<float>> wv(nrows), xv(ntok);
          for (int64_t r = 0; r < nrows; ++r) {
            const auto row = testing::random_row(w, n, 300 + static_cast<uint32_t>(r));
            std::memcpy(wmat.data() + r * wb, row.data(), wb);
            wv[r] = dequant(w, row, n);
          }
          std::vector<float> acts(static_cast<size_t>(n * ntok));
          for (int64_t t = 0; t < ntok; ++t) {
            const auto x = testing::random_floats(static_cast<size_t>(n), 500 + static_cast<uint32_t>(t));
            std::copy(x.begin(), x.end(), acts.begin() + t * n);
            xv[t] = as_weight_sees(w, x);
          }
          std::vector<float> out(static_cast<size_t>(nrows * ntok));
          kernels::matmul(w, n, wmat.data(), wb, nrows, acts.data(), n * sizeof(float), ntok, out.data(), nrows, isa);
          for (int64_t t = 0; t < ntok; ++t)
            for (int64_t r = 0; r < nrows; ++r) {
              const float want = llama_order_float_tiles(wv[r], xv[t]);
              ASSERT_EQ(f32_bits(out[t * nrows + r]), f32_bits(want))
                  << type_name(w) << " " << kernels::isa_name(isa) << " n " << n << " ntok " << ntok << " r" << r
                  << " t" << t << ": " << out[t * nrows + r] << " vs " << want;
            }
        }
}

// llama.cpp's order for BF16 weights (its AVX512_BF16 build). The
// activations are rounded to BF16 (nearest even) and multiplied with
// vdpbf16ps: per lane j of a 16-lane FP32 accumulator, over 32-element steps,
// acc += w[2j+1]*x[2j+1], then acc += w[2j]*x[2j], each add rounded (the
// products of two BF16 values are exact in FP32). Elements [i0, i1) of the
// 32-element steps starting at every multiple of `stride` from `begin`.
void vdpbf16ps_chain(const std::vector<float>& w, const std::vector<float>& x, size_t begin, size_t end, size_t stride,
                     float (&lane)[16]) {
  for (size_t i = begin; i < end; i += stride)
    for (int j = 0; j < 16; ++j) {
      lane[j] = std::fma(w[i + 2 * j + 1], x[i + 2 * j + 1], lane[j]);
      lane[j] = std::fma(w[i + 2 * j], x[i + 2 * j], lane[j]);
    }
}

// Several tokens, rows a multiple of 32 long (tinyBLAS<32, __m512,
// __m512bh>): one accumulator per output, reduced as _mm512_reduce_add_ps.
float llama_order_bf16_tiles(const std::vector<float>& w, const std::vector<float>& x) {
  float lane[16] = {};
  vdpbf16ps_chain(w, x, 0, w.size(), 32, lane);
  return reduce_add_16(lane);
}

// One token, or rows tinyBLAS declines (ggml_vec_dot_bf16): accumulator 1
// over elements 0-31 of every 64, accumulator 2 over 32-63, each reduced and
// summed in double, then the remaining elements' products in double.
float llama_order_bf16_vec_dot(const std::vector<float>& w, const std::vector<float>& x) {
  const size_t n = w.size(), np = n / 64 * 64;
  float c1[16] = {}, c2[16] = {};
  vdpbf16ps_chain(w, x, 0, np, 64, c1);
  vdpbf16ps_chain(w, x, 32, np, 64, c2);
  double sum = reduce_add_16(c1);
  sum += reduce_add_16(c2);
  for (size_t i = np; i < n; ++i) sum += static_cast<double>(w[i] * x[i]);
  return static_cast<float>(sum);
}

// Every SIMD ISA gives those bits at every batch size (one token, tiles and
// leftovers; rows of 64, of 96 = 64 + 32, and of 272, which tinyBLAS
// declines). Token 0's first 16 activations lie exactly halfway between two
// BF16 values or one F32 ulp either side of that, so that rounding them other
// than to nearest even moves them one BF16 ulp; the test checks it would see
// that (the expected bits move too).
TEST(Matmul, Bf16InLlamaCppOrderAtEveryBatchSize) {
  const GgmlType w = GgmlType::BF16;
  auto rne = [](float v) { return bf16_to_fp32(fp32_to_bf16(v)); };
  auto truncated = [](float v) { return f32_from_bits(f32_bits(v) & 0xffff0000u); };
  for (Isa isa : testing::simd_isas())
    for (const int64_t n : {64, 96, 272, 2048})
      for (const int64_t ntok : {1, 2, 3, 7}) {
        const int64_t nrows = 11;
        const size_t wb = row_bytes(w, n);
        std::vector<uint8_t> wmat(wb * nrows);
        std::vector<std::vector<float>> wv(nrows), xv(ntok), xt(ntok);
        for (int64_t r = 0; r < nrows; ++r) {
          const auto row = testing::random_row(w, n, 600 + static_cast<uint32_t>(r));
          std::memcpy(wmat.data() + r * wb, row.data(), wb);
          wv[r] = dequant(w, row, n);
        }
        std::vector<float> acts(static_cast<size_t>(n * ntok));
        for (int64_t t = 0; t < ntok; ++t) {
          auto x = testing::random_floats(static_cast<size_t>(n), 700 + static_cast<uint32_t>(t));
          if (t == 0)
            for (int k = 0; k < 16; ++k) {
              // BF16 mantissas with the last bit 1 (ties round up, away from
              // the truncated value) and 0 (ties round down).
              const uint32_t bf = ((f32_bits(x[k]) >> 16) & ~1u) | ((k & 1) ? 1u : 0u);
              const uint32_t below = k % 4 < 2 ? 0x8000u : 0x7fffu + (k % 4 == 3 ? 2u : 0u);
              x[k] = f32_from_bits((bf << 16) | below);
            }
          std::copy(x.begin(), x.end(), acts.begin() + t * n);
          xv[t] = x;
          xt[t] = x;
          for (float& v : xv[t]) v = rne(v);
          for (float& v : xt[t]) v = truncated(v);
        }
        std::vector<float> out(static_cast<size_t>(nrows * ntok));
        kernels::matmul(w, n, wmat.data(), wb, nrows, acts.data(), n * sizeof(float), ntok, out.data(), nrows, isa);
        const bool tiles = ntok > 1 && n % 32 == 0;
        for (int64_t t = 0; t < ntok; ++t)
          for (int64_t r = 0; r < nrows; ++r) {
            const float want = tiles ? llama_order_bf16_tiles(wv[r], xv[t]) : llama_order_bf16_vec_dot(wv[r], xv[t]);
            ASSERT_EQ(f32_bits(out[t * nrows + r]), f32_bits(want))
                << kernels::isa_name(isa) << " n " << n << " ntok " << ntok << " r" << r << " t" << t << ": "
                << out[t * nrows + r] << " vs " << want;
            const float one = kernels::vec_dot(w, n, wmat.data() + r * wb, acts.data() + t * n, isa);
            ASSERT_EQ(f32_bits(one), f32_bits(llama_order_bf16_vec_dot(wv[r], xv[t])))
                << "vec_dot " << kernels::isa_name(isa) << " n " << n << " r" << r << " t" << t;
            if (t == 0) {
              const float off = tiles ? llama_order_bf16_tiles(wv[r], xt[t]) : llama_order_bf16_vec_dot(wv[r], xt[t]);
              ASSERT_NE(f32_bits(off), f32_bits(want)) << "truncated activations give the same bits: r" << r;
            }
          }
      }
}

// The prompt path of the 32-block formats (8-token groups, tokens in lanes)
// against dequantize-then-multiply in double: short odd rows (3 blocks), a
// row count that is not a multiple of the 4-row tile, groups plus leftovers.
TEST(Matmul, BlockFormatsBatchMatchesDequantizedDot) {
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0};
  const int64_t n = 96, nrows = 7;
  for (GgmlType w : types)
    for (const int64_t ntok : {8, 23, 64}) {
      const size_t wb = row_bytes(w, n), ab = kernels::activation_row_bytes(w, n);
      std::vector<uint8_t> wmat(wb * nrows), amat(ab * ntok);
      std::vector<std::vector<float>> wv(nrows), av(ntok);
      for (int64_t r = 0; r < nrows; ++r) {
        const auto row = testing::random_row(w, n, 70 + static_cast<uint32_t>(r));
        std::memcpy(wmat.data() + r * wb, row.data(), wb);
        wv[r] = dequant(w, row, n);
      }
      for (int64_t t = 0; t < ntok; ++t) {
        const Quantized a =
            quantize_act(w, testing::random_floats(static_cast<size_t>(n), 40 + static_cast<uint32_t>(t)));
        std::memcpy(amat.data() + t * ab, a.bytes.data(), ab);
        av[t] = a.values;
      }
      std::vector<float> out(static_cast<size_t>(nrows * ntok));
      kernels::matmul(w, n, wmat.data(), wb, nrows, amat.data(), ab, ntok, out.data(), nrows);
      for (int64_t t = 0; t < ntok; ++t)
        for (int64_t r = 0; r < nrows; ++r) {
          std::vector<uint8_t> wrow(wmat.begin() + r * wb, wmat.begin() + (r + 1) * wb);
          const double tol = 2e-6 * magnitude(wv[r], av[t]) + min_term_slack(w, wrow, av[t], n) + 1e-6;
          EXPECT_NEAR(out[t * nrows + r], exact_dot(wv[r], av[t]), tol) << type_name(w) << " r" << r << " t" << t;
        }
    }
}

// Activations packed once (what the engine does for all threads' chunks)
// give exactly what matmul gives when it packs them itself; where an ISA has
// no packed form, matmul_packed is matmul.
TEST(Matmul, PackedActivationsGiveTheSameBits) {
  std::vector<Isa> isas = {Isa::Scalar};
  for (Isa isa : testing::simd_isas()) isas.push_back(isa);
  for (GgmlType w : testing::weight_types())
    for (Isa isa : isas)
      for (const int64_t ntok : {3, 8, 19}) {
        const int64_t n = 256, nrows = 10;
        const size_t wb = row_bytes(w, n), ab = kernels::activation_row_bytes(w, n) + 16;
        std::vector<uint8_t> wmat(wb * nrows), amat(ab * ntok);
        for (int64_t r = 0; r < nrows; ++r) {
          const auto row = testing::random_row(w, n, 3 + static_cast<uint32_t>(r));
          std::memcpy(wmat.data() + r * wb, row.data(), wb);
        }
        for (int64_t t = 0; t < ntok; ++t) {
          const Quantized a =
              quantize_act(w, testing::random_floats(static_cast<size_t>(n), 9 + static_cast<uint32_t>(t)));
          std::memcpy(amat.data() + t * ab, a.bytes.data(), a.bytes.size());
        }
        const size_t group = kernels::packed_group_bytes(w, n, isa);
        std::vector<uint8_t> packed(group * static_cast<size_t>(ntok / 8) + 1);  // +1: never empty
        for (int64_t g = 0; g < ntok / 8 && group > 0; ++g)
          kernels::pack_activation_group(w, n, amat.data() + 8 * g * ab, ab, packed.data() + g * group, isa);
        std::vector<float> plain(static_cast<size_t>(nrows * ntok)), viapack(plain.size());
        kernels::matmul(w, n, wmat.data(), wb, nrows, amat.data(), ab, ntok, plain.data(), nrows, isa);
        // Rows in two ranges, as two threads' chunks would take them.
        for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, 4}, {4, nrows}})
          kernels::matmul_packed(w, n, wmat.data() + r0 * wb, wb, r1 - r0, amat.data(), ab, packed.data(), ntok,
                                 viapack.data() + r0, nrows, isa);
        EXPECT_EQ(plain, viapack) << type_name(w) << " " << kernels::isa_name(isa) << " ntok " << ntok;
      }
  // The packed path exists where the tiles are (AVX2 and up) for Q4_0, whose
  // llama.cpp order (one scalar chain per output) a token lane can follow;
  // the other formats follow llama.cpp's order with other tiles.
  EXPECT_EQ(kernels::packed_group_bytes(GgmlType::Q4_0, 256, Isa::Scalar), 0u);
  EXPECT_EQ(kernels::packed_group_bytes(GgmlType::Q6_K, 256), 0u);
  if (kernels::isa_available(Isa::Avx2)) {
    EXPECT_EQ(kernels::packed_group_bytes(GgmlType::Q4_0, 256, Isa::Avx2), 8u * 320u);
    EXPECT_EQ(kernels::packed_group_bytes(GgmlType::Q8_0, 256, Isa::Avx2), 0u);
    EXPECT_EQ(kernels::packed_group_bytes(GgmlType::BF16, 256, Isa::Avx2), 0u);
  }
}

TEST(Kernels, ActivationTypes) {
  EXPECT_EQ(kernels::activation_type(GgmlType::F16), GgmlType::F32);
  EXPECT_EQ(kernels::activation_type(GgmlType::Q4_0), GgmlType::Q8_0);
  EXPECT_EQ(kernels::activation_type(GgmlType::Q5_1), GgmlType::Q8_1);
  EXPECT_EQ(kernels::activation_type(GgmlType::Q6_K), GgmlType::Q8_K);
  EXPECT_EQ(kernels::activation_row_bytes(GgmlType::Q4_K, 512), 2u * 292u);
  EXPECT_EQ(kernels::activation_row_bytes(GgmlType::BF16, 10), 40u);
}

TEST(Kernels, ErrorsNameTheType) {
  std::vector<uint8_t> buf(4096);
  try {
    kernels::vec_dot(GgmlType::IQ4_NL, 32, buf.data(), buf.data());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("iq4_nl"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kernels::activation_type(GgmlType::TQ2_0), Error);
  EXPECT_THROW(kernels::vec_dot(GgmlType::Q4_0, 33, buf.data(), buf.data()), Error);
  EXPECT_THROW(
      kernels::quantize_activations(GgmlType::Q4_0, reinterpret_cast<const float*>(buf.data()), buf.data(), 32), Error);
  EXPECT_THROW(kernels::matmul(GgmlType::I32, 32, buf.data(), 128, 1, buf.data(), 128, 1,
                               reinterpret_cast<float*>(buf.data()), 1),
               Error);
}

TEST(Kernels, BestIsaIsAvailable) {
  EXPECT_TRUE(kernels::isa_available(kernels::best_isa()));
  // Under ctest's per-ISA runs the gate has checked the named ISA is here, so
  // the cap must pick exactly it.
  if (const auto want = kernels::requested_isa()) {
    EXPECT_EQ(kernels::best_isa(), *want);
  }
  EXPECT_TRUE(kernels::isa_available(Isa::Scalar));
  std::printf("best ISA here: %s (avx2 %d, avx512 %d, avx512vnni %d)\n",
              std::string(kernels::isa_name(kernels::best_isa())).c_str(), kernels::isa_available(Isa::Avx2),
              kernels::isa_available(Isa::Avx512), kernels::isa_available(Isa::Avx512Vnni));
}

// Restores one environment variable when the test ends, however it ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Kernels, LcteKernelsNamesAnIsaOrIsAnError) {
  {
    ScopedEnv env("LCTE_KERNELS", "avx2");
    EXPECT_EQ(kernels::requested_isa(), Isa::Avx2);
  }
  {
    ScopedEnv env("LCTE_KERNELS", "");
    EXPECT_EQ(kernels::requested_isa(), std::nullopt);
  }
  ScopedEnv env("LCTE_KERNELS", "avx1024");
  try {
    kernels::requested_isa();
    ADD_FAILURE() << "LCTE_KERNELS=avx1024 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LCTE_KERNELS='avx1024' is not one of scalar, avx2, avx512, avx512vnni"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lcte
