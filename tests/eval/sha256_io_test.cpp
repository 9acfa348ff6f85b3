#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/test_data.h"
#include "core/error.h"
#include "core/sha256.h"
#include "eval/io.h"

using namespace lcte;
using namespace lcte::eval;

TEST(EvalSha256, Fips180Vectors) {
  // FIPS 180-4 / NIST CAVP examples.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; i++) million.update(chunk);
  EXPECT_EQ(million.finish_hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(EvalSha256, SplitUpdatesEqualOneUpdate) {
  std::string text;
  for (int i = 0; i < 1000; i++) text += char('a' + i % 26);
  for (size_t cut : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 999u}) {
    Sha256 hash;
    hash.update(std::string_view(text).substr(0, cut));
    hash.update(std::string_view(text).substr(cut));
    EXPECT_EQ(hash.finish_hex(), sha256_hex(text)) << "cut at " << cut;
  }
}

TEST(EvalSha256, DataFilesMatchPublishedSums) {
  // shared/data/SHA256SUMS was made with sha256sum, independently of this code.
  LCTE_REQUIRE_DATA("SHA256SUMS");
  std::ifstream sums(lcte::testing::data_path("SHA256SUMS"));
  std::string line;
  int checked = 0;
  while (std::getline(sums, line)) {
    std::istringstream fields(line);
    std::string sum, name;
    fields >> sum >> name;
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    if (name.rfind("humaneval/", 0) != 0 && name.rfind("mbpp/", 0) != 0) continue;
    EXPECT_EQ(sha256_file_hex(lcte::testing::data_path(name)), sum) << name;
    checked++;
  }
  EXPECT_EQ(checked, 4);  // HumanEval, MBPP, sanitized MBPP, MBPP README
}

TEST(EvalIo, GzipRoundTripAndCorruption) {
  std::string dir = lcte::testing::temp_dir();
  std::string text = "line one\nline two\n";
  std::string path = dir + "/x.txt";
  std::ofstream(path) << text;
  ASSERT_EQ(std::system(("gzip -k " + path).c_str()), 0);
  EXPECT_EQ(read_gzip_file(path + ".gz"), text);
  EXPECT_EQ(read_maybe_gzip(path + ".gz"), text);
  EXPECT_EQ(read_maybe_gzip(path), text);

  std::string gz = read_file(path + ".gz");
  std::ofstream(dir + "/trunc.gz", std::ios::binary) << gz.substr(0, gz.size() / 2);
  try {
    read_gzip_file(dir + "/trunc.gz");
    FAIL() << "truncated gzip accepted";
  } catch (const lcte::Error& e) {
    EXPECT_NE(std::string(e.what()).find("trunc.gz"), std::string::npos) << e.what();
  }
  std::string flipped = gz;
  flipped[gz.size() / 2] ^= 0x55;
  std::ofstream(dir + "/flip.gz", std::ios::binary) << flipped;
  EXPECT_THROW(read_gzip_file(dir + "/flip.gz"), lcte::Error);
  EXPECT_THROW(read_file(dir + "/absent"), lcte::Error);
  // The size cap holds for decompressed data too.
  EXPECT_THROW(read_gzip_file(path + ".gz", 8), lcte::Error);
}

TEST(EvalIo, LinesAndNewlines) {
  auto lines = split_lines("a\r\nb\n\nc");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "a");
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(lines[3], "c");
  EXPECT_EQ(normalize_newlines("x\r\ny\r\nz\r"), "x\ny\nz\n");  // a lone CR ends a line in Python too
}
