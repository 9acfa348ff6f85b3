// The tokenizers on tiny hand-made vocabularies, where every expected id
// sequence is worked out by hand, plus special tokens, detokenization rules,
// errors, thread safety and the Unicode helpers.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lcte::tokenizer {
namespace {

using Ids = std::vector<Token>;
const std::string kSp = "\xE2\x96\x81";  // U+2581
const std::string kG = "\xC4\xA0";       // U+0120, byte-level BPE's space

// SPM: ids 0..11 (see the comments for scores).
VocabData spm_data() {
  VocabData d;
  d.model = "llama";
  d.tokens = {"<unk>", "<s>", "</s>", kSp, "a", "b", "ab", kSp + "a", "bb", "<0x63>", "<ctl>", "<ud>", "aa"};
  d.scores = {0, 0, 0, -1, -2, -2, -1.5f, -0.5f, -0.1f, 0, 0, 0, -1};
  d.token_types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 6, 3, 4, 1};
  return d;
}

TEST(Spm, MergesHighestScoreFirst) {
  Tokenizer tok{Vocab(spm_data())};
  // "\u2581abb": pairs "\u2581a" -0.5, "ab" -1.5, "bb" -0.1. "bb" first, then
  // "\u2581a"; "ab" is stale by then; "abb" and "\u2581abb" are not tokens.
  EXPECT_EQ(tok.tokenize("abb", false), (Ids{7, 8}));
}

TEST(Spm, EqualScoresMergeLeftmostFirst) {
  VocabData d = spm_data();
  d.add_space_prefix = false;
  Tokenizer tok{Vocab(d)};
  EXPECT_EQ(tok.tokenize("aaa", false), (Ids{12, 4}));  // "aa" + "a", not "a" + "aa"
}

TEST(Spm, TokensSpanningWordStartsAreHonoured) {
  EXPECT_TRUE(Vocab(spm_data()).spm_words_independent());
  VocabData d = spm_data();
  d.tokens.push_back("a" + kSp);  // id 13: a merge may now cross the start of a word
  d.scores.push_back(0);
  d.token_types.push_back(1);
  Vocab v(d);
  EXPECT_FALSE(v.spm_words_independent());
  // "\u2581a\u2581a": "a\u2581" (score 0) beats both "\u2581a" (-0.5).
  EXPECT_EQ(Tokenizer(std::move(v)).tokenize("a a", false), (Ids{3, 13, 4}));
  EXPECT_EQ(Tokenizer(Vocab(spm_data())).tokenize("a a", false), (Ids{7, 7}));
}

TEST(Spm, ByteFallbackThenUnknown) {
  Tokenizer tok{Vocab(spm_data())};
  EXPECT_EQ(tok.tokenize("c", false), (Ids{3, 9}));  // no "c": its byte token <0x63>
  EXPECT_EQ(tok.tokenize("d", false), (Ids{3, 0}));  // no "d", no <0x64>: <unk>
  EXPECT_EQ(tok.tokenize("", false), Ids{});
  EXPECT_EQ(tok.tokenize("", true), (Ids{1}));
}

TEST(Spm, SpecialTokens) {
  Tokenizer tok{Vocab(spm_data())};
  // A space is prefixed again after a special token.
  EXPECT_EQ(tok.tokenize("a<ctl>b", false, true), (Ids{7, 10, 3, 5}));
  // Without parse_special the control token is text: '<' 't' 'l' '>' have no token.
  EXPECT_EQ(tok.tokenize("a<ctl>b", false, false), (Ids{7, 0, 9, 0, 0, 0, 5}));
  // User-defined tokens are matched either way.
  EXPECT_EQ(tok.tokenize("a<ud>b", false, false), (Ids{7, 11, 3, 5}));
  EXPECT_EQ(tok.tokenize("ab", true), (Ids{1, 7, 5}));
  VocabData d = spm_data();
  d.add_eos = true;
  d.add_bos = false;
  EXPECT_EQ(Tokenizer(Vocab(d)).tokenize("ab", true), (Ids{7, 5, 2}));
}

TEST(Spm, DetokenizeLeadingSpaceAndSpecials) {
  Tokenizer tok{Vocab(spm_data())};
  EXPECT_EQ(tok.detokenize(Ids{7, 8}), "abb");      // the prefixed space goes
  EXPECT_EQ(tok.detokenize(Ids{1, 7, 8}), " abb");  // ... but BOS took its place (llama.cpp)
  EXPECT_EQ(tok.detokenize(Ids{1, 7, 8}, true), " abb");
  EXPECT_EQ(tok.detokenize(Ids{1, 7, 8}, false, true), "<s> abb");
  EXPECT_EQ(tok.detokenize(Ids{3, 9, 11}), "c<ud>");  // byte token 'c'; user-defined printed as is
  EXPECT_EQ(tok.token_to_piece(1, false), "");
  EXPECT_EQ(tok.token_to_piece(1, true), "<s>");
  EXPECT_EQ(tok.token_to_piece(9), "c");
  EXPECT_EQ(tok.token_to_piece(7), " a");
  EXPECT_THROW(tok.token_to_piece(13), Error);
  EXPECT_THROW(tok.detokenize(Ids{-1}), Error);
}

