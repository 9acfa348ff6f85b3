#include "model/thread_pool.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LCTE_CPU_RELAX() _mm_pause()
#else
#define LCTE_CPU_RELAX() ((void)0)
#endif

namespace lcte::model {
namespace {

using Clock = std::chrono::steady_clock;

// Polls `done` until it returns true or spin_us have passed; true if it did.
template <class Pred>
bool spin_until(Pred done, int spin_us) {
  if (done()) return true;
  const auto deadline = Clock::now() + std::chrono::microseconds(spin_us);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      LCTE_CPU_RELAX();
    }
    if (Clock::now() >= deadline) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads, int spin_us) : n_threads_(n_threads), spin_us_(spin_us) {
  if (n_threads < 1 || n_threads > 1024) fail("thread pool: bad thread count {} (want 1..1024)", n_threads);
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  if (workers_.empty()) {
    fn(0);
    return;
  }
  job_ = &fn;
  const uint32_t g = generation_.load() + 1;
  state_.store(static_cast<uint64_t>(g) << 32);  // open, nobody inside
  // seq_cst on both sides: either a worker about to sleep sees the new
  // generation, or we see it counted in sleepers_ and wake it under the lock.
  generation_.store(g);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  fn(0);
  wait_for_joined();
  job_ = nullptr;
}

void ThreadPool::wait_for_joined() {
  const uint64_t before = state_.fetch_or(kClosed);
  if ((before & kCountMask) == 0) return;
  auto done = [this] { return (state_.load() & kCountMask) == 0; };
  if (spin_until(done, spin_us_)) return;
  std::unique_lock<std::mutex> lock(mutex_);
  caller_sleeping_.store(true);
  done_.wait(lock, done);
  caller_sleeping_.store(false);
}

bool ThreadPool::try_join(uint32_t generation) {
  uint64_t s = state_.load();
  for (;;) {
    if ((s >> 32) != generation || (s & kClosed) != 0) return false;  // finished, or a later one
    if (state_.compare_exchange_weak(s, s + 1)) return true;
  }
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;
  for (;;) {
    auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(fresh, spin_us_)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    seen = generation_.load();
    if (stop_.load()) return;
    if (!try_join(seen)) continue;
    (*job_)(index);
    const uint64_t after = state_.fetch_sub(1) - 1;
    if ((after & kCountMask) == 0 && (after & kClosed) != 0 && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  run([&](int thread) {
    for (;;) {
      const int64_t begin = next.fetch_add(grain, std::memory_order_relaxed);
      if (begin >= n) return;
      fn(begin, std::min(n, begin + grain), thread);
    }
  });
}

}  // namespace lcte::model
