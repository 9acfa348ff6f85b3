#include "train/ops.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace lcte::train::ops {
namespace {

// Below this much work a parallel region costs more than it saves (waking
// threads on a loaded 2-core machine takes tens of microseconds).
constexpr size_t kParallelWork = 1 << 15;

// cblas has one entry point per float type.
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
          float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
}
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const double* A, int lda, const double* B,
          int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

// How many OpenMP threads split a product of this many multiply-adds: all of
// them when OpenBLAS runs single-threaded (see use_threads) and the product
// is large enough, else one (OpenBLAS then threads it itself, or it is small).
int gemm_threads(double madds) {
  if (madds < 4.0 * kParallelWork || openblas_get_num_threads() > 1) return 1;
  return omp_get_max_threads();
}

// Rows [begin, end) of `rows` for thread `it` of `nt`.
std::pair<int, int> chunk(int rows, int it, int nt) {
  const int per = (rows + nt - 1) / nt;
  return {std::min(rows, it * per), std::min(rows, (it + 1) * per)};
}

}  // namespace

void use_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
  openblas_set_num_threads(1);
}

// ---------------------------------------------------------------- matmul

// The products are split by output rows across the OpenMP threads; each
// output element is still one dot product summed by one gemm call, so the
// result does not depend on the thread count.
template <class T>
void matmul_forward(T* out, const T* inp, const T* w, int N, int C, int OC) {
  // out (N x OC) = inp (N x C) * w^T (C x OC)
  const int nt = gemm_threads((double)N * C * OC);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    auto [r0, r1] = chunk(N, omp_get_thread_num(), omp_get_num_threads());
    if (r1 > r0)
      gemm(CblasNoTrans, CblasTrans, r1 - r0, OC, C, inp + (size_t)r0 * C, C, w, C, T(0), out + (size_t)r0 * OC, OC);
  }
}

template <class T>
void matmul_backward(T* dinp, T* dw, const T* dout, const T* inp, const T* w, int N, int C, int OC) {
  const int nt = gemm_threads((double)N * C * OC);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int it = omp_get_thread_num(), n_threads = omp_get_num_threads();
    // dinp (N x C) += dout (N x OC) * w (OC x C), split by token rows
    if (dinp != nullptr) {
      auto [r0, r1] = chunk(N, it, n_threads);
      if (r1 > r0)
        gemm(CblasNoTrans, CblasNoTrans, r1 - r0, C, OC, dout + (size_t)r0 * OC, OC, w, C, T(1), dinp + (size_t)r0 * C,
             C);
    }
    // dw (OC x C) += dout^T (OC x N) * inp (N x C), split by weight rows
    if (dw != nullptr) {
      auto [o0, o1] = chunk(OC, it, n_threads);
      if (o1 > o0) gemm(CblasTrans, CblasNoTrans, o1 - o0, C, N, dout + o0, OC, inp, C, T(1), dw + (size_t)o0 * C, C);
    }
  }
}

template <class T>
void matmul_forward_reference(T* out, const T* inp, const T* w, int N, int C, int OC) {
  for (int n = 0; n < N; ++n) {
    for (int o = 0; o < OC; ++o) {
      T sum = 0;
      for (int i = 0; i < C; ++i) sum += inp[(size_t)n * C + i] * w[(size_t)o * C + i];
      out[(size_t)n * OC + o] = sum;
    }
  }
}

template <class T>
void matmul_backward_reference(T* dinp, T* dw, const T* dout, const T* inp, const T* w, int N, int C, int OC) {
  for (int n = 0; n < N; ++n) {
    for (int o = 0; o < OC; ++o) {
      T d = dout[(size_t)n * OC + o];
      for (int i = 0; i < C; ++i) {
        if (dinp != nullptr) dinp[(size_t)n * C + i] += d * w[(size_t)o * C + i];
        if (dw != nullptr) dw[(size_t)o * C + i] += d * inp[(size_t)n * C + i];
      }
    }
  }
}

// ---------------------------------------------------------------- embedding

