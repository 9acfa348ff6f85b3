#include "web/session.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/error.h"

namespace lcte::web {

Sessions::Sessions(std::chrono::seconds idle, size_t max_sessions) : idle_(idle), max_(std::max<size_t>(1, max_sessions)) {}

std::string Sessions::create() {
  std::string id = random_hex(32);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = Clock::now();
  for (auto it = last_used_.begin(); it != last_used_.end();)
    it = now - it->second > idle_ ? last_used_.erase(it) : std::next(it);
  while (last_used_.size() >= max_) {
    auto oldest = std::min_element(last_used_.begin(), last_used_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    last_used_.erase(oldest);
  }
  last_used_[id] = now;
  return id;
}

bool Sessions::valid(const std::string& id) {
  if (id.empty()) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = last_used_.find(id);
  if (it == last_used_.end()) return false;
  const auto now = Clock::now();
  if (now - it->second > idle_) {
    last_used_.erase(it);
    return false;
  }
  it->second = now;
  return true;
}

void Sessions::erase(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_used_.erase(id);
}

size_t Sessions::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_used_.size();
}

LoginThrottle::LoginThrottle(int max_failures, std::chrono::seconds window) : max_(max_failures), window_(window) {}

int LoginThrottle::wait_seconds() {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = Sessions::Clock::now();
  while (!failures_.empty() && now - failures_.front() > window_) failures_.pop_front();
  if (static_cast<int>(failures_.size()) < max_) return 0;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(failures_.front() + window_ - now).count();
  return static_cast<int>(std::max<int64_t>(1, left + 1));
}

void LoginThrottle::failed() {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_.push_back(Sessions::Clock::now());
}

std::string random_hex(size_t count) {
  std::vector<unsigned char> bytes(count);
  size_t got = 0;
  while (got < count) {
    ssize_t n = getrandom(bytes.data() + got, count - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("getrandom failed: cannot make a session id");
    got += static_cast<size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string cookie_value(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    part.erase(0, part.find_first_not_of(" \t"));
    size_t eq = part.find('=');
    if (eq != std::string::npos && part.compare(0, eq, name) == 0 && eq == name.size()) {
      std::string v = part.substr(eq + 1);
      v.erase(v.find_last_not_of(" \t") + 1);
      return v;
    }
    pos = end + 1;
  }
  return {};
}

bool same_secret(const std::string& given, const std::string& want) {
  if (given.size() != want.size() || want.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ want[i]);
  return diff == 0;
}

}  // namespace lcte::web
