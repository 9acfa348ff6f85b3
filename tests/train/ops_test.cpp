// Every operation's backward against central finite differences of
// L = sum(w .* forward(x)) in double precision, and the BLAS matmul against
// its plain-loop reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "grad_check.h"
#include "train/ops.h"

namespace lcte::train {
namespace {

using testing::dot;
using testing::expect_gradient;
using testing::random_vector;
using V = std::vector<double>;

TEST(TrainOps, MatmulBlasMatchesReference) {
  const int N = 7, C = 13, OC = 5;
  auto inp = random_vector(N * C, 1), w = random_vector(OC * C, 2), dout = random_vector(N * OC, 3);
  std::vector<float> fi(inp.begin(), inp.end()), fw(w.begin(), w.end()), fd(dout.begin(), dout.end());
  std::vector<float> out(N * OC), ref(N * OC);
  ops::matmul_forward(out.data(), fi.data(), fw.data(), N, C, OC);
  ops::matmul_forward_reference(ref.data(), fi.data(), fw.data(), N, C, OC);
  for (int i = 0; i < N * OC; ++i) EXPECT_NEAR(out[i], ref[i], 1e-5f * (1 + std::fabs(ref[i])));
  std::vector<float> di(N * C, 0.5f), dw(OC * C, -0.25f), di_ref = di, dw_ref = dw;
  ops::matmul_backward(di.data(), dw.data(), fd.data(), fi.data(), fw.data(), N, C, OC);
  ops::matmul_backward_reference(di_ref.data(), dw_ref.data(), fd.data(), fi.data(), fw.data(), N, C, OC);
  for (int i = 0; i < N * C; ++i) EXPECT_NEAR(di[i], di_ref[i], 1e-5f * (1 + std::fabs(di_ref[i])));
  for (int i = 0; i < OC * C; ++i) EXPECT_NEAR(dw[i], dw_ref[i], 1e-5f * (1 + std::fabs(dw_ref[i])));
}

TEST(TrainOps, MatmulSplitAcrossThreadsIsExactAndThreadCountFree) {
  // With OpenBLAS on one thread, the products are split by rows over OpenMP
  // threads: results match the reference and do not depend on the split.
  ops::use_threads(2);
  const int N = 96, C = 80, OC = 72;  // large enough to be split
  auto inp = random_vector(N * C, 21), w = random_vector(OC * C, 22), dout = random_vector(N * OC, 23);
  std::vector<float> fi(inp.begin(), inp.end()), fw(w.begin(), w.end()), fd(dout.begin(), dout.end());
  auto run = [&](std::vector<float>& out, std::vector<float>& di, std::vector<float>& dw) {
    out.assign(N * OC, 0.f);
    di.assign(N * C, 0.f);
    dw.assign(OC * C, 0.f);
    ops::matmul_forward(out.data(), fi.data(), fw.data(), N, C, OC);
    ops::matmul_backward(di.data(), dw.data(), fd.data(), fi.data(), fw.data(), N, C, OC);
  };
  std::vector<float> out2, di2, dw2, out1, di1, dw1;
  run(out2, di2, dw2);
  ops::use_threads(1);
  run(out1, di1, dw1);
  ops::use_threads(2);
  EXPECT_EQ(out1, out2);
  EXPECT_EQ(di1, di2);
  EXPECT_EQ(dw1, dw2);
  std::vector<float> ref(N * OC), di_ref(N * C, 0.f), dw_ref(OC * C, 0.f);
  ops::matmul_forward_reference(ref.data(), fi.data(), fw.data(), N, C, OC);
  ops::matmul_backward_reference(di_ref.data(), dw_ref.data(), fd.data(), fi.data(), fw.data(), N, C, OC);
  for (int i = 0; i < N * OC; ++i) ASSERT_NEAR(out2[i], ref[i], 1e-4f * (1 + std::fabs(ref[i])));
  for (int i = 0; i < N * C; ++i) ASSERT_NEAR(di2[i], di_ref[i], 1e-4f * (1 + std::fabs(di_ref[i])));
  for (int i = 0; i < OC * C; ++i) ASSERT_NEAR(dw2[i], dw_ref[i], 1e-4f * (1 + std::fabs(dw_ref[i])));
}

TEST(TrainOps, MatmulGradient) {
  const int N = 4, C = 6, OC = 3;
  V inp = random_vector(N * C, 1), w = random_vector(OC * C, 2), wout = random_vector(N * OC, 3);
  V out(N * OC);
  auto loss = [&] {
    ops::matmul_forward(out.data(), inp.data(), w.data(), N, C, OC);
    return dot(out, wout);
  };
  V dinp(N * C, 0), dw(OC * C, 0);
  ops::matmul_backward(dinp.data(), dw.data(), wout.data(), inp.data(), w.data(), N, C, OC);
  expect_gradient("matmul dinp", inp, dinp, loss);
  expect_gradient("matmul dw", w, dw, loss);
  // A null dw (frozen weight) leaves the input gradient as it was.
  V dinp2(N * C, 0);
  ops::matmul_backward(dinp2.data(), static_cast<double*>(nullptr), wout.data(), inp.data(), w.data(), N, C, OC);
  EXPECT_EQ(dinp2, dinp);
}

TEST(TrainOps, EmbeddingGradientWithRepeatedTokens) {
  const int N = 5, C = 4, vocab = 6;
  const std::vector<int32_t> tokens = {3, 1, 3, 0, 3};
  V table = random_vector(vocab * C, 4), wout = random_vector(N * C, 5), out(N * C);
  auto loss = [&] {
    ops::embedding_forward(out.data(), tokens.data(), table.data(), N, C);
    return dot(out, wout);
  };
  V dtable(vocab * C, 0);
  ops::embedding_backward(dtable.data(), wout.data(), tokens.data(), N, C);
  expect_gradient("embedding", table, dtable, loss);
  // Tokens 2, 4, 5 never appear: their rows get exactly zero.
  for (int c = 0; c < C; ++c) EXPECT_EQ(dtable[2 * C + c], 0.0);
}

TEST(TrainOps, RmsNormForwardByHand) {
  // x = (3, 4): mean square 12.5, so y = x / sqrt(12.5 + eps) * w
  V x = {3, 4}, w = {1, 2}, out(2), rstd(1);
  ops::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), 1, 2, 1e-5);
  const double r = 1 / std::sqrt(12.5 + 1e-5);
  EXPECT_NEAR(out[0], 3 * r, 1e-12);
  EXPECT_NEAR(out[1], 8 * r, 1e-12);
  EXPECT_NEAR(rstd[0], r, 1e-12);
}