template <class T>
void embedding_forward(T* out, const int32_t* tokens, const T* table, int N, int C) {
  for (int n = 0; n < N; ++n) std::copy_n(table + (size_t)tokens[n] * C, C, out + (size_t)n * C);
}

template <class T>
void embedding_backward(T* dtable, const T* dout, const int32_t* tokens, int N, int C) {
  // Serial: two positions with the same token write the same row.
  for (int n = 0; n < N; ++n) {
    T* row = dtable + (size_t)tokens[n] * C;
    for (int i = 0; i < C; ++i) row[i] += dout[(size_t)n * C + i];
  }
}

// ---------------------------------------------------------------- RMSNorm

template <class T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int N, int C, double eps) {
#pragma omp parallel for if ((size_t)N * C > kParallelWork)
  for (int n = 0; n < N; ++n) {
    const T* x = inp + (size_t)n * C;
    T ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int i = 0; i < C; ++i) ss += x[i] * x[i];
    T r = T(1) / std::sqrt(ss / C + T(eps));
    rstd[n] = r;
    for (int i = 0; i < C; ++i) out[(size_t)n * C + i] = x[i] * r * weight[i];
  }
}

template <class T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int N, int C) {
  // y_i = w_i x_i r, r = (mean(x^2) + eps)^(-1/2), dr/dx_j = -r^3 x_j / C:
  //   dx_j = r w_j dy_j - (r^3 / C) x_j sum_i(w_i dy_i x_i)
#pragma omp parallel for if ((size_t)N * C > kParallelWork)
  for (int n = 0; n < N; ++n) {
    const T* x = inp + (size_t)n * C;
    const T* dy = dout + (size_t)n * C;
    T r = rstd[n];
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int i = 0; i < C; ++i) dot += weight[i] * dy[i] * x[i];
    T c = r * r * r / C * dot;
    for (int i = 0; i < C; ++i) dinp[(size_t)n * C + i] += r * weight[i] * dy[i] - c * x[i];
  }
  if (dweight == nullptr) return;
    // dw_i = sum_n dy_i x_i r; columns in parallel so that no two threads share one.
#pragma omp parallel for if ((size_t)N * C > kParallelWork)
  for (int i = 0; i < C; ++i) {
    T sum = 0;
    for (int n = 0; n < N; ++n) sum += dout[(size_t)n * C + i] * inp[(size_t)n * C + i] * rstd[n];
    dweight[i] += sum;
  }
}

// ---------------------------------------------------------------- RoPE

template <class T>
void rope_table(T* cos_sin, int Tn, int head_dim, double freq_base) {
  const int half = head_dim / 2;
  for (int t = 0; t < Tn; ++t) {
    for (int i = 0; i < half; ++i) {
      double angle = t * std::pow(freq_base, -2.0 * i / head_dim);
      cos_sin[((size_t)t * half + i) * 2 + 0] = T(std::cos(angle));
      cos_sin[((size_t)t * half + i) * 2 + 1] = T(std::sin(angle));
    }
  }
}

namespace {
// Rotates every (x[2i], x[2i+1]) by +angle (sign 1) or -angle (sign -1).
template <class T>
void rope_rotate(T* x, const T* cos_sin, int B, int Tn, int n_heads, int head_dim, T sign) {
  const int half = head_dim / 2;
#pragma omp parallel for collapse(2) if ((size_t)B * Tn * n_heads * head_dim > kParallelWork)
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < Tn; ++t) {
      const T* cs = cos_sin + (size_t)t * half * 2;
      for (int h = 0; h < n_heads; ++h) {
        T* v = x + (((size_t)b * Tn + t) * n_heads + h) * head_dim;
        for (int i = 0; i < half; ++i) {
          T c = cs[2 * i], s = sign * cs[2 * i + 1];
          T x0 = v[2 * i], x1 = v[2 * i + 1];
          v[2 * i] = x0 * c - x1 * s;
          v[2 * i + 1] = x0 * s + x1 * c;
        }
      }
    }
  }
}
}  // namespace

