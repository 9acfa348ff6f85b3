// The HTTP front door and the site rules, against raw sockets on loopback:
// DNS-rebinding Host names, cross-site requests, slow and oversized requests,
// a slow-loris crowd while normal requests are served, a full queue answered
// 503 with Retry-After and nothing accepted lost, checks before the body.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "server/http_front.h"
#include "server/server.h"
#include "server/site.h"
#include "server_fixture.h"

namespace lcte::server {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Everything the server sends until it closes the connection or `seconds` pass.
std::string read_until_close(int fd, double seconds) {
  std::string out;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Reads until `count` whole answers with Content-Length bodies have arrived.
std::string read_answers(int fd, int count, double seconds) {
  std::string out;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  char buf[4096];
  auto complete = [&] {
    size_t pos = 0;
    for (int i = 0; i < count; ++i) {
      size_t head = out.find("\r\n\r\n", pos);
      if (head == std::string::npos) return false;
      size_t cl = out.find("Content-Length: ", pos);
      size_t len = cl != std::string::npos && cl < head ? std::stoul(out.substr(cl + 16)) : 0;
      if (out.size() < head + 4 + len) return false;
      pos = head + 4 + len;
    }
    return true;
  };
  while (!complete() && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

int status_of(const std::string& answer) {
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) return -1;
  return std::stoi(answer.substr(9, 3));
}

std::string head(const std::string& method, const std::string& path, int port, const std::string& extra = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n" + extra + "\r\n";
}

// A front with three routes: /hello, /echo (body size) and /wait (held until released).
struct Front {
  std::unique_ptr<HttpFront> http;
  std::thread thread;
  int port = 0;
  std::mutex m;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> waiting{0};

  explicit Front(HttpLimits limits, Admission admission = {}) {
    http = std::make_unique<HttpFront>(limits);
    if (admission) http->add_admission(admission);
    http->Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
    http->Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    http->Get("/wait", [this](const httplib::Request&, httplib::Response& res) {
      waiting++;
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return released; });
      res.set_content("waited", "text/plain");
    });
    port = http->bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { http->listen_after_bind(); });
    while (!http->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(m);
      released = true;
    }
    cv.notify_all();
  }
  ~Front() {
    release();
    http->stop();
    thread.join();
  }
  int get_hello() {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(5, 0);
    auto r = c.Get("/hello");
    return r ? r->status : -1;
  }
};

HttpLimits small_limits() {
  HttpLimits l;
  l.workers = 4;
  l.queue = 8;
  l.header_timeout_s = 20;
  l.body_timeout_s = 20;
  l.max_body_bytes = 64 << 10;
  return l;
}

TEST(Site, LoopbackAddressesAreNumericOrLocalhost) {
  for (const char* yes : {"127.0.0.1", "127.255.0.9", "localhost", "LOCALHOST", "::1", "[::1]", "0:0:0:0:0:0:0:1"})
    EXPECT_TRUE(is_loopback_address(yes)) << yes;
  for (const char* no : {"127.0.0.1.rebind.example", "127.evil.example", "10.0.0.1", "0.0.0.0", "",
                         "::", "localhost.example", "128.0.0.1", "127.0.0.1:80", "127.1"})
    EXPECT_FALSE(is_loopback_address(no)) << no;
}

TEST(Site, HostMustBeALoopbackNameWithThisPort) {
  SitePolicy site{true, 8080};
  for (const char* ok : {"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.3.2.1:8080", "LocalHost:8080"})
    EXPECT_FALSE(check_host(site, ok)) << ok;
  for (const char* bad : {"127.0.0.1.rebind.example:8080", "evil.example:8080", "127.0.0.1:9090", "127.0.0.1", "",
                          "127.0.0.1:8080:1", "[::1:8080", "127.0.0.1:80a", "127.0.0.1 :8080", "::1:8080"}) {
    auto r = check_host(site, bad);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 403);
    EXPECT_EQ(r->code, "bad_host");
  }
  EXPECT_FALSE(check_host(SitePolicy{true, 80}, "127.0.0.1"));        // port 80 may be left out
  EXPECT_FALSE(check_host(SitePolicy{false, 8080}, "evil.example"));  // beyond loopback the key guards
  EXPECT_FALSE(check_origin("", "127.0.0.1:8080"));
  EXPECT_FALSE(check_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
  for (const char* bad : {"http://127.0.0.1:3000", "https://127.0.0.1:8080", "null", "http://evil.example"})
    EXPECT_TRUE(check_origin(bad, "127.0.0.1:8080")) << bad;
  EXPECT_TRUE(is_json_content_type("application/json"));
  EXPECT_TRUE(is_json_content_type("Application/JSON; charset=utf-8"));
  for (const char* no :
       {"text/plain", "application/jsonp", "", "application/x-www-form-urlencoded", "multipart/form-data"})
    EXPECT_FALSE(is_json_content_type(no)) << no;
}

