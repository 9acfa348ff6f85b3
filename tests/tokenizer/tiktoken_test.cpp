// tiktoken encodings against the official tiktoken: the shared HumanEval
// vectors (encode_ordinary of the npm package tiktoken 1.0.22) and edge cases
// whose expected ids the same package produced (tiktoken_cases.h, written by
// bench/tokenizer/tiktoken-ref/make_vectors.cjs). When node and that package
// are installed, LiveReference.* also asks it directly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "common/error_of.h"
#include "common/run_command.h"
#include "common/test_data.h"
#include "core/error.h"
#include "tokenizer/tiktoken.h"
#include "tokenizer/tiktoken_cases.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lcte::tokenizer {
namespace {

using lcte::testing::error_of;

namespace fs = std::filesystem;

const char* kIdsFile = "tokenizer/tiktoken/humaneval-tiktoken-ids.jsonl";

std::string rank_file(const std::string& name) { return "tokenizer/tiktoken/" + name + ".tiktoken"; }

// Loading takes a moment (200k ranks); each encoding is loaded once per run.
const Tokenizer& encoding(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& t = loaded[name];
  if (!t) t = std::make_unique<Tokenizer>(load_tokenizer(testing::data_path(rank_file(name))));
  return *t;
}

std::vector<Token> ids_of(const std::vector<int>& v) { return std::vector<Token>(v.begin(), v.end()); }

const std::vector<int>& expected(const tiktoken_cases::Case& c, const std::string& name) {
  return name == "cl100k_base"  ? c.cl100k_base
         : name == "o200k_base" ? c.o200k_base
         : name == "p50k_base"  ? c.p50k_base
                                : c.r50k_base;
}

class Encodings : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!testing::data_exists(rank_file(GetParam())))
      GTEST_SKIP() << "data file absent: " << testing::data_path(rank_file(GetParam()));
  }
  const Tokenizer& tok() const { return encoding(GetParam()); }
};

TEST_P(Encodings, HumanEvalVectorsExactly) {
  LCTE_REQUIRE_DATA(kIdsFile);
  if (GetParam() != "cl100k_base" && GetParam() != "o200k_base")
    GTEST_SKIP() << "the vectors hold cl100k_base and o200k_base";
  std::ifstream in(testing::data_path(kIdsFile));
  size_t lines = 0, tokens = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    const std::string text = j["text"];
    const std::vector<Token> want = j[GetParam()].get<std::vector<Token>>();
    ASSERT_EQ(tok().tokenize(text, /*add_special=*/true), want) << "line " << lines + 1;
    EXPECT_EQ(tok().count_tokens(text), want.size());
    EXPECT_EQ(tok().detokenize(want), text);
    tokens += want.size();
  }
  EXPECT_EQ(lines, 204u);
  EXPECT_GT(tokens, 25000u);
}

TEST_P(Encodings, EdgeCasesExactly) {
  for (const auto& c : tiktoken_cases::cases()) {
    std::string text;
    for (int i = 0; i < c.repeat; ++i) text.append(c.text, c.text_bytes);
    const auto& want = expected(c, GetParam());
    EXPECT_EQ(tok().tokenize(text, false), ids_of(want)) << c.name;
    EXPECT_EQ(tok().count_tokens(text), want.size()) << c.name;
    EXPECT_EQ(tok().detokenize(ids_of(want)), text) << c.name;
  }
}

TEST_P(Encodings, SpecialTokensOnlyWhenParsed) {
  const std::string text = tiktoken_cases::kSpecialText;
  const std::string& name = GetParam();
  const auto& want = name == "cl100k_base"  ? tiktoken_cases::kSpecialCl100k
                     : name == "o200k_base" ? tiktoken_cases::kSpecialO200k
                     : name == "p50k_base"  ? tiktoken_cases::kSpecialP50k
                                            : tiktoken_cases::kSpecialR50k;
  EXPECT_EQ(tok().tokenize(text, false, /*parse_special=*/true), ids_of(want));
  EXPECT_EQ(tok().count_tokens(text, SIZE_MAX, true), want.size());
  // Unparsed, "<|endoftext|>" is text (the edge case "endoftext as plain text" checks its ids).
  const std::vector<Token> plain = tok().tokenize(text, false);
  const Token eot = tok().vocab().find("<|endoftext|>");
  ASSERT_NE(eot, kNoToken);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  EXPECT_TRUE(tok().is_eog(eot));
  EXPECT_EQ(tok().token_to_piece(eot), "<|endoftext|>");
  EXPECT_EQ(tok().token_to_piece(eot, /*special=*/false), "");
  EXPECT_EQ(tok().bos(), kNoToken);  // tiktoken adds nothing
  EXPECT_EQ(tok().tokenize("hi", /*add_special=*/true), tok().tokenize("hi", false));
}

