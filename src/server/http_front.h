// lcte's HTTP front door: an httplib::Server whose connections lcte handles
// itself, so that slow, large and numerous requests cannot exhaust the
// process before httplib parses them.
//
// cpp-httplib is Debian 12's 0.11.4 (see docs/parts/dashboard.md for what
// later versions fixed and how each gap is closed here). httplib keeps its
// accept loop, its parser and its routing; lcte replaces what happens to an
// accepted socket:
//
//   accept ─► admission: over max_connections (or the fd limit) → 503 at once
//        ─► gate (one epoll thread, no worker held): reads the request line
//           and headers without blocking, at most max_header_bytes and
//           max_header_count lines within header_timeout_s (a slow client is
//           answered 408, an oversized head 431; Range and Content-Encoding
//           requests 416/415); idle keep-alive connections wait here too
//        ─► queue of complete heads (at most `queue`; beyond: 503 with
//           Retry-After) ─► `workers` threads run httplib's request handling
//           on a stream that serves the bytes already read, then reads the
//           body within body_timeout_s and never more than the head plus
//           max_body_bytes (plus chunk framing); the connection then goes back
//           to the gate, or is closed if anything of the request was left
//           unread.
//
// Checks that must run before a body is read (Host, Origin, Content-Type,
// keys, session cookies) are admissions: they see the head and may refuse.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/site.h"

namespace lcte::server {

struct HttpLimits {
  size_t max_header_bytes = 16 << 10;  // request line + headers
  int max_header_count = 100;          // header lines
  size_t max_body_bytes = 1 << 20;
  double header_timeout_s = 10;  // from the first byte of a request to the end of its headers
  double body_timeout_s = 30;    // reading the rest of the request
  double idle_timeout_s = 5;     // a kept-alive connection with no request
  double write_timeout_s = 30;   // per write that makes no progress
  int workers = 64;              // requests handled at once (streams hold one each)
  int queue = 256;               // complete requests waiting for a worker
  int max_connections = 512;     // open connections, slow and idle ones included
  int retry_after_s = 1;         // sent with every 503
  int keep_alive_requests = 100;
};

struct FrontStats {
  int64_t connections_open = 0;
  int64_t accepted = 0;  // connections
  int64_t requests = 0;  // handed to a worker
  int64_t queued = 0;    // heads waiting for a worker now
  int64_t busy_workers = 0;
  int64_t refused_connections = 0;  // 503: max_connections or fd limit
  int64_t refused_queue_full = 0;   // 503: queue full
  int64_t header_timeouts = 0;      // 408
  int64_t headers_too_large = 0;    // 431
  int64_t refused_head = 0;         // 400/415/416 from the gate
  int64_t body_failures = 0;        // body too slow, too large, or cut
};

// Builds the body of the answers the front makes itself: (status, code, message) -> JSON text.
using ErrorFormat = std::function<std::string(int status, const std::string& code, const std::string& message)>;
// Looks at a request whose head is read and whose body is not: a Refusal
// answers it (and closes the connection), nullopt lets it through.
using Admission = std::function<std::optional<Refusal>(const httplib::Request&)>;

class HttpFront : public httplib::Server {
 public:
  explicit HttpFront(HttpLimits limits = {});
  ~HttpFront() override;
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  // As httplib's, with a listen backlog of 1024 instead of its 5 (a burst of
  // connections would otherwise wait for SYN retransmissions, 1 s and more).
  bool bind_to_port(const std::string& host, int port, int socket_flags = 0);
  int bind_to_any_port(const std::string& host, int socket_flags = 0);

  // Admissions run in the order added; the first refusal answers.
  void add_admission(Admission admission);
  // The body of the front's own answers and of admission refusals (default:
  // {"error": message}). Answers httplib makes itself (no route, malformed
  // request, body too large) get it too unless set_error_handler replaces it.
  void set_error_format(ErrorFormat format);

  const HttpLimits& limits() const { return limits_; }
  FrontStats stats() const;

  // Idempotent. Stops the gate (connections without a request are closed)
  // and lets the workers finish every request already queued.
  void close_connections();

  struct Conn;  // one client connection and the bytes read from it but not yet used

 private:
  bool process_and_close_socket(socket_t sock) override;

  class Gate;
  class Workers;
  void serve(Conn conn);
  // Closes at once, or (linger) after the client has read the answer: shut
  // down for writing, what it still sends is read and dropped for a while.
  void finish(Conn conn, bool linger);
  // Writes an error answer (best effort, never blocks) and finishes.
  void refuse(Conn conn, int status, const std::string& code, const std::string& message);
  std::optional<Refusal> check_head(const Conn& conn) const;
  std::string error_response(int status, const std::string& code, const std::string& message) const;

  HttpLimits limits_;
  ErrorFormat error_format_;
  std::vector<Admission> admissions_;
  std::unique_ptr<Gate> gate_;
  std::unique_ptr<Workers> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> open_{0}, accepted_{0}, requests_{0}, refused_conn_{0}, refused_queue_{0}, header_timeouts_{0},
      headers_too_large_{0}, refused_head_{0}, body_failures_{0};
  friend class Gate;
  friend class Workers;
};

// Where a request head ends in `buf` (just after the blank line), or npos.
size_t find_head_end(const std::string& buf, size_t from = 0);

}  // namespace lcte::server