template <class T>
void rope_forward(T* x, const T* cos_sin, int B, int Tn, int n_heads, int head_dim) {
  rope_rotate(x, cos_sin, B, Tn, n_heads, head_dim, T(1));
}

template <class T>
void rope_backward(T* dx, const T* cos_sin, int B, int Tn, int n_heads, int head_dim) {
  rope_rotate(dx, cos_sin, B, Tn, n_heads, head_dim, T(-1));
}

// ---------------------------------------------------------------- attention

template <class T>
void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, int B, int Tn, int n_heads, int n_kv_heads,
                       int head_dim) {
  const int group = n_heads / n_kv_heads;
  const T scale = T(1) / std::sqrt(T(head_dim));
  const size_t q_stride = (size_t)n_heads * head_dim, kv_stride = (size_t)n_kv_heads * head_dim;
#pragma omp parallel for collapse(3) if ((size_t)B * n_heads * Tn * Tn * head_dim > 2 * kParallelWork)
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < n_heads; ++h) {
      for (int t = 0; t < Tn; ++t) {
        const int kvh = h / group;
        const T* qt = q + ((size_t)b * Tn + t) * q_stride + (size_t)h * head_dim;
        T* a = att + (((size_t)b * n_heads + h) * Tn + t) * Tn;
        // scores s_t2 = q_t . k_t2 / sqrt(d) for t2 <= t, then softmax
        T maxv = -INFINITY;
        for (int t2 = 0; t2 <= t; ++t2) {
          const T* kt = k + ((size_t)b * Tn + t2) * kv_stride + (size_t)kvh * head_dim;
          T s = 0;
#pragma omp simd reduction(+ : s)
          for (int i = 0; i < head_dim; ++i) s += qt[i] * kt[i];
          a[t2] = s * scale;
          maxv = std::max(maxv, a[t2]);
        }
        T sum = 0;
        for (int t2 = 0; t2 <= t; ++t2) {
          a[t2] = std::exp(a[t2] - maxv);
          sum += a[t2];
        }
        for (int t2 = 0; t2 <= t; ++t2) a[t2] /= sum;
        for (int t2 = t + 1; t2 < Tn; ++t2) a[t2] = 0;
        // out_t = sum_t2 a_t2 v_t2
        T* ot = out + ((size_t)b * Tn + t) * q_stride + (size_t)h * head_dim;
        for (int i = 0; i < head_dim; ++i) ot[i] = 0;
        for (int t2 = 0; t2 <= t; ++t2) {
          const T* vt = v + ((size_t)b * Tn + t2) * kv_stride + (size_t)kvh * head_dim;
          for (int i = 0; i < head_dim; ++i) ot[i] += a[t2] * vt[i];
        }
      }
    }
  }
}

