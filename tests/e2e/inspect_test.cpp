// `lcte inspect` on every GGUF in the shared data succeeds, and on truncated
// and byte-flipped copies fails with a message and a non-zero exit, never a
// signal.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "common/run_command.h"
#include "common/test_data.h"

namespace lcte {
namespace {

using testing::lcte_binary;
using testing::run_command;

std::vector<std::string> shared_ggufs() {
  std::vector<std::string> out;
  for (const char* sub : {"models", "tokenizer"}) {
    if (!std::filesystem::exists(testing::data_path(sub))) continue;
    for (const auto& e : std::filesystem::directory_iterator(testing::data_path(sub)))
      if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(InspectCommand, SucceedsOnEverySharedGguf) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  std::string dir = testing::temp_dir();
  for (const std::string& path : shared_ggufs()) {
    auto r = run_command({lcte_binary(), "inspect", path}, dir);
    EXPECT_EQ(r.exit_code, 0) << path << ": " << r.err;
    EXPECT_NE(r.out.find("tensors ("), std::string::npos) << path;
  }
}

TEST(InspectCommand, JsonHasTheTensorsAndHyperParameters) {
  LCTE_REQUIRE_DATA("models/rand-qwen2-d256-q4_k_m.gguf");
  std::string dir = testing::temp_dir();
  auto r =
      run_command({lcte_binary(), "inspect", "--json", testing::data_path("models/rand-qwen2-d256-q4_k_m.gguf")}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "qwen2");
  EXPECT_EQ(j["file_type"], "Q4_K_M");
  EXPECT_EQ(j["hyper_parameters"]["attention.head_count_kv"], 2);
  EXPECT_EQ(j["tensors"].size(), 26u);  // qwen2, 2 layers, tied embeddings: no output.weight
  uint64_t params = 0;
  for (const auto& t : j["tensors"]) {
    uint64_t n = 1;
    for (const auto& d : t["shape"]) n *= d.get<uint64_t>();
    params += n;
  }
  EXPECT_EQ(j["parameters"].get<uint64_t>(), params);
}

TEST(InspectCommand, TruncatedAndFlippedCopiesFailCleanly) {
  LCTE_REQUIRE_DATA("models/stories260K-q4_k_m.gguf");
  std::string dir = testing::temp_dir();
  std::mt19937 rng(42);
  int failures = 0, runs = 0;
  for (const std::string& path : shared_ggufs()) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::string copy = dir + "/bad.gguf";
    // Truncations: inside the header, the metadata, and the tensor data.
    for (size_t len : {size_t{3}, size_t{20}, bytes.size() / 7, bytes.size() / 2, bytes.size() - 1}) {
      std::ofstream(copy, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(len));
      auto r = run_command({lcte_binary(), "inspect", copy}, dir);
      ++runs;
      EXPECT_EQ(r.signal, 0) << path << " cut to " << len;
      EXPECT_EQ(r.exit_code, 1) << path << " cut to " << len;
      EXPECT_NE(r.err.find("bad.gguf: "), std::string::npos) << r.err;
    }
    // Byte flips in the header region: must exit 0 or 1 with a message, never a signal.
    for (int k = 0; k < 4; ++k) {
      std::vector<char> flipped = bytes;
      size_t span = std::min<size_t>(flipped.size(), 4096);
      for (int i = 0; i < 3; ++i) flipped[rng() % span] ^= static_cast<char>(1 << (rng() % 8));
      std::ofstream(copy, std::ios::binary).write(flipped.data(), static_cast<std::streamsize>(flipped.size()));
      auto r = run_command({lcte_binary(), "inspect", copy}, dir);
      ++runs;
      EXPECT_EQ(r.signal, 0) << path << " flipped";
      EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << path << " flipped: exit " << r.exit_code;
      if (r.exit_code == 1) {
        ++failures;
        EXPECT_NE(r.err.find("lcte: error: "), std::string::npos) << r.err;
      }
    }
  }
  EXPECT_GT(runs, 100);
  EXPECT_GT(failures, 0);
}

TEST(InspectCommand, MissingFileAndUnknownFlag) {
  std::string dir = testing::temp_dir();
  auto r = run_command({lcte_binary(), "inspect", "/nonexistent.gguf"}, dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent.gguf: cannot open"), std::string::npos) << r.err;
  r = run_command({lcte_binary(), "inspect", "--no-such-flag", "x.gguf"}, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
}

}  // namespace
}  // namespace lcte
