#include "server/http_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace lcte::server {

using Clock = std::chrono::steady_clock;

struct HttpFront::Conn {
  int fd = -1;
  std::string buf;       // read from the socket, not yet used
  size_t head_end = 0;   // length of the complete head at the start of buf
  bool fresh = true;     // no request answered yet
  bool started = false;  // a byte of the next request has arrived
  bool closing = false;  // answered for the last time; draining what the client still sends
  size_t drained = 0;
  int served = 0;
  Clock::time_point deadline;
};

namespace {

constexpr size_t kLingerBytes = 1 << 20;  // dropped at most while lingering
constexpr double kLingerSeconds = 2.0;
constexpr int kLingerSlack = 64;  // refused connections kept lingering beyond max_connections
constexpr size_t kChunkFraming = 64 << 10;

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

int ms_until(Clock::time_point t) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(d, 0, 1000));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Sends what the socket takes now; an error answer is small and best effort.
void send_now(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
}

// Waits for `events` on fd until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) left = 0;
    int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 60000)));
    if (r > 0) return true;
    if (r < 0 && errno == EINTR) continue;
    if (r == 0 && Clock::now() < deadline) continue;
    return false;
  }
}

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// The value of a header in a raw head (lower-case name with its colon), or nullopt.
std::optional<std::string> head_value(const std::string& lower_head, const std::string& name) {
  size_t at = lower_head.find("\r\n" + name + ":");
  if (at == std::string::npos) return std::nullopt;
  size_t start = at + name.size() + 3;
  size_t end = lower_head.find("\r\n", start);
  std::string v = lower_head.substr(start, end - start);
  v.erase(0, v.find_first_not_of(" \t"));
  v.erase(v.find_last_not_of(" \t") + 1);
  return v;
}

// The request the stream serves: its head already in the connection's
// buffer, the rest read with a byte budget and a deadline.
class FrontStream : public httplib::Stream {
 public:
  FrontStream(HttpFront::Conn& c, const HttpLimits& l, size_t budget)
      : c_(c), budget_(budget), read_deadline_(after(l.body_timeout_s)), write_timeout_s_(l.write_timeout_s) {}