// BPE: ranks "a b" 0, "ab c" 1, "\u0120 a" 2, "\u0120a b" 3.
VocabData bpe_data(const std::string& pre = "gpt-2") {
  VocabData d;
  d.model = "gpt2";
  d.pre = pre;
  d.tokens = {"a", "b", "c", kG, "ab", "abc", kG + "a", "<|endoftext|>", kG + "ab", "ca"};
  d.merges = {"a b", "ab c", kG + " a", kG + "a b"};
  return d;
}

TEST(Bpe, MergesLowestRankFirst) {
  Tokenizer tok{Vocab(bpe_data())};
  // " ab": pairs (\u0120,a) rank 2 and (a,b) rank 0; "ab" first, and
  // (\u0120, ab) is no merge. Merging left to right would give "\u0120ab".
  EXPECT_EQ(tok.tokenize(" ab", false), (Ids{3, 4}));
  EXPECT_EQ(tok.tokenize("abc ab", false), (Ids{5, 3, 4}));
  // "d" is no token and no byte token: llama.cpp drops it.
  EXPECT_EQ(tok.tokenize("d", false), Ids{});
  EXPECT_EQ(tok.tokenize("ca", false), (Ids{2, 0}));  // no merge "c a"
}

TEST(Bpe, IgnoreMergesTakesWholeWordTokens) {
  Tokenizer tok{Vocab(bpe_data("llama-bpe"))};
  EXPECT_EQ(tok.tokenize("ca", false), (Ids{9}));
  // Llama 3 adds BOS, but this vocabulary has none (default id 11 > size).
  EXPECT_THROW(tok.tokenize("ca", true), Error);
}

TEST(Bpe, EndOfTurnDetectedByText) {
  Vocab v(bpe_data());
  EXPECT_EQ(v.eot(), 7);
  EXPECT_TRUE(v.is_eog(7));
  EXPECT_FALSE(v.is_eog(5));
  EXPECT_EQ(v.bos(), kNoToken);
  EXPECT_TRUE(v.attr(7) & kAttrControl);
  Tokenizer tok{std::move(v)};
  EXPECT_EQ(tok.tokenize("a<|endoftext|>", false, true), (Ids{0, 7}));
  EXPECT_EQ(tok.token_to_piece(6), " a");
}

