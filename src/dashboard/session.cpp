#include "dashboard/session.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/error.h"
#include "core/sha256.h"

namespace lcte::dashboard {

Sessions::Sessions(SessionLimits limits, Now now) : limits_(limits), now_(std::move(now)) {
  limits_.max_sessions = std::max<size_t>(1, limits_.max_sessions);
  if (!now_) now_ = [] { return Clock::now(); };
}

bool Sessions::expired(const Entry& e, Clock::time_point now) const {
  return now - e.last_used > limits_.idle || now - e.began > limits_.lifetime;
}

std::string Sessions::create() {
  std::string id = random_hex(32);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = now_();
  for (auto it = by_digest_.begin(); it != by_digest_.end();)
    it = expired(it->second, now) ? by_digest_.erase(it) : std::next(it);
  while (by_digest_.size() >= limits_.max_sessions) {
    auto oldest = std::min_element(by_digest_.begin(), by_digest_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    by_digest_.erase(oldest);
  }
  by_digest_[sha256_hex(id)] = {now, now};
  return id;
}

bool Sessions::valid(const std::string& id) {
  if (id.empty()) return false;
  const std::string digest = sha256_hex(id);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end()) return false;
  const auto now = now_();
  if (expired(it->second, now)) {
    by_digest_.erase(it);
    return false;
  }
  it->second.last_used = now;
  return true;
}

void Sessions::erase(const std::string& id) {
  if (id.empty()) return;
  const std::string digest = sha256_hex(id);
  std::lock_guard<std::mutex> lock(mutex_);
  by_digest_.erase(digest);
}

size_t Sessions::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_digest_.size();
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
  if (want.empty()) return false;
  const std::string a = sha256_hex(given), b = sha256_hex(want);
  unsigned char diff = 0;
  for (size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace lcte::dashboard