  bool is_readable() const override { return pos_ < c_.buf.size() || wait_for(c_.fd, POLLIN, read_deadline_); }
  bool is_writable() const override {
    if (!wait_for(c_.fd, POLLOUT, after(write_timeout_s_))) return false;
    pollfd p{c_.fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return true;
    if (p.revents & (POLLERR | POLLHUP)) return false;
    char byte;
    return recv(c_.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;  // 0: the client has gone
  }
  ssize_t read(char* ptr, size_t size) override {
    if (budget_ == 0) {
      failed_ = true;
      return -1;
    }
    size = std::min(size, budget_);
    if (pos_ == c_.buf.size() && !refill()) return eof_ ? 0 : -1;
    size_t n = std::min(size, c_.buf.size() - pos_);
    std::memcpy(ptr, c_.buf.data() + pos_, n);
    pos_ += n;
    consumed_ += n;
    budget_ -= n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    for (;;) {
      ssize_t n = send(c_.fd, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!wait_for(c_.fd, POLLOUT, after(write_timeout_s_))) return -1;
    }
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(getsockname, ip, port); }
  socket_t socket() const override { return c_.fd; }

  bool failed() const { return failed_; }
  size_t consumed() const { return consumed_; }
  // Drops what this request used from the connection's buffer.
  void finish() {
    c_.buf.erase(0, pos_);
    pos_ = 0;
  }

 private:
  bool refill() {
    c_.buf.clear();
    pos_ = 0;
    c_.buf.resize(16 << 10);
    for (;;) {
      ssize_t n = recv(c_.fd, c_.buf.data(), c_.buf.size(), 0);
      if (n > 0) {
        c_.buf.resize(static_cast<size_t>(n));
        return true;
      }
      c_.buf.clear();
      if (n == 0) {
        eof_ = true;
        return false;
      }
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_for(c_.fd, POLLIN, read_deadline_)) {
        failed_ = true;
        return false;
      }
      c_.buf.resize(16 << 10);
    }
  }
  template <class F>
  void address(F get, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    ip.clear();
    port = 0;
    if (get(c_.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  HttpFront::Conn& c_;
  size_t pos_ = 0;
  size_t budget_;
  size_t consumed_ = 0;
  Clock::time_point read_deadline_;
  double write_timeout_s_;
  bool failed_ = false;
  bool eof_ = false;
};

// A TaskQueue that runs each accepted socket's task on the accept thread
// itself: the task only hands the socket to the gate.
class InlineQueue : public httplib::TaskQueue {
 public:
  explicit InlineQueue(HttpFront& front) : front_(front) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { front_.close_connections(); }

 private:
  HttpFront& front_;
};

}  // namespace

size_t find_head_end(const std::string& buf, size_t from) {
  size_t at = buf.find("\r\n\r\n", from);
  return at == std::string::npos ? std::string::npos : at + 4;
}

// ------------------------------------------------------------- the workers

class HttpFront::Workers {
 public:
  Workers(HttpFront& f, int n, int queue) : f_(f), cap_(static_cast<size_t>(queue)) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
  }
  ~Workers() { stop(); }
  // False (and `c` left as it was) when the queue is full.
  bool submit(Conn& c) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stop_ || q_.size() >= cap_) return false;
      q_.push_back(std::move(c));
    }
    cv_.notify_one();
    return true;
  }
  // Serves everything queued, then joins.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stop_ && threads_.empty()) return;
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }
  int64_t queued() {
    std::lock_guard<std::mutex> lock(m_);
    return static_cast<int64_t>(q_.size());
  }
  int64_t busy() const { return busy_.load(); }

 private:
  void run() {
    for (;;) {
      Conn c;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stop_ || !q_.empty(); });
        if (q_.empty()) return;
        c = std::move(q_.front());
        q_.pop_front();
      }
      busy_++;
      try {
        f_.serve(std::move(c));
      } catch (const std::exception& e) {
        spdlog::error("http: {}", e.what());
      }
      busy_--;
    }
  }

  HttpFront& f_;
  size_t cap_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Conn> q_;
  bool stop_ = false;
  std::atomic<int64_t> busy_{0};
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------- the gate

