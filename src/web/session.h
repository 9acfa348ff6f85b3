// Dashboard logins. A browser that has logged in (or, on a loopback server
// without a token, that has loaded the page) holds a random session id in an
// HttpOnly, SameSite=Strict cookie: the page's scripts never see a secret,
// other sites' pages never send it, and nothing secret goes into a URL.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace lcte::web {

class Sessions {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Sessions(std::chrono::seconds idle = std::chrono::hours(12), size_t max_sessions = 256);

  // A new session id: 256 bits from the kernel's random source, as hex.
  // Beyond max_sessions the least recently used session is dropped.
  std::string create();
  // True for a live session (and its idle time starts again).
  bool valid(const std::string& id);
  void erase(const std::string& id);
  size_t size() const;

 private:
  std::chrono::seconds idle_;
  size_t max_;
  mutable std::mutex mutex_;
  std::map<std::string, Clock::time_point> last_used_;
};

// Counts failed logins: more than `max_failures` within `window` and further
// attempts are refused until the oldest failure leaves the window.
class LoginThrottle {
 public:
  LoginThrottle(int max_failures = 10, std::chrono::seconds window = std::chrono::seconds(60));
  // 0 when a login may be tried now, else the seconds to wait.
  int wait_seconds();
  void failed();

 private:
  int max_;
  std::chrono::seconds window_;
  std::mutex mutex_;
  std::deque<Sessions::Clock::time_point> failures_;
};

// `count` random bytes from getrandom(2), as lower-case hex.
std::string random_hex(size_t count);
// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookie_value(const std::string& cookie_header, const std::string& name);
// Constant time in the length of `want`; false when the lengths differ.
bool same_secret(const std::string& given, const std::string& want);

}  // namespace lcte::web
