// A tokenizer vocabulary, built from plain data so that the tokenizer does not
// depend on any file format. The loaders (GGUF tokenizer.ggml.* metadata and
// llama2.c tokenizer.bin) only fill a VocabData.
//
// Building a Vocab applies llama.cpp's rules (llama-vocab.cpp, load()): the
// default special ids of each tokenizer model, the flags each pre-tokenizer
// implies, the detection of end-of-turn tokens by their text, the end-of-
// generation set, and the order in which special tokens are matched. So two
// files that llama.cpp tokenizes alike give equal Vocabs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/hash_index.h"

namespace lcte::gguf {
class File;
}

namespace lcte::tokenizer {

using Token = int32_t;
constexpr Token kNoToken = -1;

// Token types as stored in GGUF (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Token attribute bits (llama.cpp's llama_token_attr values).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
  kAttrNormalized = 1 << 6,
  kAttrLstrip = 1 << 7,  // a matched special token eats the whitespace before it
  kAttrRstrip = 1 << 8,  // ... and after it
};

enum class VocabType {
  kSpm,       // tokenizer.ggml.model "llama": SentencePiece-style, merges by score
  kBpe,       // "gpt2": byte-level BPE, merges by rank, regex pre-tokenizer
  kWpm,       // "bert": WordPiece, greedy longest match
  kTiktoken,  // "tiktoken": OpenAI's rank files, byte-level BPE by rank on raw bytes (tokenizer/tiktoken.h)
};

// Everything a tokenizer needs, as plain values. Optional fields are absent
// when the source does not say; the Vocab then applies llama.cpp's defaults.
struct VocabData {
  std::string model;  // "llama", "gpt2", "bert" or "tiktoken"
  std::string pre;    // pre-tokenizer name (tokenizer.ggml.pre; tiktoken: the encoding); "" when absent
  std::string name;   // model name (general.name); phi-3 models get one special rule
  std::vector<std::string> tokens;
  std::vector<float> scores;         // empty: all 0
  std::vector<int32_t> token_types;  // TokenType values; empty: all normal
  std::vector<std::string> merges;   // "left right"; rank = index (gpt2 only)
  std::optional<uint64_t> bos_id, eos_id, eot_id, eom_id, unknown_id, separator_id, padding_id, mask_id;
  std::optional<uint64_t> fim_pre_id, fim_suf_id, fim_mid_id, fim_pad_id, fim_rep_id, fim_sep_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
};

class Vocab {
 public:
  // Validates and derives the lookup tables. Throws lcte::Error naming
  // `source` (a file name, for messages) and what is wrong.
  explicit Vocab(VocabData data, const std::string& source = "vocab");

  VocabType type() const { return type_; }
  const std::string& model() const { return model_; }
  const std::string& pre() const { return pre_; }
  size_t n_tokens() const { return tokens_.size(); }

  const std::string& text(Token id) const { return tokens_[check(id)].text; }
  float score(Token id) const { return tokens_[check(id)].score; }
  uint32_t attr(Token id) const { return tokens_[check(id)].attr; }
  // The token whose text is exactly `s`, or kNoToken.
  Token find(std::string_view s) const {
    int32_t id = symbols_.find(s);
    return id >= 0 && size_t(id) < tokens_.size() ? id : kNoToken;
  }

  Token bos() const { return bos_; }
  Token eos() const { return eos_; }
  Token eot() const { return eot_; }
  Token eom() const { return eom_; }
  Token unk() const { return unk_; }
  Token sep() const { return sep_; }
  Token pad() const { return pad_; }
  Token mask() const { return mask_; }
  Token fim_pre() const { return fim_pre_; }
  Token fim_suf() const { return fim_suf_; }
  Token fim_mid() const { return fim_mid_; }
  // End of generation: EOS, EOT, EOM and the tokens llama.cpp treats alike.
  bool is_eog(Token id) const { return id >= 0 && size_t(id) < eog_.size() && eog_[id]; }
  std::vector<Token> eog_tokens() const;

  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  bool clean_spaces() const { return clean_spaces_; }
  bool ignore_merges() const { return ignore_merges_; }
  size_t max_token_len() const { return max_token_len_; }