class HttpFront::Gate {
 public:
  explicit Gate(HttpFront& f) : f_(f) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep_ < 0 || wake_ < 0) throw std::runtime_error("http front: cannot create epoll/eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
    thread_ = std::thread([this] { run(); });
  }
  ~Gate() {
    stop();
    close(wake_);
    close(ep_);
  }
  void add(Conn c) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!stop_) {
        incoming_.push_back(std::move(c));
        c.fd = -1;
      }
    }
    if (c.fd >= 0) f_.finish(std::move(c), false);  // the gate has stopped
    uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_, &one, sizeof(one));
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stop_) return;
      stop_ = true;
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_, &one, sizeof(one));
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::vector<epoll_event> events(128);
    for (;;) {
      Clock::time_point next = after(1.0);
      for (auto& [fd, c] : conns_) next = std::min(next, c.deadline);
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), ms_until(next));
      for (int i = 0; i < n; ++i) {
        int fd = events[static_cast<size_t>(i)].data.fd;
        if (fd == wake_) {
          uint64_t v;
          [[maybe_unused]] ssize_t r = ::read(wake_, &v, sizeof(v));
          continue;
        }
        auto it = conns_.find(fd);
        if (it != conns_.end()) readable(it);
      }
      if (!take_incoming()) break;
      expire();
    }
    for (auto& [fd, c] : conns_) {
      c.closing = false;
      f_.finish(std::move(c), false);
    }
    conns_.clear();
  }

  // False once stopping.
  bool take_incoming() {
    std::vector<Conn> in;
    bool stop;
    {
      std::lock_guard<std::mutex> lock(m_);
      in.swap(incoming_);
      stop = stop_;
    }
    for (Conn& c : in) {
      int fd = c.fd;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        f_.finish(std::move(c), false);
        continue;
      }
      bool has_bytes = !c.buf.empty();
      conns_.emplace(fd, std::move(c));
      // A returned connection may hold the start of its next head already.
      if (has_bytes) readable(conns_.find(fd));
    }
    return !stop;
  }

  void drop(std::unordered_map<int, Conn>::iterator it) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, it->first, nullptr);
    Conn c = std::move(it->second);
    conns_.erase(it);
    f_.finish(std::move(c), false);
  }

  // Answers and keeps the connection to drain it.
  void answer(std::unordered_map<int, Conn>::iterator it, int status, const std::string& code,
              const std::string& message) {
    Conn& c = it->second;
    send_now(c.fd, f_.error_response(status, code, message));
    shutdown(c.fd, SHUT_WR);
    c.closing = true;
    c.buf.clear();
    c.deadline = after(kLingerSeconds);
  }

  void readable(std::unordered_map<int, Conn>::iterator it) {
    Conn& c = it->second;
    char tmp[16 << 10];
    for (;;) {
      if (c.closing) {
        ssize_t n = recv(c.fd, tmp, sizeof(tmp), 0);
        if (n > 0 && (c.drained += static_cast<size_t>(n)) < kLingerBytes) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        return drop(it);
      }
      // Leading empty lines before a request line are allowed (RFC 9112 2.2).
      while (c.buf.size() >= 2 && c.buf[0] == '\r' && c.buf[1] == '\n') c.buf.erase(0, 2);
      size_t end = find_head_end(c.buf);
      if (end != std::string::npos) return complete(it, end);
      const size_t cap = f_.limits_.max_header_bytes;
      if (c.buf.size() >= cap) {
        f_.headers_too_large_++;
        return answer(it, 431, "headers_too_large",
                      fmt::format("the request line and headers are longer than {} bytes", cap));
      }
      ssize_t n = recv(c.fd, tmp, std::min(sizeof(tmp), cap - c.buf.size()), 0);
      if (n > 0) {
        if (!c.started) {
          c.started = true;
          c.deadline = after(f_.limits_.header_timeout_s);
        }
        c.buf.append(tmp, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return drop(it);  // closed by the client, or an error
    }
  }

  void complete(std::unordered_map<int, Conn>::iterator it, size_t end) {
    Conn& c = it->second;
    c.head_end = end;
    if (auto r = f_.check_head(c)) {
      f_.refused_head_++;
      if (r->status == 431) f_.headers_too_large_++;
      return answer(it, r->status, r->code, r->message);
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, it->first, nullptr);
    Conn ready = std::move(c);
    conns_.erase(it);
    if (!f_.workers_->submit(ready)) {
      f_.refused_queue_++;
      f_.refuse(std::move(ready), 503, "overloaded",
                fmt::format("the server is busy ({} requests waiting); retry after {} s", f_.limits_.queue,
                            f_.limits_.retry_after_s));
    }
  }

  void expire() {
    const auto now = Clock::now();
    std::vector<int> due;
    for (auto& [fd, c] : conns_)
      if (c.deadline <= now) due.push_back(fd);
    for (int fd : due) {
      auto it = conns_.find(fd);
      Conn& c = it->second;
      if (c.closing || (!c.fresh && !c.started)) {
        drop(it);  // done lingering, or an idle kept-alive connection
      } else {
        f_.header_timeouts_++;
        answer(it, 408, "request_timeout",
               fmt::format("the request line and headers did not arrive within {} s", f_.limits_.header_timeout_s));
      }
    }
  }

  HttpFront& f_;
  int ep_ = -1, wake_ = -1;
  std::mutex m_;
  std::vector<Conn> incoming_;
  bool stop_ = false;
  std::unordered_map<int, Conn> conns_;  // the gate thread's alone
  std::thread thread_;
};

// ---------------------------------------------------------------- the front

HttpFront::HttpFront(HttpLimits limits) : limits_(limits) {
  if (limits_.workers < 1 || limits_.queue < 1 || limits_.max_connections < 1)
    throw std::invalid_argument("http front: workers, queue and max_connections must be at least 1");
  // Half the descriptors at most, so the sandbox's pipes, the store and the
  // models always find some.
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
    int fit = static_cast<int>(std::max<rlim_t>(16, (r.rlim_cur > 128 ? r.rlim_cur - 128 : 0) / 2));
    if (fit < limits_.max_connections) {
      spdlog::info("http: at most {} connections (the descriptor limit is {})", fit, r.rlim_cur);
      limits_.max_connections = fit;
    }
  }
  error_format_ = [](int, const std::string&, const std::string& message) {
    return nlohmann::json({{"error", message}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  set_payload_max_length(limits_.max_body_bytes);
  set_keep_alive_max_count(static_cast<size_t>(std::max(1, limits_.keep_alive_requests)));
  set_keep_alive_timeout(static_cast<time_t>(std::max(1.0, limits_.idle_timeout_s)));
  new_task_queue = [this] { return new InlineQueue(*this); };
  set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    for (const Admission& a : admissions_) {
      if (auto r = a(req)) {
        res.status = r->status;
        res.set_header("Connection", "close");
        if (r->status == 503) res.set_header("Retry-After", std::to_string(limits_.retry_after_s));
        res.set_content(error_format_(r->status, r->code, r->message), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    res.set_content(error_format_(res.status, "", fmt::format("HTTP {}", res.status)), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  workers_ = std::make_unique<Workers>(*this, limits_.workers, limits_.queue);
  gate_ = std::make_unique<Gate>(*this);
}

HttpFront::~HttpFront() {
  stop();
  close_connections();
}

bool HttpFront::bind_to_port(const std::string& host, int port, int socket_flags) {
  if (!httplib::Server::bind_to_port(host, port, socket_flags)) return false;
  ::listen(svr_sock_, 1024);
  return true;
}

int HttpFront::bind_to_any_port(const std::string& host, int socket_flags) {
  int port = httplib::Server::bind_to_any_port(host, socket_flags);
  if (port >= 0) ::listen(svr_sock_, 1024);
  return port;
}

void HttpFront::add_admission(Admission admission) { admissions_.push_back(std::move(admission)); }

void HttpFront::set_error_format(ErrorFormat format) { error_format_ = std::move(format); }

FrontStats HttpFront::stats() const {
  FrontStats s;
  s.connections_open = open_;
  s.accepted = accepted_;
  s.requests = requests_;
  s.queued = workers_ ? workers_->queued() : 0;
  s.busy_workers = workers_ ? workers_->busy() : 0;
  s.refused_connections = refused_conn_;
  s.refused_queue_full = refused_queue_;
  s.header_timeouts = header_timeouts_;
  s.headers_too_large = headers_too_large_;
  s.refused_head = refused_head_;
  s.body_failures = body_failures_;
  return s;
}

void HttpFront::close_connections() {
  stopping_ = true;
  if (gate_) gate_->stop();
  if (workers_) workers_->stop();
}

std::string HttpFront::error_response(int status, const std::string& code, const std::string& message) const {
  std::string body = error_format_(status, code, message);
  std::string retry = status == 503 ? fmt::format("Retry-After: {}\r\n", limits_.retry_after_s) : "";
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{}", status,
      reason(status), body.size(), retry, body);
}

std::optional<Refusal> HttpFront::check_head(const Conn& c) const {
  const std::string head = lower(std::string_view(c.buf).substr(0, c.head_end));
  int lines = 0;
  for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) ++lines;
  if (lines - 2 > limits_.max_header_count)
    return Refusal{431, "headers_too_large", fmt::format("more than {} header lines", limits_.max_header_count)};
  // Served answers are small JSON; ranges only multiply them (httplib 0.11.4
  // builds every part of a multi-range answer in memory).
  if (head_value(head, "range")) return Refusal{416, "range_not_supported", "Range requests are not served"};
  // httplib 0.11.4 inflates compressed request bodies without a size limit.
  if (auto enc = head_value(head, "content-encoding"); enc && *enc != "identity")
    return Refusal{415, "content_encoding_not_supported",
                   fmt::format("Content-Encoding \"{}\": request bodies are accepted uncompressed only", *enc)};
  // httplib 0.11.4 reads the body of such a request until the client closes.
  const std::string method = head.substr(0, head.find(' '));
  const bool body_method = method == "post" || method == "put" || method == "patch" || method == "delete";
  if (body_method && !head_value(head, "content-length") && !head_value(head, "transfer-encoding"))
    return Refusal{411, "length_required", "a request with a body needs a Content-Length header"};
  if (auto v = head_value(head, "content-length");
      v && (v->empty() || v->find_first_not_of("0123456789") != std::string::npos || v->size() > 18))
    return Refusal{400, "bad_content_length", fmt::format("Content-Length \"{}\" is not a number", *v)};
  return std::nullopt;
}

bool HttpFront::process_and_close_socket(socket_t sock) {
  // On the accept thread (InlineQueue): admission, then the gate.
  accepted_++;
  open_++;
  set_nonblocking(sock);
  Conn c;
  c.fd = sock;
  c.deadline = after(limits_.header_timeout_s);
  if (stopping_) {
    finish(std::move(c), false);
  } else if (open_ > limits_.max_connections) {
    refused_conn_++;
    refuse(std::move(c), 503, "too_many_connections",
           fmt::format("the server has {} connections open, its most; retry after {} s", limits_.max_connections,
                       limits_.retry_after_s));
  } else {
    gate_->add(std::move(c));
  }
  return true;
}

void HttpFront::refuse(Conn c, int status, const std::string& code, const std::string& message) {
  send_now(c.fd, error_response(status, code, message));
  finish(std::move(c), true);
}

void HttpFront::finish(Conn c, bool linger) {
  if (c.fd < 0) return;
  if (linger && !stopping_ && open_ <= limits_.max_connections + kLingerSlack) {
    shutdown(c.fd, SHUT_WR);
    c.closing = true;
    c.buf.clear();
    c.deadline = after(kLingerSeconds);
    gate_->add(std::move(c));
    return;
  }
  close(c.fd);
  open_--;
}

void HttpFront::serve(Conn c) {
  for (;;) {
    requests_++;
    const std::string head = lower(std::string_view(c.buf).substr(0, c.head_end));
    const bool chunked = head_value(head, "transfer-encoding").has_value();
    uint64_t length = 0;
    if (auto v = head_value(head, "content-length")) length = std::strtoull(v->c_str(), nullptr, 10);
    FrontStream strm(c, limits_, c.head_end + limits_.max_body_bytes + (chunked ? kChunkFraming : 0));
    const bool last = stopping_ || c.served + 1 >= limits_.keep_alive_requests;
    bool closed = false;
    bool ok = process_request(strm, last, closed, nullptr);
    c.served++;
    c.fresh = false;
    // Anything of this request left unread (a refused or oversized body, a
    // chunked one) would be read as the next request: close instead.
    const bool whole = !chunked && strm.consumed() == c.head_end + length;
    strm.finish();
    if (strm.failed()) body_failures_++;
    if (!ok || closed || last || !whole || strm.failed()) return finish(std::move(c), !whole || strm.failed());
    while (c.buf.size() >= 2 && c.buf[0] == '\r' && c.buf[1] == '\n') c.buf.erase(0, 2);
    size_t end = find_head_end(c.buf);
    if (end == std::string::npos || end > limits_.max_header_bytes) {
      c.started = !c.buf.empty();
      c.deadline = after(c.started ? limits_.header_timeout_s : limits_.idle_timeout_s);
      return gate_->add(std::move(c));
    }
    c.head_end = end;  // pipelined: the next head is here already
    if (auto r = check_head(c)) {
      refused_head_++;
      return refuse(std::move(c), r->status, r->code, r->message);
    }
  }
}

}  // namespace lcte::server
