#include "dashboard/store_tail.h"

#include "core/log.h"
#include "store/sqlite.h"

namespace lcte::dashboard {

std::vector<RunProgress> running_runs(const std::string& store_path) {
  store::Database db(store_path);
  store::Statement q(db,
                     "SELECT r.id, r.kind, r.model_name, r.status, "
                     "(SELECT count(*) FROM samples s WHERE s.run_id = r.id), "
                     "(SELECT coalesce(sum(s.passed), 0) FROM samples s WHERE s.run_id = r.id) "
                     "FROM runs r WHERE r.status = 'running' ORDER BY r.started_at");
  std::vector<RunProgress> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.text(3), q.int64(4), q.int64(5)});
  return out;
}

StoreTail::StoreTail(std::string store_path, EventBus& bus, std::chrono::milliseconds period)
    : store_path_(std::move(store_path)), bus_(bus), period_(period), thread_([this] { loop(); }) {}

StoreTail::~StoreTail() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StoreTail::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      poll();
    } catch (const std::exception& e) {
      spdlog::debug("dashboard: store tail: {}", e.what());
    }
    lock.lock();
    wake_.wait_for(lock, period_, [this] { return stopping_; });
  }
}

void StoreTail::poll() {
  std::map<std::string, RunProgress> now;
  for (auto& r : running_runs(store_path_)) now[r.id] = r;
  for (const auto& [id, r] : now) {
    auto it = seen_.find(id);
    if (it != seen_.end() && it->second.samples == r.samples) continue;
    bus_.publish("store", {{"run_id", id},
                           {"kind", r.kind},
                           {"model", r.model},
                           {"status", r.status},
                           {"samples", r.samples},
                           {"passed", r.passed}});
  }
  // A run that left "running" has ended; say so once.
  for (const auto& [id, r] : seen_)
    if (!now.contains(id))
      bus_.publish("store", {{"run_id", id},
                             {"kind", r.kind},
                             {"model", r.model},
                             {"status", "ended"},
                             {"samples", r.samples},
                             {"passed", r.passed}});
  seen_ = std::move(now);
}

}  // namespace lcte::dashboard
