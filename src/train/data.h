// Training data as token ids (tokenization happens before, in the tokenizer
// part): examples, their seeded order, and fixed-shape batches.
//
// An example is a token sequence with an optional loss mask. Row b of a batch
// holds inputs tokens[0 .. T) and targets tokens[1 .. T+1) of one example;
// a target is -1 (no loss) where the mask says so, and in the padding after a
// short example. A longer example is cut at T+1 tokens (chunk long text first
// with chunk_stream).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lcte::train {

struct Example {
  std::vector<int32_t> tokens;
  // mask[i] = 1: tokens[i] is a prediction target (mask[0] is unused). Empty:
  // every token from the second on is a target.
  std::vector<uint8_t> mask;
};

struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> tokens;   // [B][T]
  std::vector<int32_t> targets;  // [B][T], -1 = no loss
  std::vector<int64_t> rows;     // the example index of each row
};

// Cuts a token stream into examples of T+1 tokens that overlap by one, so
// that every token but the first is a target exactly once. A last piece
// shorter than 2 tokens is dropped.
std::vector<Example> chunk_stream(const std::vector<int32_t>& stream, int T);

// Fills row b of `batch` from example `ex` (padding with token pad_id).
void fill_row(Batch& batch, int b, const Example& ex, int32_t pad_id = 0);

// Hands out batches of B examples in a seeded order, reshuffled every epoch.
// The order of epoch e is a Fisher-Yates shuffle drawn from SplitMix64(mix(seed, e)),
// so (seed, epoch, cursor) is the loader's entire state: a checkpoint that
// stores it resumes with exactly the batches the uninterrupted run would get.
class DataLoader {
 public:
  struct State {
    uint64_t seed = 0;
    int64_t epoch = 0;
    int64_t cursor = 0;  // next position in the epoch's order
    bool operator==(const State&) const = default;
  };

  DataLoader(std::vector<Example> examples, int B, int T, uint64_t seed, int32_t pad_id = 0);
  Batch next();
  State state() const { return state_; }
  void restore(const State& s);
  size_t size() const { return examples_.size(); }
  const std::vector<Example>& examples() const { return examples_; }
  int batch() const { return B_; }
  int seq() const { return T_; }

 private:
  void shuffle_epoch();

  std::vector<Example> examples_;
  int B_, T_;
  int32_t pad_;
  State state_;
  std::vector<int64_t> order_;
};

// Seeded split of n items into [train, valid, test] index lists of the given
// sizes (sizes must sum to at most n; the rest is dropped).
struct Split {
  std::vector<int64_t> train, valid, test;
};
Split seeded_split(size_t n, size_t n_train, size_t n_valid, size_t n_test, uint64_t seed);

// Token-id JSONL, one example per line, either
//   {"tokens": [ids...]}                       every token after the first is a target
//   {"tokens": [...], "mask": [0/1 ...]}       targets where mask is 1
//   {"prompt": [ids...], "completion": [ids...]}  targets in the completion only
// Errors name the file, line and field; ids must be in [0, vocab).
std::vector<Example> read_token_jsonl(const std::string& path, int vocab);

// A prompt followed by its completion, the loss on the completion only.
Example prompt_completion(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion);

// One supervised chat turn in text, before the chat template and tokenizer.
struct ChatPair {
  int64_t id = 0;
  std::string user, assistant;
};
// MBPP (mbpp.jsonl) in chat form: the user turn is the task text followed by
// its tests ("Your code should pass these tests:" and the asserts, one a
// line), the assistant turn the reference code with CRLF turned into LF.
// Errors name the file and line.
std::vector<ChatPair> read_mbpp_chat(const std::string& path);
// The default seeded split of MBPP's 974 problems: 800 train, 100 valid, 74 test.
Split mbpp_split(size_t n, uint64_t seed);

}  // namespace lcte::train
