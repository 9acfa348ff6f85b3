#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_data.h"
#include "core/error.h"
#include "core/file.h"

namespace fs = std::filesystem;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir); it != fs::directory_iterator(); ++it) ++n;
  return n;
}

}  // namespace

TEST(WriteFileAtomic, ReplacesTheWholeFileAndLeavesNoTemporary) {
  std::string dir = lcte::testing::temp_dir();
  std::string path = dir + "/out.json";
  lcte::write_file_atomic(path, "first version, longer than the second\n");
  lcte::write_file_atomic(path, {"second", std::string_view("\0bin", 4), "\n"});
  EXPECT_EQ(read(path), std::string("second\0bin\n", 11));
  EXPECT_EQ(entries(dir), 1u);
}

TEST(WriteFileAtomic, AFailureNamesTheFileAndKeepsTheOldContents) {
  std::string dir = lcte::testing::temp_dir();
  // A directory where the file should go: the rename fails.
  std::string blocked = dir + "/blocked";
  fs::create_directories(blocked + "/inside");
  try {
    lcte::write_file_atomic(blocked, "text");
    FAIL() << "no error";
  } catch (const lcte::Error& e) {
    EXPECT_NE(std::string(e.what()).find(blocked), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(blocked + "/inside"));
  EXPECT_EQ(entries(dir), 1u);  // no temporary left behind
  // A folder that does not exist: the temporary cannot be created.
  EXPECT_THROW(lcte::write_file_atomic(dir + "/missing/out.txt", "x"), lcte::Error);
}
