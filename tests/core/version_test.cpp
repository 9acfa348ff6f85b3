#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "core/version.h"

// The version is the project's, plus the commit when built from a git
// checkout: a stored run names the code that produced it.
TEST(Version, IsTheProjectVersionPlusTheCommitItWasBuiltFrom) {
  std::string v = lcte::version();
  if (std::filesystem::exists(std::string(LCTE_SOURCE_DIR) + "/.git")) {
    // Untagged: PROJECT_VERSION+g<commit>; from a tag vX.Y.Z: X.Y.Z[-N-g<commit>].
    std::smatch m;
    ASSERT_TRUE(
        std::regex_match(v, m, std::regex(R"((\d+\.\d+\.\d+)(\+g[0-9a-f]{7,40}|-\d+-g[0-9a-f]{7,40}|)(-dirty)?)")))
        << v;
    if (m[2].str().rfind("+g", 0) == 0) {
      EXPECT_EQ(m[1].str(), LCTE_PROJECT_VERSION) << v;
    }
  } else {
    EXPECT_EQ(v, LCTE_PROJECT_VERSION);
  }
}
