// Training data from text: MBPP problems in chat form, JSONL prompt/completion
// pairs, JSONL documents or plain text, tokenised with the teacher's tokenizer
// (and rendered with its chat template for chat form), split into training
// and held-out examples by a fixed seed, optionally packed into full rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"

namespace lcte::train {

enum class TextFormat {
  Auto,       // from the file: MBPP fields, prompt/completion strings, "text" documents, token ids; else plain text
  Mbpp,       // mbpp.jsonl: {"text", "code", "task_id", "test_list"} -> chat pairs
  Pairs,      // JSONL {"prompt": "...", "completion": "..."}: loss on the completion
  Documents,  // JSONL {"text": "..."}: loss on every token
  Text,       // a plain text file: one document
  Tokens,     // token-id JSONL (read_token_jsonl)
};
TextFormat text_format_from_name(const std::string& name);  // auto, mbpp, pairs, documents, text, tokens
const char* text_format_name(TextFormat f);

struct TextDataOptions {
  TextFormat format = TextFormat::Auto;
  // Pairs: render the prompt as a user turn and the completion as the
  // assistant's reply with the chat template (MBPP is always chat form).
  bool chat = false;
  chat::Family family = chat::Family::Plain;  // the template (from the teacher GGUF, or --chat-template)
  std::string mbpp_split = "seeded";          // seeded: 800/100/74 by seed; standard: MBPP's 601-974 / 511-600 / 11-510
  size_t mbpp_train = 800, mbpp_valid = 100, mbpp_test = 74;
  double valid_fraction = 0.1;  // other formats: the held-out share (seeded)
  uint64_t seed = 1;
  int seq = 128;      // examples are cut at seq + 1 tokens; documents are chunked into pieces of seq + 1
  bool pack = false;  // concatenate examples whole (masks kept) and cut into full rows of seq + 1
};

struct TextData {
  TextFormat format = TextFormat::Auto;
  std::vector<Example> train, valid;
  // For prompt/completion data (MBPP, pairs): each example's prompt length in
  // tokens (before packing), so the teacher can generate completions.
  std::vector<size_t> train_prompt_len, valid_prompt_len;
  size_t dropped = 0;  // examples with no target left after the cut
  std::string recipe;  // how the examples were made (for the data hash)
};

// A prompt and its completion as one example, the loss on the completion:
// the whole text is tokenised once (BOS as the vocabulary asks, special
// tokens parsed) and the prompt's tokens, where they are a prefix of it, are
// masked; EOS is appended when the text does not already end a turn.
Example tokenize_pair(const tokenizer::Tokenizer& tok, const std::string& prompt, const std::string& completion);

// MBPP's chat pair rendered with the template: (prompt text, completion text).
std::pair<std::string, std::string> render_chat_pair(chat::Family family, const std::string& user,
                                                     const std::string& assistant);

// Concatenates the examples (masks kept; each example's first token is not
// a target) and cuts the stream into rows of seq + 1 tokens overlapping by
// one; rows without a target are dropped.
std::vector<Example> pack_examples(const std::vector<Example>& examples, int seq);

// Reads, tokenises and splits. Errors name the file, line and field.
TextData load_text_data(const std::string& path, const tokenizer::Tokenizer& tok, const TextDataOptions& opts);

}  // namespace lcte::train
