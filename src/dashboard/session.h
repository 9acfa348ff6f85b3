// Dashboard logins. A browser that has logged in (or, on a loopback server
// without a token, that has loaded the page) holds a random session id in an
// HttpOnly, SameSite=Strict cookie: the page's scripts never see a secret,
// other sites' pages never send it, and nothing secret goes into a URL.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace lcte::dashboard {

struct SessionLimits {
  std::chrono::seconds idle = std::chrono::hours(12);      // unused this long: ended
  std::chrono::seconds lifetime = std::chrono::hours(24);  // since it began: ended, however busy
  size_t max_sessions = 256;                               // beyond: the least recently used ends
};

class Sessions {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;
  // `now` is the clock (tests move it on); null: the steady clock.
  explicit Sessions(SessionLimits limits = {}, Now now = nullptr);

  // A new session id: 256 bits from the kernel's random source, as hex.
  std::string create();
  // True for a live session (and its idle time starts again). The id is
  // looked up by its SHA-256, so how long a lookup takes says nothing about
  // the ids that exist.
  bool valid(const std::string& id);
  void erase(const std::string& id);
  size_t size() const;
  const SessionLimits& limits() const { return limits_; }

 private:
  struct Entry {
    Clock::time_point began, last_used;
  };
  bool expired(const Entry& e, Clock::time_point now) const;
  SessionLimits limits_;
  Now now_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> by_digest_;  // SHA-256 of the id -> times
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
// Compares the SHA-256 digests of both in constant time, so neither the
// secret's length nor a matching prefix shows in the timing; false for an
// empty `want`.
bool same_secret(const std::string& given, const std::string& want);

}  // namespace lcte::dashboard
