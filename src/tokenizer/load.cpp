// Loaders: GGUF tokenizer.ggml.* metadata and llama2.c tokenizer.bin files,
// both turned into a VocabData.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "gguf/gguf.h"
#include "tokenizer/tiktoken.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace lcte::tokenizer {

namespace {

std::optional<uint64_t> optional_id(const gguf::File& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_integer())
    fail("{}: {} is a {}, expected an integer token id", f.path(), key, gguf::value_type_name(v->type()));
  // A negative id (some writers use -1 for "none") names no token.
  if (v->type() == gguf::ValueType::INT8 || v->type() == gguf::ValueType::INT16 ||
      v->type() == gguf::ValueType::INT32 || v->type() == gguf::ValueType::INT64) {
    int64_t x = v->as_i64();
    if (x < 0) return std::nullopt;
    return uint64_t(x);
  }
  return v->as_u64();
}

std::optional<bool> optional_bool(const gguf::File& f, std::string_view key) {
  if (!f.has(key)) return std::nullopt;
  return f.get_bool(key, false);
}

}  // namespace

VocabData vocab_data_from_gguf(const gguf::File& f) {
  VocabData d;
  if (!f.has("tokenizer.ggml.model")) fail("{}: no tokenizer in this file (missing tokenizer.ggml.model)", f.path());
  d.model = f.get_string("tokenizer.ggml.model");
  d.pre = f.get_string("tokenizer.ggml.pre", "");
  d.name = f.get_string("general.name", "");
  if (!f.has("tokenizer.ggml.tokens")) fail("{}: missing metadata key tokenizer.ggml.tokens", f.path());
  d.tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (f.has("tokenizer.ggml.scores")) d.scores = f.get_f32_array("tokenizer.ggml.scores");
  if (f.has("tokenizer.ggml.token_type")) {
    std::vector<int64_t> types = f.get_int_array("tokenizer.ggml.token_type");
    d.token_types.assign(types.begin(), types.end());
  }
  if (f.has("tokenizer.ggml.merges")) d.merges = f.get_string_array("tokenizer.ggml.merges");

  d.bos_id = optional_id(f, "tokenizer.ggml.bos_token_id");
  d.eos_id = optional_id(f, "tokenizer.ggml.eos_token_id");
  d.eot_id = optional_id(f, "tokenizer.ggml.eot_token_id");
  d.eom_id = optional_id(f, "tokenizer.ggml.eom_token_id");
  d.unknown_id = optional_id(f, "tokenizer.ggml.unknown_token_id");
  d.separator_id = optional_id(f, "tokenizer.ggml.seperator_token_id");  // sic, as GGUF spells it
  d.padding_id = optional_id(f, "tokenizer.ggml.padding_token_id");
  d.mask_id = optional_id(f, "tokenizer.ggml.mask_token_id");
  d.fim_pre_id = optional_id(f, "tokenizer.ggml.fim_pre_token_id");
  d.fim_suf_id = optional_id(f, "tokenizer.ggml.fim_suf_token_id");
  d.fim_mid_id = optional_id(f, "tokenizer.ggml.fim_mid_token_id");
  d.fim_pad_id = optional_id(f, "tokenizer.ggml.fim_pad_token_id");
  d.fim_rep_id = optional_id(f, "tokenizer.ggml.fim_rep_token_id");
  d.fim_sep_id = optional_id(f, "tokenizer.ggml.fim_sep_token_id");
  // Older files name the FIM tokens prefix/suffix/middle.
  if (!d.fim_pre_id) d.fim_pre_id = optional_id(f, "tokenizer.ggml.prefix_token_id");
  if (!d.fim_suf_id) d.fim_suf_id = optional_id(f, "tokenizer.ggml.suffix_token_id");
  if (!d.fim_mid_id) d.fim_mid_id = optional_id(f, "tokenizer.ggml.middle_token_id");
  d.add_bos = optional_bool(f, "tokenizer.ggml.add_bos_token");
  d.add_eos = optional_bool(f, "tokenizer.ggml.add_eos_token");
  d.add_space_prefix = optional_bool(f, "tokenizer.ggml.add_space_prefix");
  return d;
}

Vocab load_vocab_from_gguf(const gguf::File& file) { return Vocab(vocab_data_from_gguf(file), file.path()); }

VocabData vocab_data_from_llama2c(const std::string& path, size_t n_tokens) {
  MappedFile file(path);
  const uint8_t* p = file.data();
  const size_t size = file.size();
  size_t off = 0;
  auto read_i32 = [&](const char* what, size_t index) {
    if (size - off < 4) fail("{}: truncated at byte {} reading the {} of token {}", path, off, what, index);
    int32_t x;
    std::memcpy(&x, p + off, 4);
    off += 4;
    return x;
  };

  int32_t max_len = read_i32("maximum token length", 0);
  if (max_len <= 0 || max_len > (1 << 20)) fail("{}: maximum token length {} is not plausible", path, max_len);

  VocabData d;
  d.model = "llama";
  d.name = std::filesystem::path(path).stem().string();
  for (size_t i = 0; n_tokens == 0 ? off < size : i < n_tokens; ++i) {
    float score;
    int32_t bits = read_i32("score", i);
    std::memcpy(&score, &bits, 4);
    int32_t len = read_i32("length", i);
    if (len < 0 || len > max_len)
      fail("{}: token {} has length {} (maximum token length is {})", path, i, len, max_len);
    if (size - off < size_t(len)) fail("{}: truncated in the text of token {}", path, i);
    std::string text(reinterpret_cast<const char*>(p + off), size_t(len));
    off += size_t(len);

    // As llama.cpp's convert-llama2c-to-ggml: fixed names for the first three
    // ids, <0xXX> pieces are bytes, and spaces are SentencePiece's U+2581.
    TokenType type = TokenType::kNormal;
    unsigned byte = 0;
    if (i == 0) {
      text = "<unk>";
      type = TokenType::kUnknown;
    } else if (i == 1) {
      text = "<s>";
      type = TokenType::kControl;
    } else if (i == 2) {
      text = "</s>";
      type = TokenType::kControl;
    } else if (text.empty()) {
      type = TokenType::kControl;
    } else if (std::sscanf(text.c_str(), "<0x%02X", &byte) == 1) {
      type = TokenType::kByte;
    }
    std::string escaped;
    for (char c : text) {
      if (c == ' ')
        escaped += "\xE2\x96\x81";
      else
        escaped += c;
    }
    d.tokens.push_back(std::move(escaped));
    d.scores.push_back(score);
    d.token_types.push_back(int32_t(type));
  }
  if (d.tokens.empty()) fail("{}: no tokens", path);
  return d;
}

Vocab load_vocab_from_llama2c(const std::string& path, size_t n_tokens) {
  return Vocab(vocab_data_from_llama2c(path, n_tokens), path);
}

Tokenizer load_tokenizer(const std::string& spec) {
  auto ends_with = [&](std::string_view suffix) {
    return spec.size() >= suffix.size() && spec.compare(spec.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".tiktoken")) return Tokenizer(load_vocab_from_tiktoken(spec));
  // A file of that name here wins over the encoding of that name.
  if (find_tiktoken_encoding(spec) != nullptr && !std::filesystem::exists(spec))
    return Tokenizer(load_vocab_from_tiktoken(find_tiktoken_file(spec)));
  if (ends_with(".bin")) return Tokenizer(load_vocab_from_llama2c(spec));
  gguf::File f = gguf::File::open(spec);
  return Tokenizer(load_vocab_from_gguf(f));
}

}  // namespace lcte::tokenizer
