#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>

#include <fmt/ranges.h>

#include "core/error.h"
#include "core/log.h"
#include "sandbox/cgroup.h"
#include "sandbox/driver_source.h"
#include "sandbox/jail.h"
#include "sandbox/outcome.h"
#include "sandbox/plan.h"
#include "sandbox/seccomp_policy.h"

namespace lcte::sandbox {

std::string_view status_name(Status s) {
  switch (s) {
    case Status::Passed: return "passed";
    case Status::Failed: return "failed";
    case Status::Error: return "error";
    case Status::SyntaxError: return "syntax_error";
    case Status::Timeout: return "timeout";
    case Status::OutOfMemory: return "out_of_memory";
    case Status::Killed: return "killed";
  }
  return "unknown";
}

using namespace detail;

namespace {

using Clock = std::chrono::steady_clock;

// Modules the zygote imports once so that samples do not pay for them
// (HumanEval prompts import typing; MBPP solutions re, math, collections...).
constexpr const char* kPreload =
    "typing,collections,collections.abc,math,cmath,re,itertools,functools,heapq,bisect,operator,"
    "string,copy,random,hashlib,array,datetime,fractions,decimal,statistics";

// Address space the judge may use, whatever the sample's limit (the driver's JUDGE_MEMORY).
constexpr uint64_t kJudgeMemory = 1ull << 30;
// More than this much output (both streams) means a flood: the sample is killed.
constexpr size_t kOutputHardCap = 64u << 20;
// Files and directories a zygote worker's /tmp may hold.
constexpr int kWorkerInodes = 16384;
// Wall time allowed for everything to close after a kill before we give up.
constexpr auto kGrace = std::chrono::seconds(5);

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

void make_pipe(Fd& read_end, Fd& write_end) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) fail("sandbox: pipe: {}", std::strerror(errno));
  read_end.reset(p[0]);
  write_end.reset(p[1]);
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
}

void make_socketpair(int type, Fd& parent, Fd& child) {
  int s[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, s) != 0) fail("sandbox: socketpair: {}", std::strerror(errno));
  parent.reset(s[0]);
  child.reset(s[1]);
  fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK);
}

std::string random_token() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno != EINTR) fail("sandbox: getrandom: {}", std::strerror(errno));
    if (n > 0) got += static_cast<size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) token += {hex[b >> 4], hex[b & 15]};
  return token;
}

void put_u32(std::string& out, size_t n) {
  if (n > 0xffffffffu) fail("sandbox: program part of {} bytes is too large", n);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
}

// The program frame the judge reads first (see driver.py).
std::string program_frame(const Program& p, const std::string& token) {
  std::string body;
  for (const std::string* part : {&p.setup, &p.helpers, &p.tests, &p.check, &p.code, &token}) {
    put_u32(body, part->size());
    body += *part;
  }
  std::string frame;
  put_u32(frame, body.size());
  return frame + body;
}

// One output stream of the sample: kept up to its cap, counted beyond.
struct Capture {
  Fd fd;
  size_t cap = 0;
  std::string text;
  size_t total = 0;
  bool eof = false;

  void drain() {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        size_t keep = std::min(static_cast<size_t>(n), cap - std::min(cap, text.size()));
        text.append(buf, keep);
        total += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) eof = true;
      return;
    }
  }
};

// The report socket: the program goes out to the judge, its one report comes back.
struct Channel {
  Fd fd;
  std::string pending;  // still to send
  size_t sent = 0;
  std::string in;
  bool eof = false;

  short events() const { return static_cast<short>(POLLIN | (sent < pending.size() ? POLLOUT : 0)); }

  void pump(short revents) {
    if ((revents & POLLOUT) && sent < pending.size()) {
      ssize_t n = send(fd.get(), pending.data() + sent, pending.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0)
        sent += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        sent = pending.size();  // the reader is gone
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      for (;;) {
        ssize_t n = recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0 && in.size() < kMaxReportBytes) {
          in.append(buf, static_cast<size_t>(n));
          continue;
        }
        if (n > 0) continue;  // flooding the channel: the frames will not parse
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) eof = true;
        return;
      }
    }
  }
};

