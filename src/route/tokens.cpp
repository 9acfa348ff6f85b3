#include "route/tokens.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "core/error.h"
#include "route/config.h"
#include "tokenizer/tokenizer.h"

namespace lcte::route {

TokenCounter counter_of(std::shared_ptr<const tokenizer::Tokenizer> tok, std::string name) {
  return {std::move(name),
          [tok](std::string_view text) { return static_cast<int64_t>(tok->tokenize(text, false).size()); }};
}

namespace {

// The first place at or after `from` where a prefix may end (see
// count_tokens_up_to); text.size() when there is none.
size_t prefix_end(std::string_view text, size_t from) {
  for (size_t p = std::max<size_t>(from, 1); p < text.size(); ++p) {
    p = text.find(' ', p);
    if (p == std::string_view::npos) break;
    const auto before = static_cast<unsigned char>(text[p - 1]);
    if (std::isalnum(before) != 0 && before < 0x80) return p;
  }
  return text.size();
}

}  // namespace

TokenCount count_tokens_up_to(const std::function<int64_t(std::string_view)>& count, std::string_view text,
                              int64_t stop_above) {
  const int64_t want = std::clamp<int64_t>(stop_above, 0, std::numeric_limits<int64_t>::max() - 1) + 1;
  // 3.5 bytes per token: code under the code tokenizers here takes 2.9-3.3,
  // English prose about 4 (then a second, longer prefix is counted).
  auto at_most_text = [&](double bytes) {
    return bytes >= static_cast<double>(text.size()) ? text.size() : static_cast<size_t>(bytes);
  };
  size_t guess = at_most_text(3.5 * static_cast<double>(want));
  for (;;) {
    const size_t end = prefix_end(text, guess);
    if (end >= text.size()) return {count(text), false};
    const int64_t n = count(text.substr(0, end));
    if (n >= want) return {n, true};
    // Too short: grow by the bytes per token this prefix showed, a quarter
    // more to make another round unlikely.
    const double bytes_per_token = static_cast<double>(end) / static_cast<double>(std::max<int64_t>(n, 1));
    guess = at_most_text(static_cast<double>(end + 64) + 1.25 * bytes_per_token * static_cast<double>(want - n));
  }
}

TokenizerCache::TokenizerCache(std::map<std::string, std::string> model_files) : model_files_(std::move(model_files)) {}

TokenCounter TokenizerCache::counter(const std::string& configured) {
  const std::string name = configured.empty() ? kDefaultTokenizer : configured;
  std::string load = name;
  if (auto m = model_files_.find(name); m != model_files_.end()) {
    if (m->second.empty())
      fail(
          "tokenizer: \"{}\" is a remote model, whose vocabulary is not on this machine; name a local model, a GGUF "
          "or .tiktoken file, or an encoding ({}, o200k_base)",
          name, kDefaultTokenizer);
    load = m->second;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = loaded_.find(load);
  if (it == loaded_.end()) {
    try {
      it = loaded_.emplace(load, std::make_shared<const tokenizer::Tokenizer>(tokenizer::load_tokenizer(load))).first;
    } catch (const std::exception& e) {
      if (configured.empty())
        fail(
            "tokenizer: the published rule counts {} tokens and none could be loaded ({}); fetch the encoding with "
            "`lcte data fetch`, or name the routing tokenizer (`tokenizer` in [routing], --tokenizer)",
            kDefaultTokenizer, e.what());
      fail("tokenizer: \"{}\" cannot be loaded: {}", name, e.what());
    }
  }
  return counter_of(it->second, load == name ? name : name + " (" + load + ")");
}

}  // namespace lcte::route
