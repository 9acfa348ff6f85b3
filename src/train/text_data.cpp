#include "train/text_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/log.h"

namespace lcte::train {
namespace {

struct Pair {
  int64_t id = 0;
  std::string prompt, completion;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first JSON object of a JSONL file, to tell its format; null if the
// file is not JSONL.
nlohmann::json first_object(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    return j.is_object() ? j : nlohmann::json();
  }
  return nlohmann::json();
}

TextFormat detect(const std::string& path) {
  const nlohmann::json j = first_object(path);
  if (j.is_null()) return TextFormat::Text;
  if (j.contains("code") && j.contains("test_list") && j.contains("text")) return TextFormat::Mbpp;
  if (j.contains("tokens") || (j.contains("prompt") && j["prompt"].is_array())) return TextFormat::Tokens;
  if (j.contains("prompt") || j.contains("completion")) return TextFormat::Pairs;
  if (j.contains("text")) return TextFormat::Documents;
  fail(
      "{}:1: cannot tell the data format (expected MBPP fields, \"prompt\"/\"completion\", \"text\" or "
      "\"tokens\"); give --data-format",
      path);
}

// Each JSON object line, with its line number.
template <class F>
void for_each_line(const std::string& path, F&& f) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, lineno);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("{}: not a JSON object", where);
    f(j, where);
  }
}

std::string string_field(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) fail("{}: missing field \"{}\"", where, key);
  if (!j[key].is_string()) fail("{}: field \"{}\" must be a string", where, key);
  return j[key].get<std::string>();
}

Example cut(Example e, int seq) {
  const size_t n = std::min(e.tokens.size(), (size_t)seq + 1);
  e.tokens.resize(n);
  if (!e.mask.empty()) e.mask.resize(n);
  return e;
}

bool has_target(const Example& e) {
  for (size_t t = 1; t < e.tokens.size(); ++t)
    if (e.mask.empty() || e.mask[t]) return true;
  return false;
}

size_t prompt_length(const Example& e) {
  size_t n = 0;
  while (n < e.mask.size() && e.mask[n] == 0) ++n;
  return n;
}

// Appends the examples of one split, cut or chunked, counting what is dropped.
void add_examples(std::vector<Example> in, bool documents, const TextDataOptions& o, std::vector<Example>& out,
                  std::vector<size_t>& prompt_len, size_t& dropped) {
  std::vector<Example> made;
  for (Example& e : in) {
    if (o.pack) {
      // Packed rows take long examples whole, spilling over into the next row.
      if (has_target(e))
        made.push_back(std::move(e));
      else
        ++dropped;
    } else if (documents) {
      for (Example& c : chunk_stream(e.tokens, o.seq)) made.push_back(std::move(c));
    } else {
      Example c = cut(std::move(e), o.seq);
      if (has_target(c))
        made.push_back(std::move(c));
      else
        ++dropped;
    }
  }
  if (o.pack) made = pack_examples(made, o.seq);
  for (Example& e : made) {
    prompt_len.push_back(documents || o.pack ? 0 : prompt_length(e));
    out.push_back(std::move(e));
  }
}

}  // namespace

TextFormat text_format_from_name(const std::string& n) {
  if (n == "auto") return TextFormat::Auto;
  if (n == "mbpp") return TextFormat::Mbpp;
  if (n == "pairs") return TextFormat::Pairs;
  if (n == "documents") return TextFormat::Documents;
  if (n == "text") return TextFormat::Text;
  if (n == "tokens") return TextFormat::Tokens;
  fail("data format \"{}\": expected auto, mbpp, pairs, documents, text or tokens", n);
}

const char* text_format_name(TextFormat f) {
  switch (f) {
    case TextFormat::Auto: return "auto";
    case TextFormat::Mbpp: return "mbpp";
    case TextFormat::Pairs: return "pairs";
    case TextFormat::Documents: return "documents";
    case TextFormat::Text: return "text";
    case TextFormat::Tokens: return "tokens";
  }
  return "?";
}

Example tokenize_pair(const tokenizer::Tokenizer& tok, const std::string& prompt, const std::string& completion) {
  std::vector<int32_t> all = tok.tokenize(prompt + completion, /*add_special=*/true, /*parse_special=*/true);
  const std::vector<int32_t> head = tok.tokenize(prompt, /*add_special=*/true, /*parse_special=*/true);
  // Where the prompt's tokens run on into the completion's (a merge across
  // the join), the shared prefix is what the prompt owns.
  size_t n = 0;
  while (n < head.size() && n < all.size() && head[n] == all[n]) ++n;
  if (!all.empty() && !tok.is_eog(all.back()) && tok.eos() >= 0) all.push_back(tok.eos());
  Example e;
  e.tokens = std::move(all);
  e.mask.assign(e.tokens.size(), 1);
  std::fill(e.mask.begin(), e.mask.begin() + std::min(n, e.mask.size()), 0);
  return e;
}

std::pair<std::string, std::string> render_chat_pair(chat::Family family, const std::string& user,
                                                     const std::string& assistant) {
  std::vector<chat::Message> conv{{chat::Role::User, user}};
  chat::RenderOptions gen;
  gen.add_generation_prompt = true;
  const std::string prompt = chat::render(family, conv, gen);
  conv.push_back({chat::Role::Assistant, assistant});
  chat::RenderOptions whole;
  whole.add_generation_prompt = false;
  const std::string full = chat::render(family, conv, whole);
  if (full.compare(0, prompt.size(), prompt) == 0) return {prompt, full.substr(prompt.size())};
  // A template whose prompt is not a prefix of the whole conversation: the
  // reply alone is the completion.
  return {prompt, assistant};
}

