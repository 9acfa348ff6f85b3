// Pre-tokenizer splits, with expectations worked out by hand from each regex
// (leftmost alternative wins, quantifiers greedy with backtracking, unmatched
// runs between matches kept as pieces).
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace lcte::tokenizer {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(const std::string& pre, const std::string& text) {
  PreTokenizer pt(pre_tokenizer_spec(pre).regexes);
  std::vector<uint32_t> cps = decode_utf8(text);
  std::vector<Piece> pieces;
  pt.split(cps, pieces);
  Pieces out;
  uint32_t expect_begin = 0;
  for (Piece p : pieces) {
    EXPECT_EQ(p.begin, expect_begin) << "pieces must tile the text";
    expect_begin = p.end;
    std::string s;
    for (uint32_t i = p.begin; i < p.end; ++i) append_utf8(s, cps[i]);
    out.push_back(s);
  }
  EXPECT_EQ(expect_begin, cps.size());
  return out;
}

TEST(Llama3Split, ContractionsAnyCase) {
  EXPECT_EQ(split("llama-bpe", "I'm here"), (Pieces{"I", "'m", " here"}));
  EXPECT_EQ(split("llama-bpe", "DON'T we'LL"), (Pieces{"DON", "'T", " we", "'LL"}));
  // Not a contraction: the apostrophe leads the letters that follow.
  EXPECT_EQ(split("llama-bpe", "'xyz"), (Pieces{"'xyz"}));
}

TEST(Llama3Split, DigitsInGroupsOfAtMostThree) {
  EXPECT_EQ(split("llama-bpe", "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(split("llama-bpe", "abc123def"), (Pieces{"abc", "123", "def"}));
  EXPECT_EQ(split("llama-bpe", "x 12"), (Pieces{"x", " ", "12"}));  // a space never joins digits
}

TEST(Llama3Split, WhitespaceAndNewlines) {
  // "\s*[\r\n]+" ends at the last newline of a run; "\s+(?!\S)" leaves the
  // last space to the word after it; a lone space before a digit is \s+.
  EXPECT_EQ(split("llama-bpe", "x = 1\n\n  y"), (Pieces{"x", " =", " ", "1", "\n\n", " ", " y"}));
  EXPECT_EQ(split("llama-bpe", "a \n b"), (Pieces{"a", " \n", " b"}));
  EXPECT_EQ(split("llama-bpe", "a   "), (Pieces{"a", "   "}));
  EXPECT_EQ(split("llama-bpe", "hello!!!\n\nworld"), (Pieces{"hello", "!!!\n\n", "world"}));
  // Non-ASCII white space (U+3000) counts as white space.
  EXPECT_EQ(split("llama-bpe",
                  "a\xE3\x80\x80\xE3\x80\x80"
                  "b"),
            (Pieces{"a", "\xE3\x80\x80",
                    "\xE3\x80\x80"
                    "b"}));
}

TEST(Llama3Split, LettersIncludeCjkAndOnePrefixCharacter) {
  EXPECT_EQ(split("llama-bpe",
                  "\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8"
                  "apple"),
            (Pieces{"\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8"
                    "apple"}));
  EXPECT_EQ(split("llama-bpe", "(foo)"), (Pieces{"(foo", ")"}));
  EXPECT_EQ(split("llama-bpe", "\nfoo"), (Pieces{"\n", "foo"}));  // a newline never prefixes a word
}

TEST(Qwen2Split, SingleDigits) {
  EXPECT_EQ(split("qwen2", "1234"), (Pieces{"1", "2", "3", "4"}));
  EXPECT_EQ(split("qwen2", "I'm 42"), (Pieces{"I", "'m", " ", "4", "2"}));
}

TEST(Gpt2Split, ClassicRules) {
  EXPECT_EQ(split("gpt-2", "Hello world's 123  x"), (Pieces{"Hello", " world", "'s", " 123", " ", " x"}));
  // No "\s+" alternative: a lone newline before a word is an unmatched run.
  EXPECT_EQ(split("gpt-2", "a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(split("gpt-2", "DON'T"), (Pieces{"DON", "'", "T"}));  // contractions are lowercase only
}

TEST(SequentialSplit, DeepseekCoderAndStarcoder) {
  // [\r\n], then \s?\p{L}+, \s?\p{P}+, CJK, \p{N}, each on what is left.
  EXPECT_EQ(split("deepseek-coder", "x=12 ab\n"), (Pieces{"x", "=", "1", "2", " ab", "\n"}));
  EXPECT_EQ(split("starcoder", "a123b"), (Pieces{"a", "1", "2", "3", "b"}));
}

TEST(SequentialSplit, FalconGroupsThreeDigitsAfterPunctuation) {
  // [\p{P}$+<=>^~|`]+ first, then the GPT-2 rules, then [0-9]{3}.
  // " 12345" survives the first two; the third cuts "123" out of it, and the
  // space before it becomes a piece of its own.
  EXPECT_EQ(split("falcon", "a+b 12345"), (Pieces{"a", "+", "b", " ", "123", "45"}));
  EXPECT_EQ(split("falcon", "12345"), (Pieces{"123", "45"}));
}

TEST(SplitEdgeCases, SurrogatesAndEmptyText) {
  // An encoded surrogate (accepted by llama.cpp's decoder) is \p{C}: a piece of its own.
  EXPECT_EQ(split("gpt-2",
                  "a\xED\xA0\x80"
                  "b"),
            (Pieces{"a", "\xED\xA0\x80", "b"}));
  EXPECT_EQ(split("gpt-2", ""), Pieces{});
}

TEST(RegexTranslation, WhiteSpaceClassAndDollar) {
  const std::string ws =
      R"(\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  EXPECT_EQ(translate_regex(R"(\s+(?!\S))"), "[" + ws + "]+(?![^" + ws + "])");
  EXPECT_EQ(translate_regex(R"([^\s\p{L}])"), "[^" + ws + R"(\p{L}])");
  EXPECT_EQ(translate_regex(R"(\x{3000}\\s)"), R"(\x{3000}\\s)");  // an escaped backslash, then a letter s
  EXPECT_THROW(translate_regex(R"([\S])"), Error);
  // U+180E is White_Space for PCRE2's \s but not for Unicode (nor llama.cpp).
  PreTokenizer ws_only({R"(\s+)"});
  std::vector<uint32_t> cps = {'a', 0x180E, ' ', 'b'};
  std::vector<Piece> pieces;
  ws_only.split(cps, pieces);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[1].begin, 2u);
  // $ is the end of the piece only, not before a final newline.
  PreTokenizer dollar({"x$"});
  std::vector<uint32_t> xn = {'x', '\n'};
  pieces.clear();
  dollar.split(xn, pieces);
  EXPECT_EQ(pieces.size(), 1u);
}

TEST(PreTokenizerSpec, NamesAndFlags) {
  EXPECT_TRUE(pre_tokenizer_spec("llama-bpe").ignore_merges);
  EXPECT_TRUE(pre_tokenizer_spec("llama3").add_bos);
  EXPECT_FALSE(pre_tokenizer_spec("qwen2").clean_spaces);
  EXPECT_TRUE(pre_tokenizer_spec("gpt-2").clean_spaces);
  EXPECT_FALSE(pre_tokenizer_spec("deepseek-coder").clean_spaces);
  EXPECT_EQ(pre_tokenizer_spec("").regexes, pre_tokenizer_spec("default").regexes);
  try {
    pre_tokenizer_spec("no-such-pre");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos);
  }
  // Every known name compiles.
  for (const char* name :
       {"default",   "llama3", "dbrx",      "chatglm-bpe", "deepseek-llm", "deepseek-coder", "deepseek-v3", "falcon",
        "gpt-2",     "mpt",    "starcoder", "refact",      "command-r",    "smollm",         "qwen2",       "stablelm2",
        "poro-chat", "bloom",  "viking",    "tekken",      "chameleon",    "exaone",         "minerva-7b"})
    EXPECT_NO_THROW(PreTokenizer(pre_tokenizer_spec(name).regexes)) << name;
}

}  // namespace
}  // namespace lcte::tokenizer