TEST(HttpFront, SlowLorisCrowdDoesNotStopNormalRequests) {
  Front f(small_limits());  // 4 workers; a crowd that held workers would starve /hello
  std::vector<int> crowd;
  for (int i = 0; i < 150; ++i) {
    int fd = connect_to(f.port);
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    crowd.push_back(fd);
  }
  for (int round = 0; round < 5; ++round) {
    for (int fd : crowd) send_all(fd, "X");  // one more byte each, never a whole head
    for (int i = 0; i < 4; ++i) EXPECT_EQ(f.get_hello(), 200);
  }
  FrontStats st = f.http->stats();
  EXPECT_GE(st.connections_open, 150);
  EXPECT_EQ(st.refused_connections, 0);
  for (int fd : crowd) close(fd);
}

TEST(HttpFront, SlowAndOversizedHeadsAreAnswered) {
  HttpLimits l = small_limits();
  l.header_timeout_s = 0.5;
  Front f(l);
  int slow = connect_to(f.port);
  send_all(slow, "GET /hello HTTP/1.1\r\n");
  std::string a = read_until_close(slow, 5);
  EXPECT_EQ(status_of(a), 408) << a;
  close(slow);

  int big = connect_to(f.port);
  send_all(big, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  a = read_until_close(big, 5);
  EXPECT_EQ(status_of(a), 431) << a;
  close(big);

  std::string many;
  for (int i = 0; i < 101; ++i) many += "X-H" + std::to_string(i) + ": 1\r\n";
  auto ask = [&](const std::string& raw) {
    int fd = connect_to(f.port);
    send_all(fd, raw);
    std::string out = read_until_close(fd, 5);
    close(fd);
    return out;
  };
  EXPECT_EQ(status_of(ask(head("GET", "/hello", f.port, many))), 431);
  // httplib 0.11.4 multiplies ranges and inflates bodies without limits: refused at the door.
  EXPECT_EQ(status_of(ask(head("GET", "/hello", f.port, "Range: bytes=0-0,0-0,0-0\r\n"))), 416);
  EXPECT_EQ(status_of(ask(head("POST", "/echo", f.port, "Content-Encoding: gzip\r\nContent-Length: 3\r\n") + "abc")),
            415);
  EXPECT_EQ(status_of(ask(head("POST", "/echo", f.port))), 411);
  EXPECT_EQ(status_of(ask(head("POST", "/echo", f.port, "Content-Length: -1\r\n"))), 400);
  EXPECT_EQ(f.get_hello(), 200);
  FrontStats st = f.http->stats();
  EXPECT_EQ(st.header_timeouts, 1);
  EXPECT_EQ(st.headers_too_large, 2);
}

TEST(HttpFront, BodiesAreBoundedInSizeAndTime) {
  HttpLimits l = small_limits();
  l.body_timeout_s = 0.5;
  Front f(l);
  auto post = [&](const std::string& extra, const std::string& body, double wait = 5) {
    int fd = connect_to(f.port);
    send_all(fd, head("POST", "/echo", f.port, extra) + body);
    std::string out = read_until_close(fd, wait);
    close(fd);
    return out;
  };
  std::string ok = post("Content-Length: 1000\r\nConnection: close\r\n", std::string(1000, 'x'));
  EXPECT_EQ(status_of(ok), 200) << ok;
  EXPECT_NE(ok.find("\r\n\r\n1000"), std::string::npos) << ok;
  // A declared size over the limit: 413 without waiting for a body that never comes.
  EXPECT_EQ(status_of(post("Content-Length: 100000000\r\n", "")), 413);
  // A chunked body that does not end within the limit: cut off (400), not buffered.
  std::string chunks;
  for (int i = 0; i < 40; ++i) chunks += "1000\r\n" + std::string(0x1000, 'y') + "\r\n";
  std::string cut = post("Transfer-Encoding: chunked\r\n", chunks);
  EXPECT_GE(status_of(cut), 400) << cut;
  // Half a body, then silence: answered after the body timeout.
  auto t0 = Clock::now();
  std::string slow = post("Content-Length: 1000\r\n", std::string(500, 'x'));
  EXPECT_EQ(status_of(slow), 400) << slow;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 4.5);
  EXPECT_EQ(f.get_hello(), 200);
  EXPECT_GE(f.http->stats().body_failures, 2);
}