template <class T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* att, const T* q, const T* k, const T* v, int B,
                        int Tn, int n_heads, int n_kv_heads, int head_dim) {
  const int group = n_heads / n_kv_heads;
  const T scale = T(1) / std::sqrt(T(head_dim));
  const size_t q_stride = (size_t)n_heads * head_dim, kv_stride = (size_t)n_kv_heads * head_dim;
  // One thread per (batch, KV head): the query heads of a group all write the
  // same dk, dv rows, so they stay on one thread.
#pragma omp parallel if ((size_t)B * n_heads * Tn * Tn * head_dim > kParallelWork)
  {
    std::vector<T> datt(static_cast<size_t>(Tn));
#pragma omp for collapse(2)
    for (int b = 0; b < B; ++b) {
      for (int kvh = 0; kvh < n_kv_heads; ++kvh) {
        for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
          for (int t = 0; t < Tn; ++t) {
            const T* a = att + (((size_t)b * n_heads + h) * Tn + t) * Tn;
            const T* dot = dout + ((size_t)b * Tn + t) * q_stride + (size_t)h * head_dim;
            const T* qt = q + ((size_t)b * Tn + t) * q_stride + (size_t)h * head_dim;
            T* dqt = dq + ((size_t)b * Tn + t) * q_stride + (size_t)h * head_dim;
            // out_t = sum a_t2 v_t2:  da_t2 = dout_t . v_t2,  dv_t2 += a_t2 dout_t
            for (int t2 = 0; t2 <= t; ++t2) {
              const T* vt = v + ((size_t)b * Tn + t2) * kv_stride + (size_t)kvh * head_dim;
              T* dvt = dv + ((size_t)b * Tn + t2) * kv_stride + (size_t)kvh * head_dim;
              T s = 0;
#pragma omp simd reduction(+ : s)
              for (int i = 0; i < head_dim; ++i) {
                s += dot[i] * vt[i];
                dvt[i] += a[t2] * dot[i];
              }
              datt[t2] = s;
            }
            // softmax: ds_t2 = a_t2 (da_t2 - sum_j a_j da_j)
            T sum = 0;
            for (int t2 = 0; t2 <= t; ++t2) sum += a[t2] * datt[t2];
            // s_t2 = scale q_t . k_t2
            for (int t2 = 0; t2 <= t; ++t2) {
              T ds = a[t2] * (datt[t2] - sum) * scale;
              const T* kt = k + ((size_t)b * Tn + t2) * kv_stride + (size_t)kvh * head_dim;
              T* dkt = dk + ((size_t)b * Tn + t2) * kv_stride + (size_t)kvh * head_dim;
              for (int i = 0; i < head_dim; ++i) {
                dqt[i] += ds * kt[i];
                dkt[i] += ds * qt[i];
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- SwiGLU

template <class T>
void swiglu_forward(T* h, const T* g, const T* u, size_t N) {
#pragma omp parallel for if (N > kParallelWork)
  for (size_t i = 0; i < N; ++i) {
    T sig = T(1) / (T(1) + std::exp(-g[i]));
    h[i] = g[i] * sig * u[i];
  }
}

template <class T>
void swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, size_t N) {
  // d silu(g)/dg = sig + g sig (1 - sig)
#pragma omp parallel for if (N > kParallelWork)
  for (size_t i = 0; i < N; ++i) {
    T sig = T(1) / (T(1) + std::exp(-g[i]));
    T silu = g[i] * sig;
    dg[i] += dh[i] * u[i] * (sig + g[i] * sig * (T(1) - sig));
    du[i] += dh[i] * silu;
  }
}

template <class T>
void residual_forward(T* x, const T* y, size_t N) {
#pragma omp parallel for if (N > kParallelWork)
  for (size_t i = 0; i < N; ++i) x[i] += y[i];
}

// ---------------------------------------------------------------- instantiations

#define LCTE_TRAIN_OPS(T)                                                                                          \
  template void matmul_forward<T>(T*, const T*, const T*, int, int, int);                                          \
  template void matmul_backward<T>(T*, T*, const T*, const T*, const T*, int, int, int);                           \
  template void matmul_forward_reference<T>(T*, const T*, const T*, int, int, int);                                \
  template void matmul_backward_reference<T>(T*, T*, const T*, const T*, const T*, int, int, int);                 \
  template void embedding_forward<T>(T*, const int32_t*, const T*, int, int);                                      \
  template void embedding_backward<T>(T*, const T*, const int32_t*, int, int);                                     \
  template void rmsnorm_forward<T>(T*, T*, const T*, const T*, int, int, double);                                  \
  template void rmsnorm_backward<T>(T*, T*, const T*, const T*, const T*, const T*, int, int);                     \
  template void rope_table<T>(T*, int, int, double);                                                               \
  template void rope_forward<T>(T*, const T*, int, int, int, int);                                                 \
  template void rope_backward<T>(T*, const T*, int, int, int, int);                                                \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, int, int, int, int, int);               \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int, int, int, \
                                      int, int);                                                                   \
  template void swiglu_forward<T>(T*, const T*, const T*, size_t);                                                 \
  template void swiglu_backward<T>(T*, T*, const T*, const T*, const T*, size_t);                                  \
  template void residual_forward<T>(T*, const T*, size_t);

LCTE_TRAIN_OPS(float)
LCTE_TRAIN_OPS(double)

}  // namespace lcte::train::ops
