#include "dashboard/event_bus.h"

namespace lcte::dashboard {

std::string sse_frame(const Event& e) {
  std::string out = "id: " + std::to_string(e.id) + "\n";
  out += "event: " + e.type + "\n";
  out += "data: " + e.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
  return out;
}

EventBus::EventBus(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

uint64_t EventBus::publish(std::string type, nlohmann::json data) {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    events_.push_back({id, std::move(type), std::move(data)});
    while (events_.size() > capacity_) events_.pop_front();
  }
  changed_.notify_all();
  return id;
}

std::vector<Event> EventBus::wait_after(uint64_t after, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, wait, [&] { return closed_ || next_id_ - 1 > after; });
  std::vector<Event> out;
  if (closed_) return out;
  for (const Event& e : events_)
    if (e.id > after) out.push_back(e);
  return out;
}

uint64_t EventBus::last_id() const {
  std::lock_guard lock(mutex_);
  return next_id_ - 1;
}

void EventBus::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

bool EventBus::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace lcte::dashboard