// One sample's stdout and stderr (the sample process's) and the judge's
// report socket: the harness's ends, and the child ends until they are
// handed to the jail or the worker.
struct SampleIo {
  Capture out, err;
  Channel channel;
  Fd out_child, err_child, channel_child;

  SampleIo(const Program& program, const Limits& limits, const std::string& token) {
    out.cap = err.cap = limits.max_output_bytes;
    make_pipe(out.fd, out_child);
    make_pipe(err.fd, err_child);
    make_socketpair(SOCK_STREAM, channel.fd, channel_child);
    channel.pending = program_frame(program, token);
  }
  void close_child_ends() { out_child.reset(), err_child.reset(), channel_child.reset(); }
  bool closed() const { return out.eof && err.eof && channel.eof; }
  bool flooding(const Limits& limits) const {
    return out.total + err.total > std::max(kOutputHardCap, 16 * limits.max_output_bytes);
  }
  // Polls the three and handles what is ready; the caller's own descriptor
  // (init's report, the zygote's control socket) comes first in `fds`.
  void add_to(std::vector<pollfd>& fds) const {
    fds.push_back({out.eof ? -1 : out.fd.get(), POLLIN, 0});
    fds.push_back({err.eof ? -1 : err.fd.get(), POLLIN, 0});
    fds.push_back({channel.eof ? -1 : channel.fd.get(), channel.events(), 0});
  }
  void handle(const pollfd* ready) {
    if (ready[0].revents) out.drain();
    if (ready[1].revents) err.drain();
    if (ready[2].revents) channel.pump(ready[2].revents);
  }
  void fill(Observation& seen, const Limits& limits) {
    seen.frames = parse_frames(channel.in, &seen.frames_malformed);
    seen.output_truncated = out.total > limits.max_output_bytes || err.total > limits.max_output_bytes;
    seen.stdout_text = std::move(out.text);
    seen.stderr_text = std::move(err.text);
  }
};

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

int poll_for(std::vector<pollfd>& fds, Clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  int timeout = static_cast<int>(std::clamp<long long>(left + 1, 0, 1000));
  int rc = poll(fds.data(), fds.size(), timeout);
  if (rc < 0 && errno != EINTR) fail("sandbox: poll: {}", std::strerror(errno));
  return rc;
}

Clock::time_point deadline_after(double seconds) {
  return Clock::now() + std::chrono::microseconds(static_cast<long long>(std::max(0.0, seconds) * 1e6));
}

uint64_t whole_seconds(double s) { return static_cast<uint64_t>(std::max(1.0, std::ceil(s))); }

uint64_t tmp_size(const Limits& limits) { return std::max<uint64_t>(16u << 20, 4 * limits.file_bytes); }

Isolation parse_isolation(const std::string& name, bool* automatic) {
  *automatic = name == "auto";
  if (name == "auto" || name == "namespaces") return Isolation::Namespaces;
  if (name == "user-namespaces") return Isolation::UserNamespaces;
  if (name == "processes") return Isolation::Processes;
  fail("sandbox: unknown isolation '{}' (auto, namespaces, user-namespaces or processes)", name);
}

}  // namespace

bool is_isolation_name(const std::string& name) {
  return name == "auto" || name == "namespaces" || name == "user-namespaces" || name == "processes";
}

namespace {

// A warm zygote and the jail around it.
struct Worker {
  Jail jail;
  std::string cgroup;  // the worker's cgroup v2 directory, "" without one
  Fd report;           // init's report pipe
  Fd control;          // SOCK_SEQPACKET to the zygote
  Fd errors;           // the zygote's stderr, read when it fails
  uint64_t tmp_bytes = 0;

  std::string error_text() {
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(errors.get(), buf, sizeof buf)) > 0 && text.size() < 8192)
      text.append(buf, static_cast<size_t>(n));
    return text;
  }
};

}  // namespace

struct Sandbox::Impl {
  Options options;
  PythonInfo python;
  SeccompFilter filter;
  JailPlan plan;
  bool zygote = false;
  std::string degraded;  // why the isolation is weaker than the strongest, if it is
  Fd devnull;

  std::mutex mutex;  // guards idle
  std::vector<std::unique_ptr<Worker>> idle;
  CgroupParent cgroups = CgroupParent::detect();
  std::atomic<uint64_t> jails_made{0};

