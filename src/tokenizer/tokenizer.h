// Text <-> token ids, exactly as llama.cpp (commit c392e50, Feb 2025) does it,
// for the three tokenizer models GGUF files use for LLMs:
//  - "llama" (SentencePiece-style BPE by score: Llama 2, CodeLlama, Mistral,
//    TinyLlama, phi-3, baichuan): spaces become U+2581, a space is prefixed,
//    symbol pairs are merged highest score first, characters without a token
//    fall back to <0xXX> byte tokens;
//  - "gpt2" (byte-level BPE: Llama 3, Qwen 2, DeepSeek, StarCoder, GPT-2,
//    Falcon, MPT...): a regex pre-tokenizer picked by tokenizer.ggml.pre cuts
//    the text into words, bytes map to printable characters, pairs are merged
//    by rank;
//  - "bert" (WordPiece): lowercased, accents stripped, greedy longest match;
// and OpenAI's tiktoken encodings (cl100k_base, o200k_base...), exactly as
// tiktoken encodes: byte-level BPE by rank on raw bytes (tokenizer/tiktoken.h).
//
// A Tokenizer is immutable after construction; all methods are const and
// thread-safe, so several threads can share one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace lcte::tokenizer {

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  explicit Tokenizer(std::shared_ptr<const Vocab> vocab);

  // add_special: add BOS (and EOS) as the vocabulary asks (BERT: [CLS] ... [SEP]).
  // parse_special: control tokens written in the text ("<|im_end|>", "<s>")
  // become their single ids. User-defined tokens are always matched as units,
  // as in llama.cpp and Hugging Face.
  std::vector<Token> tokenize(std::string_view text, bool add_special, bool parse_special = false) const;

  // How many ids tokenize(text, false, parse_special) returns, counting no
  // further than needed to know it is more than `stop_above`: the result is
  // exact when it is at most stop_above, else a number above stop_above
  // (the text has at least that many tokens). tiktoken encodings stop
  // encoding there (the pattern's pieces are final as they are found, so the
  // cost follows the tokens counted, not the text's length); the other
  // tokenizers count the whole text.
  size_t count_tokens(std::string_view text, size_t stop_above = SIZE_MAX, bool parse_special = false) const;

  // A token's text. special=false renders control and unknown tokens as "".
  std::string token_to_piece(Token id, bool special = true) const;
  // The text of a token sequence, as llama_detokenize: the first token loses
  // the space the tokenizer prefixed (SentencePiece), byte tokens are joined
  // into UTF-8, and for most byte-level BPE models spaces before punctuation
  // are tidied (" ," -> ","). remove_special drops a leading BOS and trailing
  // EOS when the vocabulary adds them; unparse_special prints control tokens.
  std::string detokenize(std::span<const Token> ids, bool remove_special = false, bool unparse_special = false) const;

  const Vocab& vocab() const { return *vocab_; }
  size_t n_tokens() const { return vocab_->n_tokens(); }
  Token bos() const { return vocab_->bos(); }
  Token eos() const { return vocab_->eos(); }
  Token eot() const { return vocab_->eot(); }
  Token eom() const { return vocab_->eom(); }
  bool is_eog(Token id) const { return vocab_->is_eog(id); }

 private:
  struct Fragment {
    Token token;  // a special token, or kNoToken for text
    uint32_t offset, length;
  };
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  void tokenize_spm(std::string_view text, std::vector<Token>& out) const;
  void tokenize_bpe(std::string_view text, std::vector<Token>& out) const;
  void tokenize_wpm(std::string_view text, std::vector<Token>& out) const;
  // Appends the tokens of `text`, stopping once `out` holds more than `stop_above`.
  void tokenize_tiktoken(std::string_view text, std::vector<Token>& out, size_t stop_above) const;
  void tiktoken_piece(std::string_view bytes, std::vector<Token>& out) const;
  struct BpeScratch;
  void bpe_word(const std::vector<uint32_t>& cps, Piece piece, BpeScratch& scratch, std::vector<Token>& out) const;

  std::shared_ptr<const Vocab> vocab_;
  PreTokenizer pre_;
};

// Opens a tokenizer from
//  - a GGUF model (its tokenizer.ggml.* metadata);
//  - a path ending in .bin: a llama2.c tokenizer.bin;
//  - a path ending in .tiktoken: an OpenAI rank file (the encoding is the one
//    its file name says, else the one whose published file has its sha256);
//  - a tiktoken encoding's name (cl100k_base, o200k_base, p50k_base,
//    r50k_base) that is not a file here: its rank file in the data
//    directories or the user's cache (see tokenizer/tiktoken.h).
Tokenizer load_tokenizer(const std::string& spec);

}  // namespace lcte::tokenizer