TEST(HttpFront, FullQueueIsAnswered503AndNoAcceptedRequestIsLost) {
  HttpLimits l = small_limits();
  l.workers = 1;
  l.queue = 1;
  l.retry_after_s = 3;
  Front f(l);
  int first = connect_to(f.port);
  send_all(first, head("GET", "/wait", f.port));
  while (f.waiting == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int second = connect_to(f.port);  // queued behind the worker
  send_all(second, head("GET", "/wait", f.port));
  while (f.http->stats().queued == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int third = connect_to(f.port);
  send_all(third, head("GET", "/hello", f.port));
  std::string refused = read_until_close(third, 5);
  EXPECT_EQ(status_of(refused), 503) << refused;
  EXPECT_NE(refused.find("Retry-After: 3\r\n"), std::string::npos) << refused;
  f.release();
  std::string a1 = read_answers(first, 1, 5), a2 = read_answers(second, 1, 5);
  EXPECT_EQ(status_of(a1), 200) << a1;
  EXPECT_EQ(status_of(a2), 200) << a2;
  EXPECT_EQ(f.http->stats().refused_queue_full, 1);
  for (int fd : {first, second, third}) close(fd);
}

TEST(HttpFront, ConnectionCapAnswers503AtOnce) {
  HttpLimits l = small_limits();
  l.max_connections = 3;
  Front f(l);
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(connect_to(f.port));
  while (f.http->stats().connections_open < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int extra = connect_to(f.port);
  send_all(extra, head("GET", "/hello", f.port));
  std::string a = read_until_close(extra, 5);
  EXPECT_EQ(status_of(a), 503) << a;
  EXPECT_NE(a.find("Retry-After: 1\r\n"), std::string::npos);
  for (int fd : idle) close(fd);
  close(extra);
  for (int i = 0; i < 200 && f.http->stats().connections_open > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.get_hello(), 200);
}

TEST(HttpFront, AdmissionRefusesBeforeTheBodyIsRead) {
  HttpLimits l = small_limits();
  l.body_timeout_s = 30;  // a front that read the body first would sit here
  Front f(l, [](const httplib::Request& req) -> std::optional<Refusal> {
    if (req.get_header_value("X-Key") == "k") return std::nullopt;
    return Refusal{401, "no_key", "no key"};
  });
  int fd = connect_to(f.port);
  send_all(fd, head("POST", "/echo", f.port, "Content-Length: 60000\r\n"));  // and no body at all
  std::string a = read_until_close(fd, 5);
  close(fd);
  EXPECT_EQ(status_of(a), 401) << a;
  EXPECT_NE(a.find("Connection: close"), std::string::npos);
  fd = connect_to(f.port);
  send_all(fd, head("POST", "/echo", f.port, "X-Key: k\r\nContent-Length: 5\r\n") + "hello");
  a = read_answers(fd, 1, 5);
  close(fd);
  EXPECT_EQ(status_of(a), 200) << a;
}

TEST(HttpFront, KeepAliveAndPipelinedRequests) {
  Front f(small_limits());
  int fd = connect_to(f.port);
  send_all(fd, head("GET", "/hello", f.port) + head("POST", "/echo", f.port, "Content-Length: 3\r\n") + "abc");
  std::string two = read_answers(fd, 2, 5);
  EXPECT_EQ(status_of(two), 200) << two;
  size_t second = two.find("HTTP/1.1 200", 5);
  ASSERT_NE(second, std::string::npos) << two;
  EXPECT_NE(two.find("\r\n\r\n3", second), std::string::npos) << two;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // idle in the gate, then reused
  send_all(fd, head("GET", "/hello", f.port));
  std::string third = read_answers(fd, 1, 5);
  EXPECT_EQ(status_of(third), 200) << third;
  close(fd);
}

// A backend that holds every generation until released.
class HeldBackend : public backend::Backend {
 public:
  std::string name() const override { return "held"; }
  std::string model() const override { return "held"; }
  std::vector<backend::Generation> generate(const backend::GenerationRequest& r, const backend::StreamFn&) override {
    started++;
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return released; });
    backend::Generation g;
    g.sample_index = r.sample_indices.at(0);
    g.text = "ok";
    g.finish_reason = "stop";
    return {g};
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(m);
      released = true;
    }
    cv.notify_all();
  }
  std::atomic<int> started{0};
  std::mutex m;
  std::condition_variable cv;
  bool released = false;
};

