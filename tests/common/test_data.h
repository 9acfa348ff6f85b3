// Tests reach ../shared/data through LCTE_DATA_DIR (default: the folder beside
// the checkout). A test whose file is absent skips and names the file.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace lcte::testing {

inline std::string data_dir() {
  const char* env = std::getenv("LCTE_DATA_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(LCTE_DEFAULT_DATA_DIR);
}

inline std::string data_path(const std::string& relative) { return data_dir() + "/" + relative; }

inline bool data_exists(const std::string& relative) { return std::filesystem::exists(data_path(relative)); }

// A fresh empty directory under the system temp dir, unique per test.
inline std::string temp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name =
      std::string("lcte-test-") + info->test_suite_name() + "-" + info->name() + "-" + std::to_string(::getpid());
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace lcte::testing

// Skips the current test unless data file `rel` (relative to the data dir) exists.
#define LCTE_REQUIRE_DATA(rel)                                                                           \
  do {                                                                                                   \
    if (!::lcte::testing::data_exists(rel))                                                              \
      GTEST_SKIP() << "data file absent: " << ::lcte::testing::data_path(rel) << " (set LCTE_DATA_DIR)"; \
  } while (0)
