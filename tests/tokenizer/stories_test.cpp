// The tok512 vocabulary of Karpathy's stories260K, two ways: the GGUF that
// llama.cpp's convert-llama2c-to-ggml made from it and the original llama2.c
// tokenizer.bin. Both must give llama-tokenize's ids
// (reference/tokenize/stories260K.tokenize.json).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#include "common/test_data.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace lcte::tokenizer {
namespace {

struct RefCase {
  std::string text;
  bool add_bos, parse_special;
  std::vector<Token> ids;
};

std::vector<RefCase> reference_cases() {
  std::ifstream in(testing::data_path("reference/tokenize/stories260K.tokenize.json"));
  nlohmann::json j = nlohmann::json::parse(in);
  std::vector<RefCase> out;
  for (const auto& c : j.at("cases"))
    out.push_back({c.at("text"), c.at("add_bos"), c.at("parse_special"), c.at("ids").get<std::vector<Token>>()});
  return out;
}

void expect_reference(const Tokenizer& tok, const char* what) {
  auto cases = reference_cases();
  ASSERT_GE(cases.size(), 20u);
  for (const RefCase& c : cases) {
    EXPECT_EQ(tok.tokenize(c.text, c.add_bos, c.parse_special), c.ids)
        << what << ": '" << c.text << "' add_bos=" << c.add_bos << " parse_special=" << c.parse_special;
    if (!c.parse_special && !c.add_bos) {
      // SentencePiece with byte fallback loses nothing: the text comes back.
      EXPECT_EQ(tok.detokenize(c.ids), c.text) << what;
    }
  }
}

TEST(Stories260K, GgufVocabMatchesLlamaTokenize) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  LCTE_REQUIRE_DATA("reference/tokenize/stories260K.tokenize.json");
  Tokenizer tok = load_tokenizer(testing::data_path("models/stories260K-f32.gguf"));
  expect_reference(tok, "stories260K-f32.gguf");
}

TEST(Stories260K, Llama2cTokenizerBinMatchesLlamaTokenize) {
  LCTE_REQUIRE_DATA("models/tok512.bin");
  LCTE_REQUIRE_DATA("reference/tokenize/stories260K.tokenize.json");
  Tokenizer tok = load_tokenizer(testing::data_path("models/tok512.bin"));
  EXPECT_EQ(tok.n_tokens(), 512u);
  expect_reference(tok, "tok512.bin");
}

TEST(Stories260K, BinAndGgufGiveTheSameVocabulary) {
  LCTE_REQUIRE_DATA("models/tok512.bin");
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  Vocab bin = load_vocab_from_llama2c(testing::data_path("models/tok512.bin"));
  gguf::File f = gguf::File::open(testing::data_path("models/stories260K-f32.gguf"));
  Vocab gg = load_vocab_from_gguf(f);
  ASSERT_EQ(bin.n_tokens(), gg.n_tokens());
  for (Token id = 0; id < Token(gg.n_tokens()); ++id) {
    EXPECT_EQ(bin.text(id), gg.text(id)) << id;
    EXPECT_EQ(bin.score(id), gg.score(id)) << id;
    EXPECT_EQ(bin.attr(id), gg.attr(id)) << id;
  }
  EXPECT_EQ(bin.bos(), 1);
  EXPECT_EQ(bin.eos(), 2);
  EXPECT_EQ(bin.unk(), 0);
  EXPECT_TRUE(bin.is_eog(2));
  EXPECT_FALSE(bin.is_eog(1));
}

// The greedy continuation the model card documents, token by token: pieces
// joined (first one without its leading space) give the documented text.
TEST(Stories260K, PiecesOfTheGreedyStoryGiveItsText) {
  LCTE_REQUIRE_DATA("models/stories260K.greedy256.expected.tokens.txt");
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  Tokenizer tok = load_tokenizer(testing::data_path("models/stories260K-f32.gguf"));
  std::ifstream ids_in(testing::data_path("models/stories260K.greedy256.expected.tokens.txt"));
  std::vector<Token> ids;
  for (Token id; ids_in >> id;) ids.push_back(id);
  ASSERT_EQ(ids.size(), 256u);
  std::ifstream text_in(testing::data_path("models/stories260K.greedy256.expected.txt"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(text_in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(tok.detokenize(ids), text);
}

TEST(Llama2cLoader, RejectsTruncatedAndImplausibleFiles) {
  LCTE_REQUIRE_DATA("models/tok512.bin");
  std::ifstream in(testing::data_path("models/tok512.bin"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string dir = testing::temp_dir();
  auto write = [&](const std::string& name, const std::string& data) {
    std::ofstream(dir + "/" + name, std::ios::binary) << data;
    return dir + "/" + name;
  };
  // Cut inside the text of a token.
  std::string cut = write("cut.bin", bytes.substr(0, bytes.size() - 3));
  try {
    load_vocab_from_llama2c(cut);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cut.bin"), std::string::npos) << e.what();
  }
  // A token longer than the declared maximum.
  std::string bad = bytes;
  int32_t huge = 1 << 24;
  std::memcpy(&bad[4 + 4], &huge, 4);  // length of token 0
  EXPECT_THROW(load_vocab_from_llama2c(write("bad.bin", bad)), Error);
  // Asking for more tokens than the file has.
  EXPECT_THROW(load_vocab_from_llama2c(testing::data_path("models/tok512.bin"), 513), Error);
  EXPECT_EQ(load_vocab_from_llama2c(testing::data_path("models/tok512.bin"), 300).n_tokens(), 300u);
  EXPECT_THROW(load_vocab_from_llama2c(write("empty.bin", "")), Error);
}

}  // namespace
}  // namespace lcte::tokenizer
