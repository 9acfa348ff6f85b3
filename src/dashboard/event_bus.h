// In-process publish/subscribe for the live monitor: jobs publish progress,
// samples and resource readings; each Server-Sent Events connection reads
// the events after the last id it saw. A bounded ring of recent events lets
// a reconnecting browser (Last-Event-ID) catch up without the server keeping
// per-client queues.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace lcte::dashboard {

struct Event {
  uint64_t id = 0;   // 1, 2, 3, ... in publication order
  std::string type;  // "progress", "sample", "resources", "job", "decision", "rules", ...
  nlohmann::json data;
};

// One SSE frame: "id: N\nevent: TYPE\ndata: JSON\n\n". The JSON is dumped on
// one line (newlines inside strings are escaped by JSON), so one data line.
std::string sse_frame(const Event& e);

class EventBus {
 public:
  explicit EventBus(size_t capacity = 4096);
  uint64_t publish(std::string type, nlohmann::json data);
  // Events with id > after, waiting up to `wait` for the first one. Returns
  // an empty list on timeout or once close() was called.
  std::vector<Event> wait_after(uint64_t after, std::chrono::milliseconds wait);
  uint64_t last_id() const;
  // Wakes every waiter and makes further waits return at once (shutdown).
  void close();
  bool closed() const;

 private:
  size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Event> events_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace lcte::dashboard