  // Control, user-defined and unknown tokens, longest text first: the order in
  // which they are cut out of the text before tokenizing.
  const std::vector<Token>& special_tokens() const { return special_tokens_; }
  // The pre-tokenizer regexes (BPE), applied in order.
  const std::vector<std::string>& regexes() const { return regexes_; }
  // A token's text as it appears in output text, with control and unknown
  // tokens rendered as their text (llama.cpp's token_to_piece with special).
  const std::string& piece(Token id) const { return pieces_[check(id)]; }

  // BPE internals. Symbols are interned strings: ids below n_tokens() are the
  // tokens; higher ids are merge parts that are not tokens themselves.
  // tiktoken: byte_symbol is the token of a single byte, and merge(l, r)
  // gives the token whose bytes are l's then r's (its rank, which is its id).
  int32_t byte_symbol(uint8_t byte) const { return byte_symbols_[byte]; }
  Merge merge(int32_t left, int32_t right) const { return merges_.find(left, right); }
  std::string_view symbol_text(int32_t sym) const { return symbols_.text(sym); }
  size_t n_merges() const { return merges_.size(); }
  // SPM/WPM: the token for a raw byte ("<0xXX>", else the byte itself), or kNoToken.
  Token byte_token(uint8_t byte) const { return byte_tokens_[byte]; }
  // SPM: true when U+2581 occurs in tokens only at the start or in runs of
  // U+2581 alone, so that no token spans "x\u2581" and words merge independently.
  bool spm_words_independent() const { return spm_words_independent_; }

 private:
  struct TokenData {
    std::string text;
    float score = 0.0f;
    uint32_t attr = kAttrNormal;
  };

  size_t check(Token id) const;
  void set_type_and_defaults(const VocabData& d, const std::string& source);
  void load_tokens(VocabData& d, const std::string& source);
  void set_special_ids(const VocabData& d, const std::string& source);
  void detect_special_by_text();
  void build_eog();
  void build_special_list(const VocabData& d);
  void build_pieces();
  void build_bpe(const VocabData& d, const std::string& source);
  void build_tiktoken(const std::string& source);
  void build_byte_tokens();

  VocabType type_ = VocabType::kSpm;
  std::string model_, pre_;
  std::vector<TokenData> tokens_;
  TextIndex symbols_;
  size_t max_token_len_ = 0;

  Token bos_ = kNoToken, eos_ = kNoToken, eot_ = kNoToken, eom_ = kNoToken, unk_ = kNoToken, sep_ = kNoToken,
        pad_ = kNoToken, mask_ = kNoToken;
  Token fim_pre_ = kNoToken, fim_suf_ = kNoToken, fim_mid_ = kNoToken, fim_pad_ = kNoToken, fim_rep_ = kNoToken,
        fim_sep_ = kNoToken;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false, clean_spaces_ = false, ignore_merges_ = false,
       spm_words_independent_ = false;

  std::vector<bool> eog_;
  std::vector<Token> special_tokens_;
  std::vector<std::string> regexes_;
  std::vector<std::string> pieces_;
  PairIndex merges_;
  int32_t byte_symbols_[256] = {};
  Token byte_tokens_[256] = {};
};

// tokenizer.ggml.* metadata of a GGUF file as plain data. Throws lcte::Error
// naming the file and key when a key is missing or has the wrong type.
VocabData vocab_data_from_gguf(const gguf::File& file);
Vocab load_vocab_from_gguf(const gguf::File& file);

// A llama2.c tokenizer.bin: int32 max_token_length, then per token float32
// score, int32 length, bytes. Converted as llama.cpp's
// convert-llama2c-to-ggml does: ids 0/1/2 become <unk>/<s>/</s>, "<0xXX>" are
// byte tokens, spaces become U+2581, and the model is "llama". `n_tokens` is
// the vocabulary size (the model header's); 0 reads tokens until the file ends.
VocabData vocab_data_from_llama2c(const std::string& path, size_t n_tokens = 0);
Vocab load_vocab_from_llama2c(const std::string& path, size_t n_tokens = 0);

}  // namespace lcte::tokenizer
