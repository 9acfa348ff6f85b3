// Follows runs that other processes write into the store (lcte eval/study
// with --store, another server): the server reads the running runs' sample
// counts once a period and publishes a "store" event when one changes, so the
// live monitor shows them without the browser polling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dashboard/event_bus.h"

namespace lcte::dashboard {

struct RunProgress {
  std::string id, kind, model, status;
  int64_t samples = 0, passed = 0;
};

// Runs marked running in the store, with their samples so far (a read-only query).
std::vector<RunProgress> running_runs(const std::string& store_path);

class StoreTail {
 public:
  StoreTail(std::string store_path, EventBus& bus, std::chrono::milliseconds period);
  ~StoreTail();  // stops the thread
  StoreTail(const StoreTail&) = delete;
  StoreTail& operator=(const StoreTail&) = delete;

 private:
  void loop();
  void poll();
  std::string store_path_;
  EventBus& bus_;
  std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, RunProgress> seen_;
  std::thread thread_;
};

}  // namespace lcte::dashboard
