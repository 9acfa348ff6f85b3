// A persistent pool of worker threads for the forward pass. A decode step of a
// small model runs hundreds of parallel regions per second, so the workers
// spin briefly between regions (a wake-up through the kernel costs more than
// the region itself) and go to sleep only when no work has come for a while.
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

  // Runs fn(thread_index) once on every thread (the caller is index 0) and
  // returns when all have finished. Not reentrant: fn must not call run().
  void run(const std::function<void(int)>& fn);

  // Splits [0, n) into chunks of `grain` that the threads take in turn
  // (dynamic, so a thread slowed by another process does not hold the rest
  // up) and calls fn(begin, end, thread_index) for each. Runs inline on the
  // caller when there is a single chunk or a single thread.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  void worker_loop(int index);
  void wait_for_workers();

  int n_threads_;
  int spin_us_;
  std::vector<std::thread> workers_;

  const std::function<void(int)>* job_ = nullptr;  // valid while a run() is in flight
  std::atomic<uint32_t> generation_{0};            // bumped once per run()
  std::atomic<int> remaining_{0};                   // workers still inside the job
  std::atomic<int> sleepers_{0};                    // workers blocked on wake_
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;  // workers wait here for a new generation
  std::condition_variable done_;  // the caller waits here for remaining_ == 0
};

}  // namespace lcte::model
