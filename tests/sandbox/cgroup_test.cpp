// The cgroup v2 set-up on a fake cgroupfs (plain files in a temp dir), and on
// the real one where this machine has a delegated cgroup v2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/test_data.h"
#include "sandbox/cgroup.h"

namespace lcte::sandbox::detail {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Cgroup, MissingControllersAreNamed) {
  std::string root = testing::temp_dir();
  fs::create_directories(root + "/user.slice/app");
  write_file(root + "/user.slice/app/cgroup.controllers", "cpu io pids\n");
  CgroupParent p = CgroupParent::at(root, "/user.slice/app", getpid());
  EXPECT_FALSE(p.available());
  EXPECT_NE(p.why().find("memory and pids controllers are not delegated"), std::string::npos) << p.why();
  EXPECT_EQ(p.create("jail", {1 << 30, 32}), "");
}

TEST(Cgroup, EnablesControllersAndCreatesLimitedChildren) {
  std::string root = testing::temp_dir();
  fs::create_directories(root + "/lcte");
  write_file(root + "/lcte/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
  write_file(root + "/lcte/cgroup.subtree_control", "");
  CgroupParent p = CgroupParent::at(root, "/lcte", getpid());
  ASSERT_TRUE(p.available()) << p.why();
  EXPECT_EQ(read_file(root + "/lcte/cgroup.subtree_control"), "+memory +pids");
  std::string jail = p.create("jail-1", {3ull << 30, 48});
  ASSERT_EQ(jail, root + "/lcte/jail-1");
  EXPECT_EQ(read_file(jail + "/memory.max"), std::to_string(3ull << 30));
  EXPECT_EQ(read_file(jail + "/memory.swap.max"), "0");
  EXPECT_EQ(read_file(jail + "/pids.max"), "48");
  EXPECT_TRUE(CgroupParent::place(jail, 4242));
  EXPECT_EQ(read_file(jail + "/cgroup.procs"), "4242");
}

TEST(Cgroup, ThisMachine) {
  CgroupParent p = CgroupParent::detect();
  if (!p.available()) GTEST_SKIP() << "no delegated cgroup v2 here: " << p.why();
  std::string jail = p.create("lcte-test-" + std::to_string(getpid()), {64ull << 20, 8});
  ASSERT_FALSE(jail.empty());
  EXPECT_EQ(read_file(jail + "/pids.max"), "8\n");
  CgroupParent::remove(jail);
  EXPECT_FALSE(fs::exists(jail));
}

}  // namespace
}  // namespace lcte::sandbox::detail