// The encoder takes a piece that is a token's text as that token without
// asking its kind: special and unused tokens' texts must never be one piece.
TEST_P(Encodings, SpecialAndUnusedTextsAreNeverOnePiece) {
  size_t checked = 0;
  for (Token id = 0; id < Token(tok().n_tokens()); ++id) {
    if (tok().vocab().attr(id) & kAttrNormal) continue;
    const std::vector<Token> ids = tok().tokenize(tok().vocab().text(id), false);
    EXPECT_GT(ids.size(), 1u) << tok().vocab().text(id);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), id), 0) << tok().vocab().text(id);
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

TEST_P(Encodings, InvalidUtf8IsReplacedLikeAStrictDecoder) {
  // Each maximal ill-formed subsequence becomes one U+FFFD: a stray
  // continuation byte, a truncated 3-byte sequence, an overlong form, an
  // encoded surrogate, a byte above F4, a sequence cut by the end.
  const std::string bad = "a\x80 b\xE2\x82 c\xC0\xAF d\xED\xA0\x80 e\xFF f\xF0\x9F\x98";
  const std::string fffd = "\xEF\xBF\xBD";
  const std::string good =
      "a" + fffd + " b" + fffd + " c" + fffd + fffd + " d" + fffd + fffd + fffd + " e" + fffd + " f" + fffd;
  EXPECT_EQ(tok().tokenize(bad, false), tok().tokenize(good, false));
  EXPECT_EQ(tok().count_tokens(bad), tok().tokenize(good, false).size());
}

// Any bytes: the ids spell the text back (ill-formed UTF-8 as U+FFFD), with
// or without special tokens parsed, and counting agrees with tokenizing.
TEST_P(Encodings, RandomBytesRoundTrip) {
  std::mt19937 rng(7);
  const std::string alphabet[] = {"a",
                                  "Z",
                                  " ",
                                  "\n",
                                  "\r",
                                  "'",
                                  "s",
                                  "1",
                                  ".",
                                  "\xC3\xA9",
                                  "\xE6\xBC\xA2",
                                  "\xF0\x9F\x98\x80",
                                  "\xE2\x80\x8D",
                                  "\xC2\xA0",
                                  "<|endoftext|>",
                                  "<|",
                                  "\x80",
                                  "\xFF",
                                  "\xE6\xBC",
                                  "\x00"};
  for (int n = 0; n < 400; ++n) {
    std::string text;
    const int len = int(rng() % 40);
    for (int k = 0; k < len; ++k)
      text += rng() % 4 == 0 ? std::string(1, char(rng() & 0xFF)) : alphabet[rng() % std::size(alphabet)];
    const std::string fixed = replace_invalid_utf8(text);
    for (bool special : {false, true}) {
      const std::vector<Token> ids = tok().tokenize(text, false, special);
      ASSERT_EQ(tok().detokenize(ids, false, /*unparse_special=*/true), fixed) << ::testing::PrintToString(text);
      ASSERT_EQ(tok().count_tokens(text, SIZE_MAX, special), ids.size());
    }
  }
}

TEST_P(Encodings, CountingStopsPastTheBound) {
  LCTE_REQUIRE_DATA(kIdsFile);
  std::ifstream in(testing::data_path(kIdsFile));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string text = j["text"];
    const size_t n = tok().tokenize(text, false).size();
    for (size_t bound : {size_t(0), size_t(1), n / 2, n - 1, n, n + 1, size_t(150)}) {
      const size_t got = tok().count_tokens(text, bound);
      if (n <= bound) {
        EXPECT_EQ(got, n);
      } else {
        EXPECT_GT(got, bound);
        EXPECT_LE(got, n);
        // It stops at the first piece that passes the bound: a piece is at most a few dozen tokens here.
        EXPECT_LE(got, bound + 64);
      }
    }
  }
}

