// The thread pool and the KV cache.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core/error.h"
#include "model/kv_cache.h"
#include "model/thread_pool.h"

namespace lcte::model {
namespace {

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 64, 1000}) {
      for (int64_t grain : {1, 3, 64, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> bad_thread{0};
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
          if (t < 0 || t >= threads) bad_thread++;
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << threads << " " << n << " " << grain;
        EXPECT_EQ(bad_thread.load(), 0);
      }
    }
  }
}

TEST(ThreadPool, ManyShortRegions) {
  // Thousands of tiny regions back to back, as in decoding: each must see all
  // of its chunks done before the next begins.
  ThreadPool pool(3);
  std::vector<int> data(64, 0);
  for (int r = 0; r < 3000; ++r) {
    pool.parallel_for(64, 4, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) data[static_cast<size_t>(i)] += 1;
    });
    ASSERT_EQ(data[static_cast<size_t>(r % 64)], r + 1);
  }
}

TEST(ThreadPool, WorkersThatSleptWakeUp) {
  // spin_us = 0: the workers go to sleep at once, so every call takes the
  // wake-up path; pauses between calls let them settle into the wait.
  ThreadPool pool(2, 0);
  std::atomic<int> sum{0};
  for (int r = 0; r < 50; ++r) {
    if (r % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    pool.parallel_for(100, 10, [&](int64_t b, int64_t e, int) { sum += static_cast<int>(e - b); });
  }
  EXPECT_EQ(sum.load(), 5000);
}

TEST(ThreadPool, BothThreadsTakePart) {
  ThreadPool pool(2);
  std::atomic<int> seen[2] = {0, 0};
  // Each chunk waits so long that the worker joins even on a loaded machine.
  pool.parallel_for(64, 1, [&](int64_t, int64_t, int t) {
    seen[t]++;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  EXPECT_GT(seen[0].load(), 0);
  EXPECT_GT(seen[1].load(), 0);
}

TEST(ThreadPool, RejectsBadThreadCount) {
  EXPECT_THROW(ThreadPool(0), Error);
  EXPECT_THROW(ThreadPool(-3), Error);
}

Config small_config() {
  Config c;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.dim = 16;
  return c;
}

float first(const KvCache& c, int64_t layer, int64_t pos) { return *reinterpret_cast<const float*>(c.k(layer, pos)); }
void put(KvCache& c, int64_t layer, int64_t pos, float x) { *reinterpret_cast<float*>(c.k(layer, pos)) = x; }

TEST(KvCache, GrowsByBlocksAndRefusesToOverflow) {
  KvCache c(small_config(), 300, KvType::F32);
  EXPECT_EQ(c.bytes(), 0u);
  c.append(10);
  EXPECT_EQ(c.size(), 10);
  EXPECT_EQ(c.bytes(), c.block_bytes());
  EXPECT_EQ(c.block_bytes(), 2u * 2 * KvCache::kBlock * 8 * 4);  // layers x {K,V} x positions x kv_dim x f32
  c.append(KvCache::kBlock);
  EXPECT_EQ(c.bytes(), 2 * c.block_bytes());
  try {
    c.append(300);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context full"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.size(), 10 + KvCache::kBlock);
  c.truncate(5);
  EXPECT_EQ(c.size(), 5);
  EXPECT_EQ(c.bytes(), c.block_bytes());
  EXPECT_THROW(c.truncate(6), Error);
}

TEST(KvCache, ForkSharesThenCopiesOnWrite) {
  KvCache parent(small_config(), 1000, KvType::F32);
  parent.append(KvCache::kBlock + 3);  // one full block and a partial one
  for (int64_t p = 0; p < parent.size(); ++p) put(parent, 1, p, static_cast<float>(p));

  KvCache child = parent.fork();
  EXPECT_EQ(child.size(), parent.size());
  EXPECT_EQ(child.k(1, 0), parent.k(1, 0));  // the same memory
  child.append(1);                           // writes into the partial block: the child copies it
  put(child, 1, child.size() - 1, -1.0f);
  put(child, 1, KvCache::kBlock, -2.0f);
  EXPECT_EQ(child.k(1, 0), parent.k(1, 0));                                           // full block still shared
  EXPECT_NE(child.k(1, KvCache::kBlock), parent.k(1, KvCache::kBlock));               // partial block copied
  EXPECT_EQ(first(child, 1, KvCache::kBlock + 1), KvCache::kBlock + 1.0f);            // with the parent's rows
  EXPECT_EQ(first(parent, 1, KvCache::kBlock), static_cast<float>(KvCache::kBlock));  // parent untouched

  parent.append(1);  // the parent writes its own copy too
  put(parent, 1, parent.size() - 1, 5.0f);
  EXPECT_EQ(first(child, 1, child.size() - 1), -1.0f);
}

}  // namespace
}  // namespace lcte::model