  // A cgroup for one jail, capping the memory and processes of everything
  // in it: the sample's limits plus what the judge and the worker's
  // zygotes need. "" when the machine delegates none.
  std::string jail_cgroup(const Limits& limits) {
    CgroupLimits caps{limits.memory_bytes + (kJudgeMemory + (256ull << 20)),
                      static_cast<uint64_t>(limits.max_processes) + 16};
    return cgroups.create(fmt::format("lcte-jail-{}-{}", getpid(), jails_made++), caps);
  }

  explicit Impl(Options o);
  ~Impl();
  void choose_isolation();
  bool probe(Isolation isolation, std::string* why);

  std::vector<std::string> interpreter_argv(std::vector<std::string> args) const {
    std::vector<std::string> argv{python.executable, "-S", "-I", "-B", "-X", "utf8", "-c", std::string(kDriverSource)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  Result run_dispatch(const Program& program, const Limits& limits);
  Result run_once(const Program& program, const Limits& limits);
  Result run_on_worker(const Program& program, const Limits& limits);

  std::unique_ptr<Worker> start_worker(const Limits& limits);
  std::unique_ptr<Worker> acquire(const Limits& limits);
  void release(std::unique_ptr<Worker> worker);
  void destroy(std::unique_ptr<Worker>& worker);
};

Sandbox::Impl::Impl(Options o) : options(std::move(o)) {
  python = probe_python(options.python);
  filter = build_seccomp_filter();
  devnull.reset(open("/dev/null", O_RDWR | O_CLOEXEC));
  choose_isolation();
}

Sandbox::Impl::~Impl() {
  for (auto& w : idle) destroy(w);
}

// Tries the requested isolation (or, for "auto", namespaces and then user
// namespaces) with a real jail running a trivial program, and keeps the first
// that works. "auto" never settles for processes: a sample there can read
// the user's files, so it takes the user's explicit choice.
void Sandbox::Impl::choose_isolation() {
  bool automatic = false;
  Isolation wanted = parse_isolation(options.isolation, &automatic);
  std::vector<Isolation> order{wanted};
  if (automatic) order = {Isolation::Namespaces, Isolation::UserNamespaces};
  std::string reasons;
  for (Isolation isolation : order) {
    std::string why;
    if (probe(isolation, &why)) {
      if (!reasons.empty()) degraded = reasons;
      return;
    }
    reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : "; ", isolation_name(isolation), why);
  }
  if (automatic)
    fail(
        "sandbox: no namespace isolation works on this machine ({}). Without it a sample runs with rlimits and "
        "seccomp only and can read and write what your user can (your files, the store, other programs' "
        "sockets). Run as root or enable unprivileged user namespaces (kernel.unprivileged_userns_clone=1; on "
        "Ubuntu 24.04 also kernel.apparmor_restrict_unprivileged_userns=0), or accept the weaker isolation by "
        "name: --isolation processes (lcte eval, route eval, dashboard), isolation = \"processes\" in a study's "
        "[eval] section",
        reasons);
  fail("sandbox: {} isolation does not work on this machine: {}", isolation_name(wanted), reasons);
}

bool Sandbox::Impl::probe(Isolation isolation, std::string* why) {
  if (isolation == Isolation::Namespaces && geteuid() != 0) {
    *why = "needs root";
    return false;
  }
  try {
    plan = make_plan(isolation, python, filter);
    zygote = options.zygote && isolation == Isolation::Namespaces;
    Limits limits;
    Program program{"", "ok = 1", "assert ok == 1", "", ""};
    Result r = run_dispatch(program, limits);
    if (r.status == Status::Passed) return true;
    *why = fmt::format("a trivial program ended as {} ({} {})", status_name(r.status), r.error_type,
                       r.error_message + r.stderr_text.substr(0, 300));
  } catch (const Error& e) {
    *why = e.what();
  }
  for (auto& w : idle) destroy(w);
  idle.clear();
  return false;
}

Sandbox::Sandbox(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Sandbox::~Sandbox() = default;

Result Sandbox::run(const Program& program, const Limits& limits) {
  if (!(limits.wall_seconds > 0) || !(limits.cpu_seconds > 0) || limits.memory_bytes == 0 || limits.max_processes < 1 ||
      limits.max_open_files < 8)
    fail("sandbox: invalid limits (wall {} s, cpu {} s, memory {} B, processes {}, open files {})", limits.wall_seconds,
         limits.cpu_seconds, limits.memory_bytes, limits.max_processes, limits.max_open_files);
  return impl_->run_dispatch(program, limits);
}

// Without namespaces one judge process forks its sample; with them, a worker
// (pooled, or new for this sample only) holds both in a jail.
Result Sandbox::Impl::run_dispatch(const Program& program, const Limits& limits) {
  Result r = plan.isolation == Isolation::Processes ? run_once(program, limits) : run_on_worker(program, limits);
  r.isolation = isolation_name(plan.isolation);
  return r;
}

Result Sandbox::Impl::run_once(const Program& program, const Limits& limits) {
  std::string token = random_token();
  SampleIo io(program, limits, token);

  // Without a mount namespace the work directory is a host temp dir.
  std::string workdir;
  if (plan.isolation == Isolation::Processes) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lcte-sample-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) fail("sandbox: mkdtemp: {}", std::strerror(errno));
    workdir = tmpl;
    if (geteuid() == 0 && chown(workdir.c_str(), kSampleUid, kSampleUid) != 0)
      fail("sandbox: chown {}: {}", workdir, std::strerror(errno));
  }
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ec;
      if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
  } remove_workdir{workdir};

  JailRun run;
  run.argv = interpreter_argv({"once", "-1", "-1"});  // judge and sample share the uid jail.cpp gives
  run.sample_user = true;
  run.die_with_parent = true;
  // The interpreter is uid 65534 under root namespaces; with unprivileged
  // user namespaces only uid 0 (the harness's user) exists inside.
  run.tmp_options = fmt::format("size={},nr_inodes=4096,mode=0700", tmp_size(limits));
  if (plan.isolation == Isolation::Namespaces) run.tmp_options += fmt::format(",uid={0},gid={0}", kSampleUid);
  run.host_workdir = workdir;
  run.cgroup = jail_cgroup(limits);
  struct RemoveCgroup {
    std::string path;
    ~RemoveCgroup() { CgroupParent::remove(path); }
  } remove_cgroup{run.cgroup};
  run.address_space = limits.memory_bytes;
  run.cpu_seconds = whole_seconds(limits.cpu_seconds);
  run.file_size = limits.file_bytes;
  run.processes = static_cast<uint64_t>(limits.max_processes);
  run.open_files = static_cast<uint64_t>(limits.max_open_files);

  auto started = Clock::now();
  Jail jail = start_jail(plan, run, {io.out_child.get(), io.err_child.get(), io.channel_child.get()});
  Fd report(jail.report);
  io.close_child_ends();

  Observation seen;
  JailReport records[2];  // Started, then the end (or one SetupFailed)
  size_t report_bytes = 0;
  bool report_eof = false, killed = false;
  auto python_pid = [&] {
    return report_bytes >= sizeof records[0] && records[0].kind == JailReport::Started ? records[0].value : -1;
  };
  auto deadline = deadline_after(limits.wall_seconds), give_up = Clock::time_point::max();
  while (!(report_eof && io.closed())) {
    auto now = Clock::now();
    if (!killed && now >= deadline) {
      kill_jail(plan, jail.init, python_pid());
      killed = seen.wall_timeout = true;
      give_up = now + kGrace;
    }
    if (now >= give_up) break;
    std::vector<pollfd> fds{{report_eof ? -1 : report.get(), POLLIN, 0}};
    io.add_to(fds);
    if (poll_for(fds, killed ? give_up : deadline) <= 0) continue;
    if (fds[0].revents) {
      ssize_t n = read(report.get(), reinterpret_cast<char*>(records) + report_bytes, sizeof records - report_bytes);
      if (n > 0)
        report_bytes += static_cast<size_t>(n);
      else if (n == 0 || errno != EINTR)
        report_eof = true;
    }
    io.handle(&fds[1]);
    if (!killed && io.flooding(limits)) {
      kill_jail(plan, jail.init, python_pid());
      killed = seen.output_overflow = true;
      give_up = Clock::now() + kGrace;
    }
  }
  if (!(report_eof && io.closed())) {  // gave up waiting
    kill_jail(plan, jail.init, python_pid());
    kill(jail.init, SIGKILL);
  }
  int status = 0;
  rusage usage{};
  while (wait4(jail.init, &status, __WALL, &usage) < 0 && errno == EINTR) {}

  // A setup failure is the first record (from init) or the second (from python).
  for (size_t i = 0; i < 2 && report_bytes >= (i + 1) * sizeof records[0]; ++i)
    if (records[i].kind == JailReport::SetupFailed)
      fail("sandbox: setting up the jail failed while {}: {}{}", jail_step_name(records[i].step),
           std::strerror(records[i].error),
           records[i].error == EACCES ? " (can uid 65534 read the interpreter and its library?)" : "");
  const JailReport& ended = records[1];
  seen.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  if (report_bytes == sizeof records && ended.kind != JailReport::None)  // how the judge ended
    seen.judge = Ending{ended.kind == JailReport::Exited, ended.value, ended.stop_signal, cpu, 0};
  seen.cpu_seconds = cpu;                                           // the judge and the sample it reaped
  seen.peak_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // replaced by the sample's own when reported
  io.fill(seen, limits);
  return classify(seen, limits, token);
}