// route::count_tokens_up_to counts prefixes that end before a space following
// an ASCII letter or digit; for these encodings that is where a piece ends,
// so a prefix's tokens are the first tokens of the whole text.
TEST_P(Encodings, PrefixesBeforeASpaceAfterAWordAreTokenPrefixes) {
  LCTE_REQUIRE_DATA(kIdsFile);
  std::ifstream in(testing::data_path(kIdsFile));
  size_t checked = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string text = j["text"];
    const std::vector<Token> whole = tok().tokenize(text, false);
    for (size_t p = 1; p < text.size(); ++p) {
      if (text[p] != ' ' || !std::isalnum(static_cast<unsigned char>(text[p - 1]))) continue;
      if (++checked % 7 != 0) continue;  // every 7th cut point keeps the test quick
      const std::vector<Token> prefix = tok().tokenize(text.substr(0, p), false);
      ASSERT_LE(prefix.size(), whole.size());
      ASSERT_TRUE(std::equal(prefix.begin(), prefix.end(), whole.begin())) << "cut at " << p << " of: " << text;
    }
  }
  EXPECT_GT(checked, 1000u);
}

TEST_P(Encodings, ThreadsShareOneTokenizer) {
  const auto& cases = tiktoken_cases::cases();
  const Tokenizer& shared = tok();  // loaded here, before the threads share it
  auto check = [&](size_t start, int* failures) {
    for (size_t k = 0; k < cases.size(); ++k) {
      const auto& c = cases[(start + k) % cases.size()];
      std::string text;
      for (int i = 0; i < c.repeat; ++i) text.append(c.text, c.text_bytes);
      const auto& want = expected(c, GetParam());
      if (shared.tokenize(text, false) != ids_of(want)) ++*failures;
    }
  };
  int failures[4] = {0, 0, 0, 0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) threads.emplace_back(check, t * 7, &failures[t]);
  for (auto& t : threads) t.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// p50k_base and r50k_base run where their rank files are in the data directory.
INSTANTIATE_TEST_SUITE_P(Tiktoken, Encodings, ::testing::Values("cl100k_base", "o200k_base", "p50k_base", "r50k_base"));

// The published routing rule: up to 150 cl100k_base tokens is simple. Of the
// 164 HumanEval prompts (the first 164 lines of the vectors file), 47 are above.
TEST(TiktokenRouting, HumanEvalPromptsSplit47Above150) {
  LCTE_REQUIRE_DATA(rank_file("cl100k_base"));
  LCTE_REQUIRE_DATA(kIdsFile);
  std::ifstream in(testing::data_path(kIdsFile));
  size_t above = 0, at_most = 0, line_no = 0;
  for (std::string line; std::getline(in, line) && line_no < 164; ++line_no) {
    const std::string text = nlohmann::json::parse(line)["text"];
    (encoding("cl100k_base").count_tokens(text, 150) > 150 ? above : at_most)++;
  }
  EXPECT_EQ(above, 47u);
  EXPECT_EQ(at_most, 117u);
}

TEST(TiktokenVocab, Cl100kShape) {
  LCTE_REQUIRE_DATA(rank_file("cl100k_base"));
  const Tokenizer& t = encoding("cl100k_base");
  EXPECT_EQ(t.vocab().type(), VocabType::kTiktoken);
  EXPECT_EQ(t.vocab().pre(), "cl100k_base");
  EXPECT_EQ(t.n_tokens(), 100277u);  // ranks 0..100255, specials up to 100276
  EXPECT_EQ(t.vocab().find("<|endofprompt|>"), 100276);
  EXPECT_EQ(t.vocab().fim_pre(), 100258);
  EXPECT_EQ(t.token_to_piece(100256), "");  // no token has this id
  EXPECT_EQ(t.tokenize("<|unused rank 100256|>", false, true), t.tokenize("<|unused rank 100256|>", false));
  EXPECT_EQ(t.token_to_piece(t.tokenize(" hello", false).at(0)), " hello");  // pieces are the raw bytes
}

// Rank files written here to exercise the loader's checks.
class RankFiles : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir(); }
  std::string write(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << body;
    return path;
  }
  // All 256 single bytes at ranks 0..255, then `extra`.
  static std::string bytes_file(const std::string& extra = "") {
    static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string s;
    for (int b = 0; b < 256; ++b)
      s += std::string{b64[b >> 2], b64[(b & 3) << 4], '=', '='} + " " + std::to_string(b) + "\n";
    return s + extra;
  }
  std::string dir_;
};