TEST(VocabErrors, NameTheProblem) {
  auto message = [](VocabData d) -> std::string {
    try {
      Vocab v(std::move(d), "x.gguf");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  VocabData d = spm_data();
  d.model = "t5";
  EXPECT_NE(message(d).find("'t5'"), std::string::npos) << message(d);
  d = spm_data();
  d.tokens[5] = "a";
  EXPECT_NE(message(d).find("same text"), std::string::npos) << message(d);
  d = spm_data();
  d.scores.pop_back();
  EXPECT_NE(message(d).find("scores"), std::string::npos) << message(d);
  d = spm_data();
  d.tokens.clear();
  d.scores.clear();
  d.token_types.clear();
  EXPECT_NE(message(d).find("no tokens"), std::string::npos) << message(d);
  d = bpe_data();
  d.merges.clear();
  EXPECT_NE(message(d).find("merges"), std::string::npos) << message(d);
  d = bpe_data("unheard-of");
  EXPECT_NE(message(d).find("unknown pre-tokenizer type: 'unheard-of'"), std::string::npos) << message(d);
  EXPECT_NE(message(d).find("x.gguf"), std::string::npos) << message(d);
  // Out-of-range special ids keep the default, as in llama.cpp.
  d = spm_data();
  d.bos_id = 0xFFFFFFFFu;
  d.eos_id = 11;
  Vocab v(d);
  EXPECT_EQ(v.bos(), 1);
  EXPECT_EQ(v.eos(), 11);
}

TEST(GgufLoader, ErrorsNameTheFileAndKey) {
  std::string dir = testing::temp_dir();
  {
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::string("llama"));
    w.write(dir + "/none.gguf");
  }
  gguf::File none = gguf::File::open(dir + "/none.gguf");
  try {
    load_vocab_from_gguf(none);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model"), std::string::npos) << e.what();
  }
  {
    gguf::Writer w;
    w.set("tokenizer.ggml.model", gguf::Value::string("llama"));
    w.set("tokenizer.ggml.tokens", gguf::Value::i32_array({1, 2, 3}));
    w.write(dir + "/ints.gguf");
  }
  gguf::File ints = gguf::File::open(dir + "/ints.gguf");
  try {
    load_vocab_from_gguf(ints);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.tokens"), std::string::npos) << e.what();
  }
}

TEST(Detokenize, CleanUpSpacesAsHuggingFace) {
  const std::string rel = "tokenizer/ggml-vocab-gpt-2.gguf";
  LCTE_REQUIRE_DATA(rel);
  Tokenizer tok = load_tokenizer(testing::data_path(rel));
  // Pass 1 drops the space in " ," " !"; pass 2 turns " ' " into "'"; pass 3
  // drops it before 'm 're (not 't).
  auto ids = tok.tokenize("a , b ! c 'm d ' e 're f 't", false);
  EXPECT_EQ(tok.detokenize(ids), "a, b! c'm d'e're f 't");
  // DeepSeek does not clean up.
  const std::string ds = "tokenizer/ggml-vocab-deepseek-coder.gguf";
  LCTE_REQUIRE_DATA(ds);
  Tokenizer dtok = load_tokenizer(testing::data_path(ds));
  EXPECT_EQ(dtok.detokenize(dtok.tokenize("a , b", false)), "a , b");
}

TEST(SpecialTokens, RealVocabularies) {
  LCTE_REQUIRE_DATA("tokenizer/ggml-vocab-phi-3.gguf");
  LCTE_REQUIRE_DATA("tokenizer/ggml-vocab-mpt.gguf");
  LCTE_REQUIRE_DATA("tokenizer/ggml-vocab-llama-spm.gguf");
  // phi-3 ("Phi3"): special tokens eat the white space after them (rstrip).
  Tokenizer phi = load_tokenizer(testing::data_path("tokenizer/ggml-vocab-phi-3.gguf"));
  const Token end = phi.vocab().find("<|end|>");
  ASSERT_NE(end, kNoToken);
  EXPECT_EQ(phi.eot(), end);
  EXPECT_TRUE(phi.is_eog(end));
  EXPECT_TRUE(phi.is_eog(phi.eos()));
  Ids want{end};
  for (Token t : phi.tokenize("hi", false)) want.push_back(t);
  EXPECT_EQ(phi.tokenize("<|end|>\n  hi", false, true), want);
  // Llama 2 has no rstrip: the white space stays text.
  Tokenizer spm = load_tokenizer(testing::data_path("tokenizer/ggml-vocab-llama-spm.gguf"));
  Ids eos_hi = spm.tokenize("</s>\n  hi", false, true);
  ASSERT_GE(eos_hi.size(), 2u);
  EXPECT_EQ(eos_hi[0], 2);
  EXPECT_NE(Ids(eos_hi.begin() + 1, eos_hi.end()), spm.tokenize("hi", false));
  // MPT's runs of spaces are user-defined tokens, matched longest first even
  // without parse_special: 30 spaces = 24 + 6.
  Tokenizer mpt = load_tokenizer(testing::data_path("tokenizer/ggml-vocab-mpt.gguf"));
  const Token s24 = mpt.vocab().find(std::string(24, ' ')), s6 = mpt.vocab().find(std::string(6, ' '));
  ASSERT_NE(s24, kNoToken);
  ASSERT_NE(s6, kNoToken);
  Ids ids = mpt.tokenize("x" + std::string(30, ' ') + "y", false, false);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[1], s24);
  EXPECT_EQ(ids[2], s6);
}