TEST(TrainOps, RmsNormGradient) {
  const int N = 3, C = 7;
  V x = random_vector(N * C, 6), w = random_vector(C, 7), wout = random_vector(N * C, 8), out(N * C), rstd(N);
  auto loss = [&] {
    ops::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5);
    return dot(out, wout);
  };
  loss();
  V dx(N * C, 0), dw(C, 0);
  ops::rmsnorm_backward(dx.data(), dw.data(), wout.data(), x.data(), w.data(), rstd.data(), N, C);
  expect_gradient("rmsnorm dx", x, dx, loss);
  expect_gradient("rmsnorm dw", w, dw, loss);
}

TEST(TrainOps, RopeRotatesAdjacentPairs) {
  // head_dim 4, base 100: pair (x0, x1) turns by t, pair (x2, x3) by t * 100^(-1/2).
  const int Tn = 3, hd = 4;
  V table(Tn * hd);
  ops::rope_table(table.data(), Tn, hd, 100.0);
  V x = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4};  // B=1, T=3, one head
  ops::rope_forward(x.data(), table.data(), 1, Tn, 1, hd);
  EXPECT_DOUBLE_EQ(x[0], 1);  // t = 0: identity
  EXPECT_DOUBLE_EQ(x[3], 4);
  for (int t = 1; t < Tn; ++t) {
    const double a0 = t, a1 = t * 0.1;
    const double* v = x.data() + t * hd;
    EXPECT_NEAR(v[0], 1 * std::cos(a0) - 2 * std::sin(a0), 1e-12);
    EXPECT_NEAR(v[1], 1 * std::sin(a0) + 2 * std::cos(a0), 1e-12);
    EXPECT_NEAR(v[2], 3 * std::cos(a1) - 4 * std::sin(a1), 1e-12);
    EXPECT_NEAR(v[3], 3 * std::sin(a1) + 4 * std::cos(a1), 1e-12);
  }
}