TEST_F(RankFiles, MinimalFileMergesByRank) {
  // "ab" (rank 300) and "bc" (rank 256): "abc" joins b+c first, then a+"bc" is no token.
  const std::string path = write("r50k_base.tiktoken", bytes_file("YmM= 256\nYWI= 300\n"));
  const Tokenizer t = load_tokenizer(path);
  EXPECT_EQ(t.tokenize("abc", false), (std::vector<Token>{'a', 256}));
  EXPECT_EQ(t.tokenize("ab", false), (std::vector<Token>{300}));
  EXPECT_EQ(t.n_tokens(), 50257u);  // up to r50k_base's <|endoftext|> 50256
  EXPECT_EQ(t.tokenize("<|endoftext|>", false, true), (std::vector<Token>{50256}));
}

// llama.cpp's detection of special tokens by their text ("<EOT>", "<PAD>") does
// not apply: a tiktoken encoding names its special tokens.
TEST_F(RankFiles, OrdinaryTokensThatLookSpecialStayOrdinary) {
  const std::string path = write("r50k_base.tiktoken", bytes_file("PEVPVD4= 256\nPFBBRD4= 257\n"));  // "<EOT>", "<PAD>"
  const Tokenizer t = load_tokenizer(path);
  EXPECT_EQ(t.vocab().attr(256), uint32_t(kAttrNormal));
  EXPECT_EQ(t.vocab().attr(257), uint32_t(kAttrNormal));
  EXPECT_FALSE(t.is_eog(256));
  EXPECT_TRUE(t.is_eog(50256));
  // With special tokens parsed, "<EOT>" is still text (cut by the pattern into "<", "EOT", ">").
  EXPECT_EQ(t.tokenize("<EOT>", false, true), (std::vector<Token>{'<', 'E', 'O', 'T', '>'}));
}

TEST_F(RankFiles, BadFilesNameFileAndLine) {
  std::string p = write("cl100k_base.tiktoken", bytes_file("not*base64 300\n"));
  EXPECT_NE(error_of([&] { load_tokenizer(p); }).find(p + ":257: 'not*base64' is not base64"), std::string::npos);
  p = write("cl100k_base.tiktoken", bytes_file("YWI= x\n"));
  EXPECT_NE(error_of([&] { load_tokenizer(p); }).find(":257: rank 'x' is not an integer"), std::string::npos);
  p = write("cl100k_base.tiktoken", bytes_file("YWI= 3\n"));
  EXPECT_NE(error_of([&] { load_tokenizer(p); }).find(":257: rank 3 is given twice"), std::string::npos);
  p = write("cl100k_base.tiktoken", bytes_file("YWI=\n"));
  EXPECT_NE(error_of([&] { load_tokenizer(p); }).find(":257: expected 'base64 rank'"), std::string::npos);
  p = write("cl100k_base.tiktoken", "YQ== 0\n");
  EXPECT_NE(error_of([&] { load_tokenizer(p); }).find("no token for the byte 0x00"), std::string::npos);
  p = write("cl100k_base.tiktoken", bytes_file("YWI= 100257\n"));
  EXPECT_NE(error_of([&] {
              load_tokenizer(p);
            }).find("rank 100257 is an ordinary token, but cl100k_base uses it for <|endoftext|>"),
            std::string::npos);
  p = write("cl100k_base.tiktoken", bytes_file("YQ== 300\n"));
  EXPECT_NE(error_of([&] { load_tokenizer(p); }).find("token 300 has the same text as token 97 ('a')"),
            std::string::npos);
  p = write("cl100k_base.tiktoken", "");
  EXPECT_NE(error_of([&] { load_tokenizer(p); }).find("no tokens"), std::string::npos);
}

TEST_F(RankFiles, EncodingFromFileNameOrContent) {
  const std::string unknown = write("mine.tiktoken", bytes_file());
  const std::string e = error_of([&] { load_tokenizer(unknown); });
  EXPECT_NE(e.find("not a known tiktoken encoding"), std::string::npos) << e;
  LCTE_REQUIRE_DATA(rank_file("cl100k_base"));
  // The published file under another name is still cl100k_base: its sha256 says so.
  const std::string renamed = dir_ + "/renamed.tiktoken";
  fs::copy_file(testing::data_path(rank_file("cl100k_base")), renamed);
  EXPECT_EQ(tiktoken_encoding_of_file(renamed).name, "cl100k_base");
}