TEST(Tokenizer, ThreadsShareOneTokenizer) {
  const std::string rel = "tokenizer/ggml-vocab-gpt-2.gguf";
  LCTE_REQUIRE_DATA(rel);
  const Tokenizer tok = load_tokenizer(testing::data_path(rel));
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i)
    texts.push_back("def f" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i * 37) + "  # ok\n");
  std::vector<Ids> expected;
  for (const auto& t : texts) expected.push_back(tok.tokenize(t, true));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < texts.size(); ++i)
          if (tok.tokenize(texts[(i + t) % texts.size()], true) != expected[(i + t) % texts.size()]) ++mismatches[t];
    });
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(Unicode, DecodeLikeLlamaCpp) {
  // Valid, overlong (accepted), truncated (U+FFFD per bad byte), stray continuation.
  EXPECT_EQ(decode_utf8("a\xC3\xA9"), (std::vector<uint32_t>{'a', 0xE9}));
  EXPECT_EQ(decode_utf8("\xC0\x80"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(decode_utf8("\xE2\x82"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  EXPECT_EQ(decode_utf8("\x80z"), (std::vector<uint32_t>{0xFFFD, 'z'}));
  EXPECT_EQ(decode_utf8("\xF0\x9F\x98\x81"), (std::vector<uint32_t>{0x1F601}));
  EXPECT_EQ(decode_utf8("\xF4\x90\x80\x80"), (std::vector<uint32_t>{0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}));  // > U+10FFFF
  for (uint32_t cp : {0x41u, 0xE9u, 0x20ACu, 0x1F601u})
    EXPECT_EQ(decode_utf8(cp_to_utf8(cp)), std::vector<uint32_t>{cp});
}

TEST(Unicode, ByteAlphabetIsABijection) {
  std::set<uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    uint32_t cp = byte_to_cp(uint8_t(b));
    EXPECT_EQ(cp_to_byte(cp), b);
    seen.insert(cp);
  }
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_EQ(byte_to_cp(' '), 0x120u);  // "\u0120" is GPT-2's space
  EXPECT_EQ(byte_to_cp('\n'), 0x10Au);
  EXPECT_EQ(byte_to_cp('A'), uint32_t('A'));
  EXPECT_EQ(cp_to_byte(0x4E00), -1);
}

TEST(Unicode, Tables) {
  EXPECT_EQ(cp_flags('A'), kCpLetter);
  EXPECT_EQ(cp_flags(0xBD), kCpNumber);         // one half
  EXPECT_EQ(cp_flags(0x2013), kCpPunctuation);  // en dash
  EXPECT_EQ(cp_flags('$'), kCpSymbol);
  EXPECT_EQ(cp_flags(0x301), kCpMark);      // combining acute
  EXPECT_EQ(cp_flags(0x200D), kCpControl);  // zero width joiner (Cf)
  EXPECT_EQ(cp_flags(0x4E00), kCpLetter);
  EXPECT_EQ(cp_flags(0x110000), 0);
  EXPECT_TRUE(cp_is_whitespace(0x3000));
  EXPECT_TRUE(cp_is_whitespace('\t'));
  EXPECT_FALSE(cp_is_whitespace(0x180E));
  EXPECT_FALSE(cp_is_whitespace(0x1C));
  EXPECT_EQ(cp_to_lower('A'), uint32_t('a'));
  EXPECT_EQ(cp_to_lower(0xC4), 0xE4u);             // Ä
  EXPECT_EQ(cp_to_lower(0x130), uint32_t('i'));    // İ lowercases to i + combining dot
  EXPECT_EQ(cp_nfd_first(0xE9), uint32_t('e'));    // é
  EXPECT_EQ(cp_nfd_first(0x1EED), uint32_t('u'));  // ử
  EXPECT_EQ(cp_nfd_first('x'), uint32_t('x'));
}

}  // namespace
}  // namespace lcte::tokenizer

namespace lcte::tokenizer {
namespace {

// Random bytes, random fragments of special tokens and random ids: no crash,
// no hang, and every id in range. (Not a conformance check: see the vectors.)
TEST(Robustness, RandomInputsNeverBreakTheTokenizers) {
  std::vector<std::string> files;
  for (const char* name : {"llama-spm", "gpt-2", "deepseek-llm", "bert-bge", "mpt"}) {
    std::string rel = std::string("tokenizer/ggml-vocab-") + name + ".gguf";
    if (testing::data_exists(rel)) files.push_back(testing::data_path(rel));
  }
  if (files.empty()) GTEST_SKIP() << "no vocabulary files";
  std::mt19937 rng(1234);
  const std::vector<std::string> bits = {"<s>",          "</s>",  "<|endoftext|>", "  ",       "\n",
                                         "\xE2\x96\x81", "'s",    "123",           "\xF0\x9F", "\x80",
                                         "\xED\xA0\x80", "[CLS]", "<unk>",         "\t\t",     "x"};
  for (const std::string& path : files) {
    Tokenizer tok = load_tokenizer(path);
    for (int round = 0; round < 150; ++round) {
      std::string s;
      int parts = int(rng() % 12);
      for (int k = 0; k < parts; ++k) {
        if (rng() % 2)
          s += bits[rng() % bits.size()];
        else
          for (int b = int(rng() % 6); b > 0; --b) s += char(rng() % 256);
      }
      for (bool special : {false, true}) {
        Ids ids = tok.tokenize(s, special, special);
        for (Token id : ids) ASSERT_TRUE(id >= 0 && size_t(id) < tok.n_tokens()) << path;
        tok.detokenize(ids, special, special);
      }
      Ids random_ids;
      for (int k = int(rng() % 20); k > 0; --k) random_ids.push_back(Token(rng() % tok.n_tokens()));
      tok.detokenize(random_ids, round % 2, round % 3);
    }
  }
}

}  // namespace
}  // namespace lcte::tokenizer