TEST(ServeSecurity, RebindingHostsAndCrossSiteRequestsAreRefused) {
  auto held = std::make_shared<HeldBackend>();
  held->release();
  testing::LiveServer s({{"m", held}}, {});
  const std::string port = std::to_string(s.port);
  const std::string body = R"({"model": "m", "prompt": "x", "max_tokens": 2})";
  auto post = [&](const httplib::Headers& h, const std::string& type) {
    httplib::Client c("127.0.0.1", s.port);
    auto r = c.Post("/v1/completions", h, body, type.c_str());
    return r ? std::make_pair(r->status, r->body) : std::make_pair(-1, std::string());
  };
  for (const std::string& host :
       std::vector<std::string>{"127.0.0.1.rebind.example:" + port, "evil.example:" + port, "127.0.0.1:1"}) {
    EXPECT_EQ(testing::get(s, "/v1/models", {{"Host", host}}).status, 403) << host;
    EXPECT_EQ(testing::get(s, "/health", {{"Host", host}}).status, 403) << host;
    EXPECT_EQ(post({{"Host", host}}, "application/json").first, 403) << host;
  }
  // What a cross-site page can send without a preflight: text/plain, forms.
  auto plain = post({}, "text/plain");
  EXPECT_EQ(plain.first, 415);
  EXPECT_NE(plain.second.find("application/json"), std::string::npos);
  EXPECT_EQ(post({}, "application/x-www-form-urlencoded").first, 415);
  EXPECT_EQ(post({{"Origin", "http://evil.example"}}, "application/json").first, 403);
  EXPECT_EQ(post({{"Origin", "http://127.0.0.1:" + port}, {"Sec-Fetch-Site", "cross-site"}}, "application/json").first,
            403);
  EXPECT_EQ(post({{"Origin", "http://127.0.0.1:" + port}, {"Sec-Fetch-Site", "same-site"}}, "application/json").first,
            403);
  EXPECT_EQ(post({{"Origin", "http://127.0.0.1:" + port}, {"Sec-Fetch-Site", "same-origin"}}, "application/json").first,
            200);
  EXPECT_EQ(post({}, "application/json").first, 200);  // curl, SDKs: no Origin
  EXPECT_EQ(post({{"Host", "localhost:" + port}}, "application/json; charset=utf-8").first, 200);
  testing::Answer m = testing::get(s, "/metrics");
  EXPECT_NE(m.text.find("lcte_errors_total{model=\"-\",type=\"bad_host\"} 9"), std::string::npos) << m.text;
}

TEST(ServeSecurity, GenerationsBeyondTheCapGet503WithRetryAfter) {
  auto held = std::make_shared<HeldBackend>();
  ServerOptions o;
  o.max_generations = 1;
  testing::LiveServer s({{"m", held}}, o);
  const std::string body = R"({"model": "m", "prompt": "x", "max_tokens": 2})";
  auto first = std::async(std::launch::async, [&] { return testing::post(s, "/v1/completions", body); });
  while (held->started == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  httplib::Client c("127.0.0.1", s.port);
  auto busy = c.Post("/v1/completions", body, "application/json");
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 503);
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(busy->body)["error"]["code"], "overloaded");
  EXPECT_EQ(testing::get(s, "/health").status, 200);  // light routes still answer
  held->release();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(testing::post(s, "/v1/completions", body).status, 200);
}

}  // namespace
}  // namespace lcte::server
