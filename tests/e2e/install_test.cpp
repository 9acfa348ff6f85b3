// `cmake --install` into a scratch prefix gives a working lcte that serves the
// dashboard's page from <prefix>/share/lcte/web, also once the prefix is
// moved (nothing points back into the build tree), and $LCTE_WEB_DIR
// overrides where the page comes from.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/run_command.h"
#include "common/test_data.h"

namespace lcte {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `<binary> dashboard --port 0 ...` in the background until destroyed.
struct Dashboard {
  pid_t pid = -1;
  int port = 0;
  std::string out_path, err_path;

  Dashboard(const std::string& binary, const std::string& dir) {
    out_path = dir + "/dashboard.out";
    err_path = dir + "/dashboard.err";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv = {binary, "dashboard", "--port", "0", "--store", dir + "/store.sqlite"};
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    posix_spawn(&pid, cargs[0], &fa, nullptr, cargs.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    std::regex line("listening on http://[^:]+:([0-9]+)/");
    for (int i = 0; i < 2000 && port == 0; ++i) {
      std::smatch m;
      std::string out = slurp(out_path);
      if (std::regex_search(out, m, line))
        port = std::stoi(m[1]);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // The page line follows the listening line on stderr.
    for (int i = 0; i < 200 && stderr_text().find("lcte dashboard: page") == std::string::npos &&
                    stderr_text().find("page was not found") == std::string::npos;
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string stderr_text() const { return slurp(err_path); }
  std::string index() const {
    httplib::Client client("127.0.0.1", port);
    auto res = client.Get("/");
    return res ? res->body : "(no answer)";
  }
  ~Dashboard() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

bool page_built() { return fs::exists(std::string(LCTE_BINARY_DIR) + "/web/dist/index.html"); }

TEST(Install, InstalledBinaryFindsItsPage) {
  const std::string dir = testing::temp_dir();
  const std::string prefix = dir + "/prefix";
  auto installed = testing::run_command({LCTE_CMAKE_COMMAND, "--install", LCTE_BINARY_DIR, "--prefix", prefix}, dir);
  ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;

  auto version = testing::run_command({prefix + "/bin/lcte", "--version"}, dir);
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("lcte ", 0), 0u) << version.out;
  if (!page_built()) GTEST_SKIP() << "the dashboard's page was not built (no node/npm at build time)";

  const std::string page = slurp(prefix + "/share/lcte/web/index.html");
  ASSERT_EQ(page, slurp(std::string(LCTE_BINARY_DIR) + "/web/dist/index.html"));
  unsetenv("LCTE_WEB_DIR");
  {
    Dashboard d(prefix + "/bin/lcte", dir);
    ASSERT_GT(d.port, 0) << d.stderr_text();
    EXPECT_NE(d.stderr_text().find("page from " + prefix + "/share/lcte/web"), std::string::npos) << d.stderr_text();
    EXPECT_EQ(d.index(), page);
  }
  // Moved elsewhere, the install still finds its own page.
  const std::string moved = dir + "/moved";
  fs::rename(prefix, moved);
  {
    Dashboard d(moved + "/bin/lcte", dir);
    ASSERT_GT(d.port, 0) << d.stderr_text();
    EXPECT_NE(d.stderr_text().find("page from " + moved + "/share/lcte/web"), std::string::npos) << d.stderr_text();
    EXPECT_EQ(d.index(), page);
  }
  // Without share/, a copied binary says where it looked.
  fs::create_directories(dir + "/bare/bin");
  fs::copy_file(moved + "/bin/lcte", dir + "/bare/bin/lcte");
  {
    Dashboard d(dir + "/bare/bin/lcte", dir);
    ASSERT_GT(d.port, 0) << d.stderr_text();
    EXPECT_NE(d.stderr_text().find("the page was not found (looked in " + dir + "/bare/share/lcte/web"),
              std::string::npos)
        << d.stderr_text();
    EXPECT_NE(d.index().find("assets not built"), std::string::npos);
  }
}

TEST(Install, WebDirEnvironmentOverrides) {
  const std::string dir = testing::temp_dir();
  fs::create_directories(dir + "/page");
  std::ofstream(dir + "/page/index.html") << "<!doctype html><p>the override page</p>";
  setenv("LCTE_WEB_DIR", (dir + "/page").c_str(), 1);
  Dashboard d(testing::lcte_binary(), dir);
  unsetenv("LCTE_WEB_DIR");
  ASSERT_GT(d.port, 0) << d.stderr_text();
  EXPECT_NE(d.stderr_text().find("page from " + dir + "/page"), std::string::npos) << d.stderr_text();
  EXPECT_EQ(d.index(), "<!doctype html><p>the override page</p>");
}

}  // namespace
}  // namespace lcte
