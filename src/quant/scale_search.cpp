// Scale searches; see scale_search.h. The expressions keep ggml's operand
// order on purpose (float addition is not associative): (w * x) * l, not
// w * (x * l). Compiled with -ffp-contract=off.
#include "quant/scale_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace lcte::quant::search {
namespace {

// The value of largest magnitude, sign kept (the first one on a tie).
float signed_absmax(int n, const float* x, float* amax_out) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  *amax_out = amax;
  return max;
}

int clamp_level(int l, int lo, int hi) { return std::max(lo, std::min(hi, l)); }

}  // namespace

float symmetric_scale(int n, int nmax, const float* x, const float* weights, int8_t* L) {
  float amax;
  const float max = signed_absmax(n, x, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };

  float iscale = -nmax / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  // The weighted energy the grid explains is (sum w x l)^2 / sum w l^2 =
  // scale * sumlx; a larger value means a smaller weighted error.
  float best = scale * sumlx;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    iscale = -(nmax + 0.1f * k) / max;
    sumlx = suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = weight(i);
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        L[i] = static_cast<int8_t>(nmax + clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float symmetric_scale_refined(int n, int nmax, const float* x, int8_t* L) {
  float amax;
  const float max = signed_absmax(n, x, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_level(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  // Coordinate descent: with the other levels fixed, the best level for x_i
  // is x_i * (sum w l^2) / (sum w x l) over the others; accept the move if it
  // raises the explained energy.
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0.0f) {
        float sl2 = suml2 - w * L[i] * L[i];
        const int l = clamp_level(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (l != L[i]) {
          slx += w * x[i] * l;
          sl2 += w * l * l;
          if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float affine_scale(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* offset, float rmin,
                   float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (max <= min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *offset = -min;
    return 0.0f;
  }
  auto error = [&](float scale, float mn, const uint8_t* levels) {
    float e = 0.0f;
    for (int i = 0; i < n; ++i) {
      float diff = scale * levels[i] + mn - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      e += weights[i] * diff;
    }
    return e;
  };

  float iscale = nmax / (max - min);
  float scale = 1.0f / iscale;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(clamp_level(nearest_int(iscale * (x[i] - min)), 0, nmax));
  float best_error = error(scale, min, L);
  if (nstep < 1) {
    *offset = -min;
    return scale;
  }
  uint8_t Laux[256];  // n <= 32 for every caller
  for (int k = 0; k <= nstep; ++k) {
    iscale = (rmin + rdelta * k + nmax) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_level(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    // Weighted least squares for x ~ s l + b: the normal equations' solution
    // by Cramer's rule. A positive b would mean the grid does not reach 0;
    // then b = 0 and s is the one-parameter fit.
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0.0f) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0.0f) {
        this_min = 0.0f;
        this_scale = sum_xl / sum_l2;
      }
      const float e = error(this_scale, this_min, Laux);
      if (e < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = e;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *offset = -min;
  return scale;
}

// affine_scale on eight groups at once, in GCC/Clang vector types: every
// scalar of affine_scale becomes a vector of the eight groups' values and
// every branch a per-lane select, so each lane performs exactly the float
// operations affine_scale performs for its group, in the same order (the
// sums run over i within a lane, never across lanes). Vector variables stay
// in registers, which plain arrays over the lanes did not (GCC kept them in
// memory and the sums waited on store-to-load forwarding).
namespace {

// These helpers pass 32-byte vectors by value; GCC warns that their ABI
// depends on -mavx, which cannot matter for functions of this file alone.
#pragma GCC diagnostic ignored "-Wpsabi"

using v8f = float __attribute__((vector_size(32)));
using v8i = int32_t __attribute__((vector_size(32)));
static_assert(kLanes == 8);

v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
v8f splat(float f) { return v8f{f, f, f, f, f, f, f, f}; }
// std::min / std::max semantics, lane by lane: (b < a) ? b : a.
v8f vmin(v8f a, v8f b) { return b < a ? b : a; }
v8f vmax(v8f a, v8f b) { return a < b ? b : a; }
v8f vabs(v8f a) { return a < 0.0f ? -a : a; }

template <bool kUseMad>
void affine_scale_lanes_impl(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* scale_out,
                             float* offset_out, float rmin, float rdelta, int nstep) {
  const v8f zero = splat(0.0f), fmax_level = splat(static_cast<float>(nmax));
  // nearest_int (the 1.5 * 2^23 addition), clamped to [0, nmax], as floats.
  auto level = [&](v8f v) {
    v8i bits;
    const v8f t = v + 12582912.0f;
    std::memcpy(&bits, &t, sizeof bits);
    const v8i l = (bits & 0x007fffff) - 0x00400000;
    return vmin(fmax_level, vmax(zero, __builtin_convertvector(l, v8f)));
  };
  auto err = [](v8f diff) { return kUseMad ? vabs(diff) : diff * diff; };

  v8f min = load8(x), max = min, sum_w = load8(weights), sum_x = sum_w * min;
  for (int i = 1; i < n; ++i) {
    const v8f xi = load8(x + i * kLanes), w = load8(weights + i * kLanes);
    min = vmin(min, xi);
    max = vmax(max, xi);
    sum_w += w;
    sum_x += w * xi;
  }
  min = vmin(min, zero);
  const auto flat = max <= min;  // all levels 0, scale 0
  v8f iscale = static_cast<float>(nmax) / (max - min);
  v8f scale = 1.0f / iscale;
  v8f best_error = zero;
  v8f Lbest[32], Laux[32];
  for (int i = 0; i < n; ++i) {
    const v8f xi = load8(x + i * kLanes);
    Lbest[i] = level(iscale * (xi - min));
    best_error += load8(weights + i * kLanes) * err(scale * Lbest[i] + min - xi);
  }
  for (int k = 0; k <= nstep; ++k) {
    iscale = (rmin + rdelta * static_cast<float>(k) + static_cast<float>(nmax)) / (max - min);
    v8f sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < n; ++i) {
      const v8f xi = load8(x + i * kLanes), w = load8(weights + i * kLanes);
      const v8f l = level(iscale * (xi - min));
      Laux[i] = l;
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * xi;
    }
    const v8f D = sum_w * sum_l2 - sum_l * sum_l;
    const v8f m = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const v8f this_min = m > 0.0f ? zero : m;
    const v8f this_scale = m > 0.0f ? sum_xl / sum_l2 : (sum_w * sum_xl - sum_x * sum_l) / D;
    v8f e = zero;
    for (int i = 0; i < n; ++i)
      e += load8(weights + i * kLanes) * err(this_scale * Laux[i] + this_min - load8(x + i * kLanes));
    const auto take = (flat == 0) & (D > 0.0f) & (e < best_error);
    best_error = take ? e : best_error;
    scale = take ? this_scale : scale;
    min = take ? this_min : min;
    for (int i = 0; i < n; ++i) Lbest[i] = take ? Laux[i] : Lbest[i];
  }
  for (int g = 0; g < kLanes; ++g) {
    offset_out[g] = -min[g];
    scale_out[g] = flat[g] ? 0.0f : scale[g];
    for (int i = 0; i < n; ++i) L[g * n + i] = flat[g] ? 0 : static_cast<uint8_t>(Lbest[i][g]);
  }
}

// symmetric_scale, lane by lane; see affine_scale_lanes_impl.
void symmetric_scale_lanes_impl(int n, int nmax, const float* x, const float* weights, int8_t* L, float* scale_out) {
  const v8f zero = splat(0.0f), lo = splat(static_cast<float>(-nmax)), hi = splat(static_cast<float>(nmax - 1));
  auto level = [&](v8f v) {
    v8i bits;
    const v8f t = v + 12582912.0f;
    std::memcpy(&bits, &t, sizeof bits);
    const v8i l = (bits & 0x007fffff) - 0x00400000;
    return vmax(lo, vmin(hi, __builtin_convertvector(l, v8f)));
  };
  auto weight = [&](int i, v8f xi) { return weights ? load8(weights + i * kLanes) : xi * xi; };
  // The value of largest magnitude, sign kept, first on ties.
  v8f amax = zero, max = zero;
  for (int i = 0; i < n; ++i) {
    const v8f xi = load8(x + i * kLanes), ax = vabs(xi);
    const auto bigger = ax > amax;
    amax = bigger ? ax : amax;
    max = bigger ? xi : max;
  }
  const auto empty = amax < kGroupMaxEps;
  v8f iscale = static_cast<float>(-nmax) / max;
  v8f sumlx = zero, suml2 = zero;
  v8f Lbest[32], Laux[32];
  for (int i = 0; i < n; ++i) {
    const v8f xi = load8(x + i * kLanes), w = weight(i, xi);
    const v8f l = level(iscale * xi);
    Lbest[i] = l;
    sumlx += w * xi * l;
    suml2 += w * l * l;
  }
  v8f scale = suml2 != 0.0f ? sumlx / suml2 : zero;
  v8f best = scale * sumlx;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / max;
    sumlx = suml2 = zero;
    for (int i = 0; i < n; ++i) {
      const v8f xi = load8(x + i * kLanes), w = weight(i, xi);
      const v8f l = level(iscale * xi);
      Laux[i] = l;
      sumlx += w * xi * l;
      suml2 += w * l * l;
    }
    const auto take = (suml2 > 0.0f) & (sumlx * sumlx > best * suml2);
    for (int i = 0; i < n; ++i) Lbest[i] = take ? Laux[i] : Lbest[i];
    scale = take ? sumlx / suml2 : scale;
    best = take ? scale * sumlx : best;
  }
  for (int g = 0; g < kLanes; ++g) {
    scale_out[g] = empty[g] ? 0.0f : scale[g];
    for (int i = 0; i < n; ++i)
      L[g * n + i] = empty[g] ? 0 : static_cast<int8_t>(Lbest[i][g] + static_cast<float>(nmax));
  }
}

}  // namespace

void symmetric_scale_lanes(int n, int nmax, const float* x, const float* weights, int8_t* L, float* scale) {
  symmetric_scale_lanes_impl(n, nmax, x, weights, L, scale);
}

void affine_scale_lanes(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* scale, float* offset,
                        float rmin, float rdelta, int nstep, bool use_mad) {
  if (use_mad)
    affine_scale_lanes_impl<true>(n, nmax, x, weights, L, scale, offset, rmin, rdelta, nstep);
  else
    affine_scale_lanes_impl<false>(n, nmax, x, weights, L, scale, offset, rmin, rdelta, nstep);
}

float positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* weights) {
  float max = 0.0f;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = nmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  float scale = 1.0f / iscale;
  float best_mse = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    best_mse += weights[i] * diff * diff;
  }
  for (int k = -4; k <= 4; ++k) {
    if (k == 0) continue;
    const float iscale_k = (0.1f * k + nmax) / max;
    const float scale_k = 1.0f / iscale_k;
    float mse = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_k * x[i]));
      const float diff = x[i] - scale_k * l;
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_k;
    }
  }
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    const float w = weights[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      float slx = sumlx - w * x[i] * L[i];
      float sl2 = suml2 - w * L[i] * L[i];
      if (slx > 0.0f && sl2 > 0.0f) {
        const int l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (l != L[i]) {
          slx += w * x[i] * l;
          sl2 += w * l * l;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace lcte::quant::search
