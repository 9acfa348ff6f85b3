#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/log.h"

namespace lcte::sandbox::detail {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` in one write(2), as cgroupfs expects; errno on failure.
int write_file(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_CREAT, 0644);
  if (fd < 0) return errno;
  ssize_t n = write(fd, text.data(), text.size());
  int e = n == static_cast<ssize_t>(text.size()) ? 0 : (n < 0 ? errno : EIO);
  close(fd);
  return e;
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

bool has_controllers(const std::string& text) { return has_word(text, "memory") && has_word(text, "pids"); }

}  // namespace

CgroupParent CgroupParent::detect() {
  std::string root;
  std::istringstream mounts(read_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, devices, source, mount_point;
    fields >> id >> parent >> devices >> source >> mount_point;
    root = mount_point;
    break;
  }
  std::string self;
  std::istringstream groups(read_file("/proc/self/cgroup"));
  for (std::string line; std::getline(groups, line);)
    if (line.starts_with("0::")) self = line.substr(3);
  if (root.empty() || self.empty()) {
    CgroupParent none;
    none.why_ = "no cgroup v2 hierarchy (the machine uses cgroup v1 or a hybrid layout)";
    return none;
  }
  return at(root, self, getpid());
}

CgroupParent CgroupParent::at(const std::string& root, const std::string& self, pid_t me) {
  CgroupParent p;
  p.dir_ = root + (self == "/" ? "" : self);
  if (!has_controllers(read_file(p.dir_ + "/cgroup.controllers"))) {
    p.why_ = "the memory and pids controllers are not delegated to " + p.dir_;
    return p;
  }
  if (!has_controllers(read_file(p.dir_ + "/cgroup.subtree_control"))) {
    int e = write_file(p.dir_ + "/cgroup.subtree_control", "+memory +pids");
    if (e == EBUSY) {
      // cgroup v2 allows controllers for children only where no process
      // lives: this process moves into a leaf of its own first.
      std::string leaf = p.dir_ + "/lcte-harness";
      if (mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST)
        e = errno;
      else if (int moved = write_file(leaf + "/cgroup.procs", std::to_string(me)); moved != 0)
        e = moved;
      else
        e = write_file(p.dir_ + "/cgroup.subtree_control", "+memory +pids");
    }
    if (e != 0) {
      p.why_ = "cannot enable the memory and pids controllers in " + p.dir_ + ": " + std::strerror(e);
      return p;
    }
  }
  p.available_ = true;
  return p;
}

std::string CgroupParent::create(const std::string& name, const CgroupLimits& limits) const {
  if (!available_) return "";
  std::string dir = dir_ + "/" + name;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    spdlog::warn("sandbox: cannot create cgroup {}: {}", dir, std::strerror(errno));
    return "";
  }
  for (const auto& [file, value] : {std::pair<std::string, uint64_t>{"memory.max", limits.memory_bytes},
                                    {"memory.swap.max", 0},
                                    {"pids.max", limits.pids}}) {
    if (int e = write_file(dir + "/" + file, std::to_string(value)); e != 0) {
      spdlog::warn("sandbox: cannot set {}/{}: {}", dir, file, std::strerror(e));
      remove(dir);
      return "";
    }
  }
  return dir;
}

bool CgroupParent::place(const std::string& cgroup, pid_t pid) {
  return write_file(cgroup + "/cgroup.procs", std::to_string(pid)) == 0;
}

void CgroupParent::remove(const std::string& cgroup) {
  if (!cgroup.empty()) rmdir(cgroup.c_str());
}

}  // namespace lcte::sandbox::detail
