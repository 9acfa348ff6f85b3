#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/error_of.h"
#include "common/test_data.h"
#include "core/error.h"
#include "core/sha256.h"
#include "eval/datasets.h"
#include "eval/io.h"

using namespace lcte;
using namespace lcte::eval;
namespace fs = std::filesystem;

namespace {

using lcte::testing::error_of;

// A local HTTP server on 127.0.0.1 and a random port, serving one file.
class LocalServer {
 public:
  explicit LocalServer(std::string body) : body_(std::move(body)) {
    server_.Get("/data/file.jsonl", [this](const httplib::Request&, httplib::Response& res) {
      hits_++;
      res.set_content(body_, "application/octet-stream");
    });
    server_.Get("/moved",
                [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/data/file.jsonl"); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int hits() const { return hits_; }

 private:
  std::string body_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> hits_{0};
};

bool no_partial_files(const std::string& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.path().string().find(".part.") != std::string::npos) return false;
  return true;
}

}  // namespace

TEST(EvalDownload, VerifiedDownload) {
  std::string body = "{\"task_id\": 1}\n";
  LocalServer server(body);
  std::string dir = lcte::testing::temp_dir();
  std::string dest = dir + "/sub/file.jsonl";
  download_verified(server.url("/data/file.jsonl"), dest, sha256_hex(body));
  EXPECT_EQ(read_file(dest), body);
  download_verified(server.url("/moved"), dir + "/redirected", sha256_hex(body));  // redirects are followed
  EXPECT_EQ(read_file(dir + "/redirected"), body);
  EXPECT_TRUE(no_partial_files(dir));
}

TEST(EvalDownload, ChecksumMismatchLeavesNothing) {
  LocalServer server("tampered\n");
  std::string dir = lcte::testing::temp_dir();
  std::string message = error_of(
      [&] { download_verified(server.url("/data/file.jsonl"), dir + "/file.jsonl", sha256_hex("original\n")); });
  EXPECT_NE(message.find("sha256 mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find(sha256_hex("tampered\n")), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir + "/file.jsonl"));
  EXPECT_TRUE(no_partial_files(dir));
}

TEST(EvalDownload, HttpErrorsAndSizeCap) {
  LocalServer server("0123456789");
  std::string dir = lcte::testing::temp_dir();
  std::string message = error_of([&] { download_verified(server.url("/absent"), dir + "/x", sha256_hex("")); });
  EXPECT_NE(message.find("404"), std::string::npos) << message;
  EXPECT_NE(message.find("/absent"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir + "/x"));
  message = error_of([&] {
    download_verified(server.url("/data/file.jsonl"), dir + "/y", sha256_hex("0123456789"), /*max_bytes=*/4);
  });
  EXPECT_NE(message.find("larger than 4 bytes"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir + "/y"));
  // Nothing listens on port 1.
  EXPECT_THROW(download_verified("http://127.0.0.1:1/x", dir + "/z", sha256_hex("")), lcte::Error);
  EXPECT_TRUE(no_partial_files(dir));
}

TEST(EvalDownload, ResolveUsesDataDirThenCacheThenDownloads) {
  std::string body = "{\"x\": 1}\n";
  LocalServer server(body);
  std::string dir = lcte::testing::temp_dir();
  DatasetFile file{"suite/file.jsonl", server.url("/data/file.jsonl"), sha256_hex(body)};
  DatasetLocations where;
  where.data_dirs = {dir + "/data"};
  where.cache_dir = dir + "/cache";

  std::string path = resolve_dataset(file, where);  // not local: downloaded into the cache
  EXPECT_EQ(path, dir + "/cache/suite/file.jsonl");
  EXPECT_EQ(server.hits(), 1);
  EXPECT_EQ(resolve_dataset(file, where), path);  // cached and verified: no second download
  EXPECT_EQ(server.hits(), 1);

  std::ofstream(path, std::ios::trunc) << "corrupted";  // a bad cache entry is fetched again
  EXPECT_EQ(resolve_dataset(file, where), path);
  EXPECT_EQ(server.hits(), 2);
  EXPECT_EQ(read_file(path), body);

  fs::create_directories(dir + "/data/suite");
  std::ofstream(dir + "/data/suite/file.jsonl") << "local copy";
  EXPECT_EQ(resolve_dataset(file, where), dir + "/data/suite/file.jsonl");  // data dir first
  EXPECT_EQ(server.hits(), 2);

  DatasetFile absent{"other/file.jsonl", server.url("/absent"), sha256_hex("")};
  where.allow_download = false;
  EXPECT_NE(error_of([&] { resolve_dataset(absent, where); }).find("not found"), std::string::npos);
}