TEST(TrainOps, RopeGradient) {
  const int B = 2, Tn = 3, H = 2, hd = 6;
  V table(Tn * hd);
  ops::rope_table(table.data(), Tn, hd, 10000.0);
  V x = random_vector(B * Tn * H * hd, 9), wout = random_vector(x.size(), 10);
  auto loss = [&] {
    V y = x;
    ops::rope_forward(y.data(), table.data(), B, Tn, H, hd);
    return dot(y, wout);
  };
  V dx = wout;
  ops::rope_backward(dx.data(), table.data(), B, Tn, H, hd);
  expect_gradient("rope", x, dx, loss);
}

TEST(TrainOps, AttentionFirstPositionCopiesValue) {
  // Causal: position 0 attends only to itself, so its output is v_0 exactly.
  const int B = 1, Tn = 3, H = 2, KVH = 1, hd = 2;
  V q = random_vector(Tn * H * hd, 11), k = random_vector(Tn * KVH * hd, 12), v = random_vector(Tn * KVH * hd, 13);
  V out(Tn * H * hd), att(B * H * Tn * Tn);
  ops::attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), B, Tn, H, KVH, hd);
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < hd; ++i) EXPECT_DOUBLE_EQ(out[h * hd + i], v[i]);
  // Rows of att sum to one and the future is masked.
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < Tn; ++t) {
      double s = 0;
      for (int t2 = 0; t2 < Tn; ++t2) s += att[(h * Tn + t) * Tn + t2];
      EXPECT_NEAR(s, 1.0, 1e-12);
      for (int t2 = t + 1; t2 < Tn; ++t2) EXPECT_EQ(att[(h * Tn + t) * Tn + t2], 0.0);
    }
}

TEST(TrainOps, AttentionGradientWithGroupedQueryHeads) {
  const int B = 2, Tn = 4, H = 4, KVH = 2, hd = 3;
  V q = random_vector(B * Tn * H * hd, 14), k = random_vector(B * Tn * KVH * hd, 15),
    v = random_vector(B * Tn * KVH * hd, 16), wout = random_vector(B * Tn * H * hd, 17);
  V out(q.size()), att(B * H * Tn * Tn);
  auto loss = [&] {
    ops::attention_forward(out.data(), att.data(), q.data(), k.data(), v.data(), B, Tn, H, KVH, hd);
    return dot(out, wout);
  };
  loss();
  V dq(q.size(), 0), dk(k.size(), 0), dv(v.size(), 0);
  ops::attention_backward(dq.data(), dk.data(), dv.data(), wout.data(), att.data(), q.data(), k.data(), v.data(), B, Tn,
                          H, KVH, hd);
  expect_gradient("attention dq", q, dq, loss);
  expect_gradient("attention dk", k, dk, loss);
  expect_gradient("attention dv", v, dv, loss);
}

TEST(TrainOps, SwigluGradient) {
  const size_t N = 9;
  V g = random_vector(N, 18, 2.0), u = random_vector(N, 19), wout = random_vector(N, 20), h(N);
  auto loss = [&] {
    ops::swiglu_forward(h.data(), g.data(), u.data(), N);
    return dot(h, wout);
  };
  loss();
  EXPECT_NEAR(h[0], g[0] / (1 + std::exp(-g[0])) * u[0], 1e-14);
  V dg(N, 0), du(N, 0);
  ops::swiglu_backward(dg.data(), du.data(), wout.data(), g.data(), u.data(), N);
  expect_gradient("swiglu dg", g, dg, loss);
  expect_gradient("swiglu du", u, du, loss);
}

}  // namespace
}  // namespace lcte::train
