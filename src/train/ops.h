// The operations of a LLaMA block for training, each as a forward and a
// hand-written backward side by side, in the style of llm.c. Buffers are flat
// row-major arrays: a "row" is one token position, N = batch * seq rows.
//
// Conventions:
//  * Weights are [out][in] row-major, exactly as a GGUF file stores them (ne[0]
//    is the row length `in`), so y = W x is a dot product of x with each row.
//  * Every backward ACCUMULATES (+=) into its gradient buffers, parameter and
//    activation alike; the caller zeroes them. That makes gradient accumulation
//    over micro-batches and the residual stream's fan-out free.
//  * A null parameter-gradient pointer means "frozen": that part is skipped.
//  * Templated on the float type: float for training, double for the
//    finite-difference checks in tests/train.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lcte::train::ops {

// Training runs on one pool of OpenMP threads: `n` of them (0 keeps OpenMP's
// default, one per core). OpenBLAS (a pthreads build here) is set to ONE
// thread, process-wide, and the matmuls split their rows across the pool
// instead: two thread pools on a 2-core machine fight, because OpenBLAS's idle
// workers spin for a long time after each call. Without this call OpenBLAS
// keeps its own threads and each matmul is one OpenBLAS call.
void use_threads(int n);

// out[n][o] = sum_i inp[n][i] * w[o][i]            (cblas gemm)
template <class T>
void matmul_forward(T* out, const T* inp, const T* w, int N, int C, int OC);
// dinp[n][i] += sum_o dout[n][o] * w[o][i]
// dw[o][i]   += sum_n dout[n][o] * inp[n][i]       (skipped when dw is null)
template <class T>
void matmul_backward(T* dinp, T* dw, const T* dout, const T* inp, const T* w, int N, int C, int OC);
// Plain-loop references of the two above, for tests.
template <class T>
void matmul_forward_reference(T* out, const T* inp, const T* w, int N, int C, int OC);
template <class T>
void matmul_backward_reference(T* dinp, T* dw, const T* dout, const T* inp, const T* w, int N, int C, int OC);

// out[n] = table[tokens[n]]                          table: [vocab][C]
template <class T>
void embedding_forward(T* out, const int32_t* tokens, const T* table, int N, int C);
template <class T>
void embedding_backward(T* dtable, const T* dout, const int32_t* tokens, int N, int C);

// out = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps); rstd[n] is kept
// for the backward.
template <class T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int N, int C, double eps);
template <class T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int N, int C);

// Rotary position embedding of llama's GGUF layout ("normal" rope): within each
// head, the adjacent pair (x[2i], x[2i+1]) at position t is rotated by the
// angle t * base^(-2i/head_dim). x is [B][T][n_heads][head_dim], in place.
// cos_sin is a table from rope_table(): [T][head_dim/2][2].
template <class T>
void rope_table(T* cos_sin, int Tn, int head_dim, double freq_base);
template <class T>
void rope_forward(T* x, const T* cos_sin, int B, int Tn, int n_heads, int head_dim);
// The rotation is orthogonal, so its backward rotates the gradient back (by
// the negative angle), in place on dx.
template <class T>
void rope_backward(T* dx, const T* cos_sin, int B, int Tn, int n_heads, int head_dim);

// Causal softmax attention with grouped-query heads: query head h reads KV
// head h / (n_heads / n_kv_heads).
//   q, out: [B][T][n_heads][head_dim];  k, v: [B][T][n_kv_heads][head_dim]
//   att:    [B][n_heads][T][T] softmax probabilities (upper triangle zero),
//           kept for the backward.
template <class T>
void attention_forward(T* out, T* att, const T* q, const T* k, const T* v, int B, int Tn, int n_heads, int n_kv_heads,
                       int head_dim);
template <class T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* att, const T* q, const T* k, const T* v, int B,
                        int Tn, int n_heads, int n_kv_heads, int head_dim);

// h = silu(g) * u with silu(g) = g * sigmoid(g); all [N].
template <class T>
void swiglu_forward(T* h, const T* g, const T* u, size_t N);
template <class T>
void swiglu_backward(T* dg, T* du, const T* dh, const T* g, const T* u, size_t N);

// x += y (the residual stream); its backward is the identity, done by the
// caller passing the same gradient to both branches.
template <class T>
void residual_forward(T* x, const T* y, size_t N);

}  // namespace lcte::train::ops
