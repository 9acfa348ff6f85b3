// A persistent pool of worker threads for the forward pass. A decode step of a
// small model runs hundreds of parallel regions per second, so the workers
// spin briefly between regions (a wake-up through the kernel costs more than
// the region itself) and go to sleep only when no work has come for a while.
//
// The machine may be shared: a worker can be descheduled for milliseconds. So
// a worker only *joins* a region while it is open; the caller takes chunks
// like any worker, closes the region when none are left, and then waits only
// for the workers that joined (each holds at most the chunk it is on), never
// for one that has not woken up yet.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lcte::model {

class ThreadPool {
 public:
  // n_threads counts the calling thread: ThreadPool(2) starts one worker.
  // spin_us: how long an idle worker polls for new work before it sleeps.
  explicit ThreadPool(int n_threads, int spin_us = 200);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Splits [0, n) into chunks of `grain` that the threads take in turn
  // (dynamic, so a thread slowed by another process does not hold the rest
  // up) and calls fn(begin, end, thread_index) for each; thread_index is in
  // [0, size()) and the caller is 0. Runs inline when there is a single chunk
  // or a single thread. fn must not throw and must not call parallel_for.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  static constexpr uint64_t kClosed = 1ull << 31;
  static constexpr uint64_t kCountMask = kClosed - 1;

  // fn(thread) on the caller and on every worker that joins before the caller
  // has finished its own call.
  void run(const std::function<void(int)>& fn);
  void worker_loop(int index);
  bool try_join(uint32_t generation);
  void wait_for_joined();

  int n_threads_;
  int spin_us_;
  std::vector<std::thread> workers_;

  const std::function<void(int)>* job_ = nullptr;  // valid while a run() is in flight
  std::atomic<uint32_t> generation_{0};            // bumped once per run()
  // (generation << 32) | closed bit | number of workers inside the job.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> sleepers_{0};  // workers blocked on wake_
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;  // workers wait here for a new generation
  std::condition_variable done_;  // the caller waits here for the joined workers
};

}  // namespace lcte::model
