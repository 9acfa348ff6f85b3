// The scale searches behind ggml's K-quants and its importance-weighted
// quantizers. Each one picks, for a small group of values x[0..n), a scale
// (and for the affine grids a min) and integer levels L so that
// sum_i w_i (x_i - q(L_i))^2 is small, by trying a few grid stretches around
// the naive max-based scale and solving the least-squares scale for each.
//
// They follow ggml's make_qx_quants, make_q3_quants, make_qkx2_quants and
// make_qp_quants step by step, float operation by float operation, because
// "the same algorithm gives the same bytes" is how lcte's K-quant files are
// checked against llama-quantize's. Compile with -ffp-contract=off: an FMA
// rounds differently and flips the odd level.
#pragma once

#include <cstdint>
#include <cstring>

namespace lcte::quant::search {

// Groups whose largest |x| is below this are stored as all-zero.
constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even (|x| < 2^22). Adding 1.5 * 2^23 puts x where
// the float spacing is 1, so the addition itself rounds; the low mantissa
// bits are then the integer. Beyond 2^22 the result is wrong but defined (no
// UB as a cast would be), and every caller clamps it, as ggml's callers do.
inline int nearest_int(float x) {
  const float v = x + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &v, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

// Symmetric grid x ~ s * l, l in [-nmax, nmax-1]. Tries iscale =
// -(nmax + 0.1 k) / max for k = -9..9 (max: the value of largest magnitude),
// keeps the one whose least-squares scale s = sum w x l / sum w l^2 explains
// the most weighted energy. Weights: `weights` if given, else x^2.
// Writes L[i] = l + nmax (in [0, 2 nmax)); returns s (0 for an all-zero group).
// (ggml's make_qx_quants with rmse_type 1.)
float symmetric_scale(int n, int nmax, const float* x, const float* weights, int8_t* L);

// Symmetric grid with weights x^2, starting from the max-based levels and
// then moving single levels (up to 5 sweeps) while that raises
// (sum w x l)^2 / sum w l^2. Writes L[i] = l + nmax. (make_q3_quants, rmse.)
float symmetric_scale_refined(int n, int nmax, const float* x, int8_t* L);

// Affine grid x ~ s * l - m, l in [0, nmax], m >= 0 (the group min, when
// negative, is the offset; a positive min is clamped to 0). Tries
// iscale = (nmax + rmin + rdelta k) / (max - min) for k = 0..nstep, solves the
// weighted 2x2 least-squares problem for (s, -m) at each, keeps the lowest
// weighted error (absolute error if use_mad). Writes L and *offset = m;
// returns s. (make_qkx2_quants; with non-null weights also make_qkx3_quants.)
float affine_scale(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* offset, float rmin,
                   float rdelta, int nstep, bool use_mad);

// affine_scale for kLanes groups at once: the same float operations in the
// same order for each group, so each lane's result is bit-identical to a
// call of affine_scale, but the loops run across groups, which the compiler
// vectorises (8 floats per AVX2 register) without reordering any sum.
// Layout is lane-minor: x[i * kLanes + g] and weights[i * kLanes + g] are
// value i of group g. Writes L[g * n + i], scale[g], offset[g]. nstep >= 1.
constexpr int kLanes = 8;
void affine_scale_lanes(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* scale, float* offset,
                        float rmin, float rdelta, int nstep, bool use_mad);

// symmetric_scale for kLanes groups at once, bit-identical per lane, in the
// same lane-minor layout (weights may be null: x^2). Writes L[g * n + i]
// and scale[g].
void symmetric_scale_lanes(int n, int nmax, const float* x, const float* weights, int8_t* L, float* scale);

// Non-negative values (the sub-block scales or mins of a super-block) on the
// grid x ~ s * l, l in [0, nmax]: the best of 9 stretches of the max-based
// scale by weighted error, then single-level moves as in
// symmetric_scale_refined. Writes L; returns s. (make_qp_quants.)
float positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* weights);

}  // namespace lcte::quant::search
