// The data registry and `fetch_dataset` against a local mirror: an
// in-process HTTP server on 127.0.0.1 serving a temp dir laid out like the
// data directory, reached through the base-URL override. Real registry
// entries are fetched, so their pinned sums are checked against the files in
// the shared data.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/error_of.h"
#include "common/test_data.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/datasets.h"
#include "data/local_mirror.h"

namespace lcte::data {
namespace {

using lcte::testing::error_of;

namespace fs = std::filesystem;
using testing::LocalMirror;

const DatasetFile& entry(const std::string& name) {
  const DatasetFile* f = find_dataset(name);
  if (f == nullptr) throw std::runtime_error("no registry entry " + name);
  return *f;
}

TEST(DataRegistry, EntriesAreWellFormed) {
  std::set<std::string> names, paths;
  for (const DatasetFile& f : known_datasets()) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_TRUE(paths.insert(f.relative_path).second) << f.relative_path;
    EXPECT_EQ(f.url.rfind("https://", 0), 0u) << f.url;
    ASSERT_EQ(f.sha256.size(), 64u) << f.name;
    for (char c : f.sha256) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(c)) << f.name;
  }
  for (const char* name :
       {"humaneval", "mbpp", "mbpp-sanitized", "cl100k_base", "o200k_base", "p50k_base", "r50k_base"})
    EXPECT_NE(find_dataset(name), nullptr) << name;
  EXPECT_EQ(find_dataset("nope"), nullptr);
  EXPECT_EQ(&humaneval_dataset(), find_dataset("humaneval"));
  EXPECT_EQ(source_url(entry("cl100k_base"), "http://m/x//"), "http://m/x/tokenizer/tiktoken/cl100k_base.tiktoken");
  EXPECT_EQ(source_url(entry("cl100k_base")),
            "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken");
}

// The pins agree with the published files kept in the shared data (their sums are in SOURCES.md).
TEST(DataRegistry, SharedCopiesHaveThePinnedSums) {
  size_t checked = 0;
  for (const DatasetFile& f : known_datasets()) {
    if (!testing::data_exists(f.relative_path)) continue;
    EXPECT_EQ(sha256_file_hex(testing::data_path(f.relative_path)), f.sha256) << f.relative_path;
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no registry file in " << testing::data_dir();
}

class Fetch : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::temp_dir();
    mirror_dir_ = root_ + "/mirror";
    dest_ = root_ + "/dest";
  }
  // Puts the shared copy of `name` into the mirror (skips the test when absent).
  bool stock(const std::string& name) {
    const DatasetFile& f = entry(name);
    if (!testing::data_exists(f.relative_path)) return false;
    fs::create_directories(fs::path(mirror_dir_ + "/" + f.relative_path).parent_path());
    fs::copy_file(testing::data_path(f.relative_path), mirror_dir_ + "/" + f.relative_path);
    return true;
  }
  // Not the file, no partial download, not even the directories made for it.
  bool nothing_left(const DatasetFile&) const { return !fs::exists(dest_); }
  std::string root_, mirror_dir_, dest_;
};

TEST_F(Fetch, DownloadsVerifiesAndKeepsGoodCopies) {
  if (!stock("humaneval") || !stock("cl100k_base"))
    GTEST_SKIP() << "shared data files absent in " << testing::data_dir();
  LocalMirror mirror(mirror_dir_);
  for (const char* name : {"humaneval", "cl100k_base"}) {
    const DatasetFile& f = entry(name);
    EXPECT_EQ(fetch_dataset(f, dest_, mirror.url()), FetchOutcome::kDownloaded);
    EXPECT_EQ(sha256_file_hex(dest_ + "/" + f.relative_path), f.sha256);
  }
  EXPECT_EQ(mirror.hits(), 2);
  // A verified copy is kept; a damaged one is replaced.
  EXPECT_EQ(fetch_dataset(entry("humaneval"), dest_, mirror.url()), FetchOutcome::kAlreadyPresent);
  EXPECT_EQ(mirror.hits(), 2);
  std::ofstream(dest_ + "/" + entry("humaneval").relative_path, std::ios::trunc) << "damaged";
  EXPECT_EQ(fetch_dataset(entry("humaneval"), dest_, mirror.url()), FetchOutcome::kDownloaded);
  EXPECT_EQ(sha256_file_hex(dest_ + "/" + entry("humaneval").relative_path), entry("humaneval").sha256);
  EXPECT_EQ(mirror.hits(), 3);
}

TEST_F(Fetch, WrongSumLeavesNothing) {
  const DatasetFile& f = entry("o200k_base");
  fs::create_directories(fs::path(mirror_dir_ + "/" + f.relative_path).parent_path());
  std::ofstream(mirror_dir_ + "/" + f.relative_path) << "IQ== 0\n";  // a rank file, but not the published one
  LocalMirror mirror(mirror_dir_);
  const std::string e = error_of([&] { fetch_dataset(f, dest_, mirror.url()); });
  EXPECT_NE(e.find("sha256 mismatch: expected " + f.sha256 + ", got " + sha256_hex("IQ== 0\n")), std::string::npos)
      << e;
  EXPECT_NE(e.find(mirror.url() + "/" + f.relative_path), std::string::npos) << e;
  EXPECT_TRUE(nothing_left(f));
}

TEST_F(Fetch, NotFoundLeavesNothing) {
  fs::create_directories(mirror_dir_);
  LocalMirror mirror(mirror_dir_);
  const DatasetFile& f = entry("mbpp");
  const std::string e = error_of([&] { fetch_dataset(f, dest_, mirror.url()); });
  EXPECT_NE(e.find("HTTP status 404"), std::string::npos) << e;
  EXPECT_NE(e.find("/mbpp/mbpp.jsonl"), std::string::npos) << e;
  EXPECT_TRUE(nothing_left(f));
}

TEST_F(Fetch, TruncatedTransferLeavesNothing) {
  if (!stock("humaneval")) GTEST_SKIP() << "shared HumanEval absent in " << testing::data_dir();
  LocalMirror mirror(mirror_dir_, /*truncate=*/true);  // announces the full length, sends half, closes
  const DatasetFile& f = entry("humaneval");
  const std::string e = error_of([&] { fetch_dataset(f, dest_, mirror.url()); });
  EXPECT_NE(e.find("download failed"), std::string::npos) << e;
  EXPECT_EQ(e.find("sha256"), std::string::npos) << "cut short, not a wrong file: " << e;
  EXPECT_TRUE(nothing_left(f));
}

}  // namespace
}  // namespace lcte::data