// An encoding's name finds its rank file in the data directories or the cache.
TEST_F(RankFiles, NamesResolveThroughDataDirectoryAndCache) {
  const char* old_data = std::getenv("LCTE_DATA_DIR");
  const std::string saved_data = old_data ? old_data : "";
  const std::string shared = testing::data_dir();
  const bool have_file = testing::data_exists(rank_file("cl100k_base"));
  const std::string cwd = fs::current_path().string();
  fs::current_path(dir_);  // so that ../shared/data does not resolve from here
  ::setenv("XDG_CACHE_HOME", (dir_ + "/cache").c_str(), 1);
  ::setenv("LCTE_DATA_DIR", (dir_ + "/nothing").c_str(), 1);
  const std::string e = error_of([] { load_tokenizer("cl100k_base"); });
  EXPECT_NE(e.find("run `lcte data fetch cl100k_base`"), std::string::npos) << e;
  EXPECT_NE(e.find(dir_ + "/cache/lcte/datasets/tokenizer/tiktoken/cl100k_base.tiktoken"), std::string::npos) << e;
  if (have_file) {
    ::setenv("LCTE_DATA_DIR", shared.c_str(), 1);
    EXPECT_EQ(load_tokenizer("cl100k_base").tokenize("hello world", false), (std::vector<Token>{15339, 1917}));
    // A cached copy with the wrong sum is not used.
    ::setenv("LCTE_DATA_DIR", (dir_ + "/nothing").c_str(), 1);
    fs::create_directories(dir_ + "/cache/lcte/datasets/tokenizer/tiktoken");
    write("cache/lcte/datasets/tokenizer/tiktoken/cl100k_base.tiktoken", bytes_file());
    EXPECT_NE(error_of([] { load_tokenizer("cl100k_base"); }).find("lcte data fetch"), std::string::npos);
    fs::copy_file(shared + "/" + rank_file("cl100k_base"),
                  dir_ + "/cache/lcte/datasets/tokenizer/tiktoken/cl100k_base.tiktoken",
                  fs::copy_options::overwrite_existing);
    EXPECT_EQ(load_tokenizer("cl100k_base").tokenize("hello world", false), (std::vector<Token>{15339, 1917}));
  }
  EXPECT_NE(error_of([] { load_tokenizer("cl99k_base"); }).find("cl99k_base"), std::string::npos);
  fs::current_path(cwd);
  if (old_data)
    ::setenv("LCTE_DATA_DIR", saved_data.c_str(), 1);
  else
    ::unsetenv("LCTE_DATA_DIR");
  ::unsetenv("XDG_CACHE_HOME");
}

// With node and the npm package installed (bench/tokenizer/tiktoken-ref:
// npm ci), random texts are compared with the official tiktoken live, for
// every encoding whose rank file is in the data directory.
TEST(LiveReference, RandomTextsAgreeWithNpmTiktoken) {
  const std::string ref_dir = std::string(LCTE_SOURCE_DIR) + "/bench/tokenizer/tiktoken-ref";
  if (!fs::exists(ref_dir + "/node_modules/tiktoken"))
    GTEST_SKIP() << "npm tiktoken absent: cd " << ref_dir << " && npm ci";
  std::vector<std::string> names;
  for (const char* name : {"cl100k_base", "o200k_base", "p50k_base", "r50k_base"})
    if (testing::data_exists(rank_file(name))) names.push_back(name);
  if (names.empty()) GTEST_SKIP() << "no tiktoken rank file in " << testing::data_dir();
  const std::string dir = testing::temp_dir();
  auto r = testing::run_command({"node", ref_dir + "/random_texts.cjs", "300", "20250101"}, dir);
  if (r.exit_code != 0) GTEST_SKIP() << "node could not run the reference: " << r.err;
  size_t n = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    const std::string text = j["text"];
    for (const std::string& name : names)
      ASSERT_EQ(encoding(name).tokenize(text, false), j[name].get<std::vector<Token>>())
          << name << " on " << j["text"].dump();
  }
  EXPECT_EQ(n, 300u);
}

}  // namespace
}  // namespace lcte::tokenizer