std::vector<Example> pack_examples(const std::vector<Example>& examples, int seq) {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> mask;
  for (const Example& e : examples) {
    for (size_t t = 0; t < e.tokens.size(); ++t) {
      tokens.push_back(e.tokens[t]);
      mask.push_back(t == 0 ? 0 : (e.mask.empty() ? 1 : e.mask[t]));
    }
  }
  std::vector<Example> out;
  for (size_t start = 0; start + 1 < tokens.size(); start += seq) {
    const size_t end = std::min(tokens.size(), start + seq + 1);
    Example e{std::vector<int32_t>(tokens.begin() + start, tokens.begin() + end),
              std::vector<uint8_t>(mask.begin() + start, mask.begin() + end)};
    e.mask[0] = 0;
    if (has_target(e)) out.push_back(std::move(e));
  }
  return out;
}

TextData load_text_data(const std::string& path, const tokenizer::Tokenizer& tok, const TextDataOptions& o) {
  if (o.seq < 1) fail("data: sequence length {} must be >= 1", o.seq);
  TextData d;
  d.format = o.format == TextFormat::Auto ? detect(path) : o.format;
  d.recipe = fmt::format("format={} seq={} pack={} seed={}", text_format_name(d.format), o.seq, o.pack, o.seed);
  std::vector<Example> all;
  std::vector<int64_t> ids;  // MBPP task ids
  bool documents = false;
  switch (d.format) {
    case TextFormat::Mbpp: {
      for (const ChatPair& p : read_mbpp_chat(path)) {
        auto [prompt, completion] = render_chat_pair(o.family, p.user, p.assistant);
        all.push_back(tokenize_pair(tok, prompt, completion));
        ids.push_back(p.id);
      }
      d.recipe += fmt::format(" chat={} split={}", chat::family_name(o.family), o.mbpp_split);
      break;
    }
    case TextFormat::Pairs:
      for_each_line(path, [&](const nlohmann::json& j, const std::string& where) {
        std::string prompt = string_field(j, "prompt", where), completion = string_field(j, "completion", where);
        if (o.chat) std::tie(prompt, completion) = render_chat_pair(o.family, prompt, completion);
        all.push_back(tokenize_pair(tok, prompt, completion));
      });
      if (o.chat) d.recipe += fmt::format(" chat={}", chat::family_name(o.family));
      break;
    case TextFormat::Documents:
      documents = true;
      for_each_line(path, [&](const nlohmann::json& j, const std::string& where) {
        all.push_back({tok.tokenize(string_field(j, "text", where), true, false), {}});
      });
      break;
    case TextFormat::Text:
      documents = true;
      all.push_back({tok.tokenize(read_all(path), true, false), {}});
      break;
    case TextFormat::Tokens: all = read_token_jsonl(path, static_cast<int>(tok.n_tokens())); break;
    case TextFormat::Auto: break;
  }
  if (all.empty()) fail("{}: no examples", path);

  // The split is over source items (problems, pairs, documents), before any
  // chunking or packing, so that no held-out text is trained on.
  std::vector<Example> train, valid;
  if (d.format == TextFormat::Mbpp && o.mbpp_split == "standard") {
    for (size_t i = 0; i < all.size(); ++i) {
      if (ids[i] >= 601 && ids[i] <= 974)
        train.push_back(std::move(all[i]));
      else if (ids[i] >= 511 && ids[i] <= 600)
        valid.push_back(std::move(all[i]));
    }
  } else if (d.format == TextFormat::Mbpp) {
    if (o.mbpp_split != "seeded") fail("MBPP split \"{}\": expected seeded or standard", o.mbpp_split);
    const Split s = seeded_split(all.size(), o.mbpp_train, o.mbpp_valid, o.mbpp_test, o.seed);
    for (int64_t i : s.train) train.push_back(std::move(all[i]));
    for (int64_t i : s.valid) valid.push_back(std::move(all[i]));
  } else if (all.size() == 1 && documents) {
    // One document (a text file): hold out its tail.
    std::vector<int32_t>& t = all[0].tokens;
    const size_t n_valid = static_cast<size_t>(o.valid_fraction * t.size());
    if (n_valid > 0) valid.push_back({std::vector<int32_t>(t.end() - n_valid, t.end()), {}});
    t.resize(t.size() - n_valid);
    train.push_back(std::move(all[0]));
  } else {
    if (!(o.valid_fraction >= 0 && o.valid_fraction < 1))
      fail("data: valid fraction {} must be in [0, 1)", o.valid_fraction);
    const size_t n_valid = o.valid_fraction > 0 ? std::max<size_t>(1, o.valid_fraction * all.size()) : 0;
    if (n_valid >= all.size())
      fail("{}: {} examples leave none for training after the held-out share", path, all.size());
    const Split s = seeded_split(all.size(), all.size() - n_valid, n_valid, 0, o.seed);
    for (int64_t i : s.train) train.push_back(std::move(all[i]));
    for (int64_t i : s.valid) valid.push_back(std::move(all[i]));
  }
  d.recipe += fmt::format(" valid={}", o.valid_fraction);
  add_examples(std::move(train), documents, o, d.train, d.train_prompt_len, d.dropped);
  add_examples(std::move(valid), documents, o, d.valid, d.valid_prompt_len, d.dropped);
  if (d.train.empty()) fail("{}: no training example has a target token within --seq-len {}", path, o.seq);
  if (d.dropped > 0)
    spdlog::warn("data: {} examples dropped: their prompt fills all {} tokens of --seq-len", d.dropped, o.seq);
  return d;
}

}  // namespace lcte::train
