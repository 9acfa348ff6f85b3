// lcte serve under load and abuse, on loopback only, bounded in time: the
// real binary (`lcte serve -m MODEL`, dashboard mounted) is started on a free
// port, then for S seconds at once
//   - C clients stream completions (libcurl, as `lcte eval --backend http`),
//   - L slow-loris connections trickle a head one byte a second (reconnecting
//     when the server gives up on them),
//   - an abuser sends oversized bodies and heads, chunked floods, malformed
//     request lines, rebinding Host names and cross-site text/plain posts,
//   - probes ask /health, the dashboard's page and /api/runs every 50 ms;
// while the server's RSS and open descriptors are sampled. Prints one table:
// count, errors and p50/p99 latency per kind, what the abuse got back, peak
// RSS and descriptors, the load average, and whether every accepted request
// was answered and the server survived (exit status 1 otherwise).
//
//   bench_server_abuse [--lcte PATH] [--model F.gguf] [--seconds 20] [--streams 64]
//                      [--slowloris 200] [--max-tokens 64] [--threads 2]
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/openai_client.h"

extern char** environ;

namespace {

namespace backend = lcte::backend;

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

struct Args {
  std::string lcte = LCTE_BINARY;
  std::string model;
  double seconds = 20;
  int streams = 64;
  int slowloris = 200;
  int max_tokens = 64;
  int threads = 2;
};

Args parse(int argc, char** argv) {
  Args a;
  const char* dir = std::getenv("LCTE_DATA_DIR");
  a.model = std::string(dir != nullptr && *dir ? dir : LCTE_DEFAULT_DATA_DIR) + "/models/stories260K-f32.gguf";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--lcte")
      a.lcte = v;
    else if (k == "--model")
      a.model = v;
    else if (k == "--seconds")
      a.seconds = std::atof(v.c_str());
    else if (k == "--streams")
      a.streams = std::atoi(v.c_str());
    else if (k == "--slowloris")
      a.slowloris = std::atoi(v.c_str());
    else if (k == "--max-tokens")
      a.max_tokens = std::atoi(v.c_str());
    else if (k == "--threads")
      a.threads = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.seconds <= 0 || a.seconds > 600 || a.streams < 0 || a.streams > 1000 || a.slowloris < 0 || a.slowloris > 2000) {
    std::fprintf(stderr, "bench_server_abuse: --seconds 0-600, --streams 0-1000, --slowloris 0-2000\n");
    std::exit(2);
  }
  return a;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string loadavg() {
  std::string s = slurp("/proc/loadavg");
  std::istringstream in(s);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// ---- the server under test ----

struct Server {
  pid_t pid = -1;
  int port = 0;
  std::string dir;
  Server(const Args& a) {
    dir = std::filesystem::temp_directory_path() / ("lcte-abuse-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::vector<std::string> argv = {a.lcte,   "serve", "-m",      a.model,
                                     "--port", "0",     "-t",      std::to_string(a.threads),
                                     "--ctx",  "512",   "--store", dir + "/store.sqlite"};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, (dir + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> cargs;
    for (auto& s : argv) cargs.push_back(s.data());
    cargs.push_back(nullptr);
    if (posix_spawn(&pid, cargs[0], &fa, nullptr, cargs.data(), environ) != 0) {
      std::fprintf(stderr, "cannot start %s\n", a.lcte.c_str());
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    std::regex line("listening on http://[^:]+:([0-9]+)");
    for (int i = 0; i < 3000 && port == 0; ++i) {
      std::smatch m;
      std::string out = slurp(dir + "/out");
      if (std::regex_search(out, m, line))
        port = std::stoi(m[1]);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (port == 0) {
      std::fprintf(stderr, "lcte serve did not start: %s\n", slurp(dir + "/err").c_str());
      std::exit(1);
    }
  }
  bool alive() const { return pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0; }
  // SIGTERM; the exit status (-1: did not stop within 30 s).
  int stop() {
    kill(pid, SIGTERM);
    for (int i = 0; i < 3000; ++i) {
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid)
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  ~Server() { std::filesystem::remove_all(dir); }
};

// ---- raw HTTP on loopback ----

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

bool send_all(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// One request on a fresh connection: (status, seconds); status -1 when no
// answer came. The answer is read while the request is still being sent, as
// the server answers oversized requests before it has read them.
std::pair<int, double> request(int port, const std::string& raw, double timeout = 10) {
  auto t0 = Clock::now();
  int fd = connect_to(port);
  if (fd < 0) return {-1, secs(t0, Clock::now())};
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
  size_t off = 0;
  std::string got;
  char buf[4096];
  while (Clock::now() < deadline && got.find("\r\n") == std::string::npos) {
    pollfd p{fd, static_cast<short>(POLLIN | (off < raw.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 50) <= 0) continue;
    if (p.revents & POLLIN) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    } else if (p.revents & POLLOUT) {
      ssize_t n = send(fd, raw.data() + off, raw.size() - off, MSG_NOSIGNAL);
      if (n > 0)
        off += static_cast<size_t>(n);
      else if (errno != EAGAIN)
        off = raw.size();  // refused: wait for the answer
    } else if (p.revents & (POLLERR | POLLHUP)) {
      break;
    }
  }
  close(fd);
  int status = got.rfind("HTTP/1.1 ", 0) == 0 && got.size() >= 12 ? std::atoi(got.substr(9, 3).c_str()) : -1;
  return {status, secs(t0, Clock::now())};
}

std::string head(const std::string& method, const std::string& path, int port, const std::string& extra = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n" +
         extra + "\r\n";
}

// ---- results ----

struct Series {
  std::mutex m;
  std::vector<double> latency;
  long errors = 0;
  std::map<std::string, long> outcomes;
  void ok(double s) {
    std::lock_guard<std::mutex> lock(m);
    latency.push_back(s);
  }
  void fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(m);
    ++errors;
    ++outcomes[why];
  }
  void outcome(const std::string& what) {
    std::lock_guard<std::mutex> lock(m);
    ++outcomes[what];
  }
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::min<double>(v.size() - 1, std::max(0.0, p / 100.0 * v.size() - 0.5) + 0.5));
  return v[i];
}

long proc_value(pid_t pid, const char* key) {  // kB from /proc/PID/status
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
  return -1;
}

long open_fds(pid_t pid) {
  std::error_code ec;
  long n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Args a = parse(argc, argv);
  if (!std::filesystem::exists(a.model)) {
    std::fprintf(stderr, "bench_server_abuse: model not found: %s\n", a.model.c_str());
    return 2;
  }
  const std::string load_before = loadavg();
  Server server(a);
  const int port = server.port;
  std::printf(
      "lcte serve -m %s -t %d on 127.0.0.1:%d; %.0f s with %d streaming clients, %d slow-loris connections,\n"
      "an abuser and probes; load average before: %s; %u hardware threads\n\n",
      std::filesystem::path(a.model).filename().c_str(), a.threads, port, a.seconds, a.streams, a.slowloris,
      load_before.c_str(), std::thread::hardware_concurrency());
  std::fflush(stdout);

  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  std::atomic<bool> done{false};
  Series completions, health, page, runs, abuse, loris;
  std::atomic<long> peak_rss_kb{0}, peak_fds{0}, busy_503{0}, loris_opened{0};
  std::vector<std::thread> threads;

  // Streaming completions: each must end in [DONE] with its text, or be refused with 503.
  for (int c = 0; c < a.streams; ++c)
    threads.emplace_back([&, c] {
      backend::HttpOptions o;
      o.base_url = "http://127.0.0.1:" + std::to_string(port);
      o.model = std::filesystem::path(a.model).stem().string();
      o.stream = true;
      o.max_retries = 0;  // every failure counts
      o.request_timeout_s = 120;
      o.max_in_flight = 1;
      backend::OpenAIClient client(o);
      for (int i = 0; Clock::now() < deadline && i < 100000; ++i) {
        backend::CompletionRequest r;
        r.prompt = i % 2 ? "Once upon a time" : "The cat sat on";
        r.max_tokens = a.max_tokens;
        r.temperature = 0.8;
        r.seed = static_cast<uint64_t>(c * 100000 + i);
        auto s0 = Clock::now();
        try {
          backend::CompletionResult out = client.complete(r);
          if (out.texts.empty())
            completions.fail("no text");
          else
            completions.ok(secs(s0, Clock::now()));
        } catch (const std::exception& e) {
          std::string what = e.what();
          if (what.find("HTTP 503") != std::string::npos) {
            busy_503++;  // refused, not accepted: retried after Retry-After
            std::this_thread::sleep_for(std::chrono::seconds(1));
          } else {
            completions.fail(what.substr(0, 120));
          }
        }
      }
    });

  // Slow-loris: a head that never ends, one byte a second; the server's 408 (or close) reopens it.
  threads.emplace_back([&] {
    std::vector<int> fds(static_cast<size_t>(a.slowloris), -1);
    const std::string start = "GET /health HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nX-Slow: ";
    while (!done) {
      for (int& fd : fds) {
        if (fd < 0) {
          fd = connect_to(port);
          if (fd >= 0 && send_all(fd, start)) loris_opened++;
          continue;
        }
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0) {  // the server answered (408) or closed: count it and reopen
          char buf[256];
          ssize_t n = recv(fd, buf, sizeof(buf), 0);
          loris.outcome(n > 12 && std::string(buf, 12) == "HTTP/1.1 408" ? "408 after the head timeout" : "closed");
          close(fd);
          fd = -1;
          continue;
        }
        if (!send_all(fd, "a")) {
          close(fd);
          fd = -1;
        }
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    for (int fd : fds)
      if (fd >= 0) close(fd);
  });

  // The abuser: each kind of bad request in turn; a refusal (4xx) is the right answer.
  threads.emplace_back([&] {
    const std::string big_body(2 << 20, 'x');
    std::string chunks;
    for (int i = 0; i < 64; ++i) chunks += "8000\r\n" + std::string(0x8000, 'y') + "\r\n";
    const std::vector<std::pair<std::string, std::string>> kinds = {
        {"body over the limit (10 MB declared)",
         head("POST", "/v1/completions", port, "Content-Type: application/json\r\nContent-Length: 10000000\r\n") +
             big_body},
        {"chunked body over the limit",
         head("POST", "/v1/completions", port, "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n") +
             chunks},
        {"head over the limit (64 KiB)",
         "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 << 10, 'h') + "\r\n\r\n"},
        {"malformed request line", "GARBAGE \x01\x02 / HTTP/9\r\n\r\n"},
        {"binary noise", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n"},
        {"rebinding Host", "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1.rebind.example:" + std::to_string(port) +
                               "\r\nConnection: close\r\n\r\n"},
        {"cross-site text/plain POST",
         head("POST", "/v1/completions", port,
              "Content-Type: text/plain\r\nOrigin: http://evil.example\r\nContent-Length: 40\r\n") +
             R"({"model":"x","prompt":"y","max_tokens":9})"},
        {"bad JSON", head("POST", "/v1/completions", port, "Content-Type: application/json\r\nContent-Length: 9\r\n") +
                         "{\"model\":"},
    };
    for (size_t i = 0; Clock::now() < deadline && i < 100000; ++i) {
      const auto& [name, raw] = kinds[i % kinds.size()];
      auto [status, s] = request(port, raw);
      if (status >= 400 && status < 500)
        abuse.ok(s), abuse.outcome(name + ": " + std::to_string(status));
      else
        abuse.fail(name + ": " + (status < 0 ? std::string("no answer") : std::to_string(status)));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  // Probes: the health check, the dashboard's page and its data.
  auto probe = [&](Series& series, std::string path) {
    return std::thread([&, path] {
      for (int i = 0; Clock::now() < deadline && i < 100000; ++i) {
        auto [status, s] = request(port, head("GET", path, port));
        if (status == 200)
          series.ok(s);
        else
          series.fail(path + ": " + (status < 0 ? std::string("no answer") : std::to_string(status)));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  };
  threads.push_back(probe(health, "/health"));
  threads.push_back(probe(page, "/"));
  threads.push_back(probe(runs, "/api/runs"));

  // The server's memory and descriptors, ten times a second.
  std::thread sampler([&] {
    while (!done) {
      peak_rss_kb = std::max<long>(peak_rss_kb, proc_value(server.pid, "VmRSS:"));
      peak_fds = std::max<long>(peak_fds, open_fds(server.pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  std::this_thread::sleep_until(deadline);
  done = true;
  for (auto& t : threads) t.join();
  sampler.join();
  const double wall = secs(t0, Clock::now());
  const long hwm = proc_value(server.pid, "VmHWM:");
  const bool alive = server.alive();
  auto after = request(port, head("GET", "/health", port));
  std::string metrics;
  {
    int fd = connect_to(port);
    if (fd >= 0) {
      send_all(fd, head("GET", "/metrics", port));
      char buf[8192];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) metrics.append(buf, static_cast<size_t>(n));
      close(fd);
    }
  }
  const int exit_status = server.stop();
  const std::string load_after = loadavg();

  std::printf("| requests | answered | errors | p50 (s) | p99 (s) |\n|---|---:|---:|---:|---:|\n");
  auto row = [](const char* name, Series& s) {
    std::printf("| %s | %zu | %ld | %.4f | %.4f |\n", name, s.latency.size(), s.errors, pct(s.latency, 50),
                pct(s.latency, 99));
  };
  char label[64];
  std::snprintf(label, sizeof(label), "streamed completion (%d tokens)", a.max_tokens);
  row(label, completions);
  row("GET /health", health);
  row("GET / (dashboard page)", page);
  row("GET /api/runs (dashboard data)", runs);
  row("abusive request (answered 4xx)", abuse);
  std::printf("\ncompletions refused with 503 (not accepted; retried after 1 s): %ld\n", busy_503.load());
  std::printf("slow-loris connections opened: %ld;", loris_opened.load());
  for (const auto& [k, v] : loris.outcomes) std::printf(" %s: %ld;", k.c_str(), v);
  std::printf("\nabuse answers:");
  for (const auto& [k, v] : abuse.outcomes) std::printf(" [%s] %ld", k.c_str(), v);
  std::printf("\n");
  for (Series* s : {&completions, &health, &page, &runs})
    for (const auto& [k, v] : s->outcomes) std::printf("error: %s x%ld\n", k.c_str(), v);
  std::printf("server peak RSS %.1f MiB (VmHWM %.1f MiB), peak open descriptors %ld\n", peak_rss_kb / 1024.0,
              hwm / 1024.0, peak_fds.load());
  std::istringstream m(metrics);
  for (std::string line; std::getline(m, line);)
    if (line.rfind("lcte_http_refused_total", 0) == 0 || line.rfind("lcte_requests_total", 0) == 0)
      std::printf("  %s\n", line.c_str());
  std::printf("wall %.1f s; load average after: %s\n", wall, load_after.c_str());
  const bool lost = completions.errors > 0 || health.errors > 0 || page.errors > 0 || runs.errors > 0;
  std::printf(
      "server alive at the end: %s, /health after: %d, exit status on SIGTERM: %d; accepted requests lost: %s\n",
      alive ? "yes" : "NO", after.first, exit_status, lost ? "YES" : "none");
  return alive && exit_status == 0 && after.first == 200 && !lost && abuse.errors == 0 ? 0 : 1;
}