std::unique_ptr<Worker> Sandbox::Impl::start_worker(const Limits& limits) {
  auto worker = std::make_unique<Worker>();
  Fd control_child, errors_w;
  make_socketpair(SOCK_SEQPACKET, worker->control, control_child);
  make_pipe(worker->errors, errors_w);
  worker->tmp_bytes = tmp_size(limits);

  // Under namespaces the judge and the sample get uids of their own; with
  // unprivileged user namespaces only one uid exists inside.
  bool own_uids = plan.isolation == Isolation::Namespaces;
  JailRun run;
  run.argv = interpreter_argv(
      {"zygote", kPreload, own_uids ? std::to_string(kJudgeUid) : "-1", own_uids ? std::to_string(kSampleUid) : "-1"});
  run.sample_user = false;      // the worker drops each child itself
  run.die_with_parent = false;  // it outlives the calling thread; it exits when the harness closes control
  // Enough descriptors to walk down any tree the inode limit allows when
  // emptying the work directory (samples set their own, lower limit).
  run.tmp_options = fmt::format("size={},nr_inodes={},mode=0755", worker->tmp_bytes, kWorkerInodes);
  run.open_files = kWorkerInodes + 64;
  run.cgroup = worker->cgroup = jail_cgroup(limits);
  worker->jail = start_jail(plan, run, {devnull.get(), errors_w.get(), control_child.get()});
  worker->report.reset(worker->jail.report);
  control_child.reset(), errors_w.reset();

  // The zygote says "ready" once its modules are imported.
  pollfd pfd{worker->control.get(), POLLIN, 0};
  auto until = Clock::now() + std::chrono::seconds(60);
  char buf[16] = {};
  ssize_t n = -1;
  while (Clock::now() < until) {
    std::vector<pollfd> fds{pfd};
    if (poll_for(fds, until) > 0) {
      n = recv(worker->control.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (!(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
    }
  }
  if (n != 5 || std::memcmp(buf, "ready", 5) != 0) {
    std::string why = worker->error_text();
    destroy(worker);
    fail("sandbox: the zygote did not start: {}", why.empty() ? "no message" : why);
  }
  return worker;
}

std::unique_ptr<Worker> Sandbox::Impl::acquire(const Limits& limits) {
  {
    std::lock_guard lock(mutex);
    // A worker's /tmp was sized when it started; take one that is big enough.
    for (auto it = idle.rbegin(); it != idle.rend(); ++it) {
      if ((*it)->tmp_bytes >= tmp_size(limits)) {
        auto worker = std::move(*it);
        idle.erase(std::next(it).base());
        return worker;
      }
    }
  }
  return start_worker(limits);
}

void Sandbox::Impl::release(std::unique_ptr<Worker> worker) {
  std::lock_guard lock(mutex);
  idle.push_back(std::move(worker));
}

void Sandbox::Impl::destroy(std::unique_ptr<Worker>& worker) {
  if (!worker) return;
  kill_jail(plan, worker->jail.init, -1);
  while (waitpid(worker->jail.init, nullptr, __WALL) < 0 && errno == EINTR) {}
  CgroupParent::remove(worker->cgroup);
  worker.reset();
}

namespace {

// The suite's trusted parts for the judge zygote to compile once per task
// (the judge still gets the whole program and uses the zygote's code only for
// the very same text); empty when too large for one control message.
std::string zygote_suite_part(const Program& p) {
  constexpr size_t kMaxSuiteBytes = 64u << 10;  // the driver's receive buffer
  if (p.setup.size() + p.helpers.size() + p.tests.size() + p.check.size() + 16 > kMaxSuiteBytes) return {};
  std::string out;
  for (const std::string* part : {&p.setup, &p.helpers, &p.tests, &p.check}) {
    put_u32(out, part->size());
    out += *part;
  }
  return out;
}

// Sends a request and the sample's three descriptors to a zygote.
bool send_request(int control, const std::string& request, const SampleIo& io) {
  int passed_fds[3] = {io.out_child.get(), io.err_child.get(), io.channel_child.get()};
  char control_buf[CMSG_SPACE(sizeof passed_fds)] = {};
  iovec iov{const_cast<char*>(request.data()), request.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control_buf;
  msg.msg_controllen = sizeof control_buf;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof passed_fds);
  std::memcpy(CMSG_DATA(cmsg), passed_fds, sizeof passed_fds);
  return sendmsg(control, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
}

}  // namespace

Result Sandbox::Impl::run_on_worker(const Program& program, const Limits& limits) {
  std::string token = random_token();
  SampleIo io(program, limits, token);
  std::string request = fmt::format("{} {} {} {} {}\n", limits.memory_bytes, whole_seconds(limits.cpu_seconds),
                                    limits.file_bytes, limits.max_processes, limits.max_open_files);
  request += zygote_suite_part(program);

  // A worker may have died while idle (its control socket then fails): retry
  // with a fresh one.
  std::unique_ptr<Worker> worker;
  for (int attempt = 0;; ++attempt) {
    worker = zygote ? acquire(limits) : start_worker(limits);
    if (send_request(worker->control.get(), request, io)) break;
    int e = errno;
    destroy(worker);
    if (attempt == 1) fail("sandbox: cannot reach the zygote: {}", std::strerror(e));
  }
  auto started = Clock::now();
  io.close_child_ends();

  Observation seen;
  std::string reply;
  bool replied = false, killed = false, broken = false;
  auto deadline = deadline_after(limits.wall_seconds), give_up = Clock::time_point::max();
  auto kill_sample = [&] { send(worker->control.get(), "K", 1, MSG_NOSIGNAL | MSG_DONTWAIT); };
  while (!(replied && io.closed())) {
    auto now = Clock::now();
    if (!killed && now >= deadline) {
      kill_sample();
      killed = seen.wall_timeout = true;
      give_up = now + kGrace;
    }
    if (now >= give_up) {
      if (broken) break;
      // The zygote did not answer in time: take the whole worker down.
      kill_jail(plan, worker->jail.init, -1);
      broken = true;
      give_up = now + kGrace;
    }
    std::vector<pollfd> fds{{replied || broken ? -1 : worker->control.get(), POLLIN, 0}};
    io.add_to(fds);
    if (poll_for(fds, killed ? give_up : deadline) <= 0) continue;
    if (fds[0].revents) {
      char buf[256];
      ssize_t n = recv(worker->control.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        reply.assign(buf, static_cast<size_t>(n));
        replied = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        seen.infrastructure_error = "the sandbox worker died: " + worker->error_text();
        kill_jail(plan, worker->jail.init, -1);
        broken = true;
        give_up = std::min(give_up, Clock::now() + kGrace);
      }
    }
    io.handle(&fds[1]);
    if (!killed && io.flooding(limits)) {
      kill_sample();
      killed = seen.output_overflow = true;
      give_up = Clock::now() + kGrace;
    }
  }
  seen.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();

  // "R <sample end> <judge end>", each "exit|signal VALUE CPU MAXRSS_KIB STOP"
  spdlog::debug("sandbox: worker reply '{}'", reply);
  auto words = split_words(reply);
  std::optional<Ending> sample_end, judge_end;
  if (words.size() == 11 && words[0] == "R") {
    auto join = [&](size_t from) {
      return fmt::format("{}", fmt::join(words.begin() + from, words.begin() + from + 5, " "));
    };
    sample_end = parse_ending(join(1));
    judge_end = parse_ending(join(6));
  }
  if (sample_end && judge_end) {
    seen.sample = sample_end;
    seen.judge = judge_end;
    seen.cpu_seconds = sample_end->cpu_seconds + judge_end->cpu_seconds;
    seen.peak_bytes = sample_end->peak_bytes;
  } else if (replied) {
    seen.infrastructure_error = "the worker sent a malformed reply: " + reply.substr(0, 100);
    broken = true;
  }
  if (broken || !zygote)
    destroy(worker);
  else
    release(std::move(worker));
  io.fill(seen, limits);
  return classify(seen, limits, token);
}

std::string Sandbox::describe() const {
  const Impl& d = *impl_;
  const JailPlan& p = d.plan;
  std::string out;
  switch (p.isolation) {
    case Isolation::Namespaces:
      out +=
          "isolation: namespaces: new PID, mount, network, IPC and UTS namespaces per jail; the sample "
          "in its own user namespace as uid 65534 (nobody) without capabilities\n";
      break;
    case Isolation::UserNamespaces:
      out +=
          "isolation: user namespaces: new user, PID, mount, network, IPC and UTS namespaces; the interpreter "
          "is uid 0 inside with no capabilities and an empty bounding set\n";
      break;
    case Isolation::Processes:
      out += "isolation: processes only (no namespaces): own session, rlimits and seccomp; the sample runs as ";
      out += geteuid() == 0 ? "uid 65534 and can read world-readable host files; "
                            : "the harness's user and can "
                              "read and write that user's files; ";
      out += "kill(-1) is blocked only by seccomp\n";
      break;
  }
  if (!d.degraded.empty()) out += "degraded: " + d.degraded + "\n";
  if (p.isolation != Isolation::Processes) {
    out += "filesystem: private root (tmpfs, read-only) with read-only binds of";
    for (const auto& b : p.binds) out += " " + b.source;
    out +=
        "; a fresh /proc (hidepid=2: only the processes one may trace are visible); "
        "/dev/{null,zero,full,random,urandom}; a private /tmp (tmpfs, 4 x file limit, at least 16 MiB) as "
        "the work directory; the host's root is detached\n";
    out += "network: empty network namespace (no interfaces up)\n";
  } else {
    out +=
        "filesystem: a fresh host temp dir as the work directory, deleted afterwards; nothing else "
        "is hidden\n";
  }
  out += d.filter.summary + "\n";
  out += d.cgroups.available()
             ? "cgroup v2: each jail in its own cgroup under " + d.cgroups.dir() +
                   " (memory.max = the sample's memory limit + 1.25 GiB for the judge and the worker, swap 0, "
                   "pids.max = the process limit + 16)\n"
             : "cgroup v2: none (" + d.cgroups.why() + "); memory and process limits are per process (rlimits)\n";
  out +=
      "rlimits: address space, CPU seconds (SIGXCPU, then SIGKILL a second later), file size, processes "
      "(RLIMIT_NPROC";
  out += p.isolation == Isolation::Processes ? ", shared by every process of that uid" : ", per user namespace";
  out += "), open files; core dumps off; no_new_privs\n";
  out += fmt::format("python: {} {} started with -S -I -B\n", d.python.executable, d.python.version);
  out +=
      "verdicts: a judge process runs the suite's setup, prompt helpers, tests and check; the completion runs "
      "in a separate sample process that answers the tests' calls with plain data over a socket and holds "
      "no tests, expected values, token or report channel";
  out += p.isolation == Isolation::Namespaces ? "; judge uid 65533, sample uid 65534\n"
                                              : "; both non-dumpable to each other's /proc\n";
  out += d.zygote ? "mode: worker (one warm jail per concurrent caller: a coordinator forks each sample, a judge "
                    "zygote each judge; the worker's other processes are killed and its /tmp emptied between "
                    "samples)\n"
         : p.isolation == Isolation::Processes ? "mode: one judge interpreter per sample, forking the sample\n"
                                               : "mode: a new jail per sample\n";
  return out;
}

}  // namespace lcte::sandbox
