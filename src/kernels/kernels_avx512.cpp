// AVX-512 (F, BW, VL, DQ) kernels. The 256-bit kernels of kernels_x86.inc are
// compiled again here, where they get 32 vector registers and EVEX encodings;
// the signed 32-blocks (Q4_0, Q5_0, Q8_0) have 512-bit kernels of their own
// below, two blocks per register.
//
// kernels_tests and model_test compare this table with the scalar reference
// and llama.cpp's logits on CPUs with AVX-512, and on CPUs without it through
// scripts/emulate_avx512.sh (SIMDe; see x86_simd.h).
// GCC 12's AVX-512 headers trip its own -Wuninitialized (the intrinsics
// start from deliberately undefined vectors); the warning says nothing here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/kernels_x86.inc"

namespace lcte::kernels::detail {
namespace {

// Two consecutive 32-blocks in one register: block b in the low 256 bits,
// block b+1 in the high 256 bits.
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
inline __m512 join(float lo, float hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(lo)), _mm256_set1_ps(hi), 1);
}

// Signed 32-block weights (Q4_0, Q5_0, Q8_0) with Q8_0 activations. AVX-512
// has no sign_epi8, so the sign trick is |w| times (a negated where w < 0).
template <class W>
struct Block32Kernel512 {
  static_assert(W::kSigned && !W::kMin);
  static constexpr size_t kAct = sizeof(BlockQ8_0);

  template <int R, int T>
  static void tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* a, size_t as, float* out, size_t os) {
    __m512 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    const int64_t nb = n / kQK;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      __m512i wabs[R];
      __mmask64 wneg[R];
      __m512 dw[R];
      for (int r = 0; r < R; ++r) {
        const uint8_t* blk = w + r * ws + b * W::kBytes;
        const __m512i q = join(W::unpack(blk), W::unpack(blk + W::kBytes));
        wabs[r] = _mm512_abs_epi8(q);
        wneg[r] = _mm512_movepi8_mask(q);
        dw[r] = join(half(blk), half(blk + W::kBytes));
      }
      for (int t = 0; t < T; ++t) {
        const uint8_t* ablk = a + t * as + b * kAct;
        const __m512i aq = join(load256(ablk + 2), load256(ablk + kAct + 2));
        const __m512 da = join(half(ablk), half(ablk + kAct));
        for (int r = 0; r < R; ++r) {
          const __m512i s = _mm512_mask_sub_epi8(aq, wneg[r], _mm512_setzero_si512(), aq);
          const __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(wabs[r], s), _mm512_set1_epi16(1));
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw[r], da), acc[r][t]);
        }
      }
    }
    float tail[T * R] = {};
    if (b < nb) Block32Kernel<W>::template tile<R, T>(kQK, w + b * W::kBytes, ws, a + b * kAct, as, tail, R);
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) out[t * os + r] = _mm512_reduce_add_ps(acc[r][t]) + tail[t * R + r];
  }
};

}  // namespace

void fill_avx512(KernelTable& t) {
  fill_x86_256(t);
  // BF16 keeps the 256-bit kernels of kernels_x86.inc, in llama.cpp's order
  // (its vdpbf16ps emulated with FMAs; see GgmlBf16).
  // The formats that follow llama.cpp's order keep the 256-bit element-lane
  // kernels (two blocks per 512-bit register would change the order), with
  // the larger tiles that 32 registers allow.
  set_kernels<Block32Kernel<Q4_1W>, 4, 4, 4>(t, GgmlType::Q4_1);
  set_kernels<Block32Kernel<Q5_0W>, 4, 4, 8>(t, GgmlType::Q5_0);
  set_kernels<Block32Kernel<Q5_1W>, 4, 4, 4>(t, GgmlType::Q5_1);
  set_kernels<Block32Kernel<Q8_0W>, 4, 4, 8>(t, GgmlType::Q8_0);
}

}  // namespace lcte::kernels::detail
