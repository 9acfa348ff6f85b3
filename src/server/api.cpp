#include "server/api.h"

#include <algorithm>
#include <cstdint>
#include <ctime>

#include <fmt/format.h>

namespace lcte::server {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& param, const std::string& message, const std::string& code = "invalid_value") {
  throw ApiError(400, message, "invalid_request_error", param, code);
}

std::string type_of(const json& j) { return j.type_name(); }

// The field, or null when absent (json null counts as absent, as OpenAI's API treats it).
const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

double number(const json& body, const char* name, double fallback, double lo, double hi) {
  const json* f = field(body, name);
  if (f == nullptr) return fallback;
  if (!f->is_number()) bad(name, fmt::format("'{}' must be a number, got {}", name, type_of(*f)), "invalid_type");
  double v = f->get<double>();
  if (!(v >= lo && v <= hi)) bad(name, fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, v));
  return v;
}

int64_t integer(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const json* f = field(body, name);
  if (f == nullptr) return fallback;
  if (!f->is_number_integer())
    bad(name, fmt::format("'{}' must be an integer, got {}", name, type_of(*f)), "invalid_type");
  if (f->is_number_unsigned() && f->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    bad(name, fmt::format("'{}' must be between {} and {}", name, lo, hi));
  int64_t v = f->get<int64_t>();
  if (v < lo || v > hi) bad(name, fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, v));
  return v;
}

bool boolean(const json& body, const char* name, bool fallback) {
  const json* f = field(body, name);
  if (f == nullptr) return fallback;
  if (!f->is_boolean()) bad(name, fmt::format("'{}' must be a boolean, got {}", name, type_of(*f)), "invalid_type");
  return f->get<bool>();
}

uint64_t seed_of(const json& body) {
  const json* f = field(body, "seed");
  if (f == nullptr) return 0;
  if (!f->is_number_integer())
    bad("seed", fmt::format("'seed' must be an integer, got {}", type_of(*f)), "invalid_type");
  return f->is_number_unsigned() ? f->get<uint64_t>() : static_cast<uint64_t>(f->get<int64_t>());
}

std::vector<std::string> stops_of(const json& body, size_t max_stops) {
  const json* f = field(body, "stop");
  if (f == nullptr) return {};
  std::vector<std::string> stops;
  if (f->is_string()) {
    stops.push_back(f->get<std::string>());
  } else if (f->is_array()) {
    if (f->size() > max_stops)
      bad("stop", fmt::format("'stop' may hold at most {} sequences, got {}", max_stops, f->size()));
    for (const json& s : *f) {
      if (!s.is_string()) bad("stop", fmt::format("'stop' must hold strings, got {}", type_of(s)), "invalid_type");
      stops.push_back(s.get<std::string>());
    }
  } else {
    bad("stop", fmt::format("'stop' must be a string or an array of strings, got {}", type_of(*f)), "invalid_type");
  }
  for (const std::string& s : stops)
    if (s.empty()) bad("stop", "'stop' sequences must not be empty");
  return stops;
}

std::string prompt_of(const json& body) {
  const json* f = field(body, "prompt");
  if (f == nullptr) bad("prompt", "'prompt' is required", "missing_required_parameter");
  if (f->is_string()) return f->get<std::string>();
  if (f->is_array() && f->size() == 1 && (*f)[0].is_string()) return (*f)[0].get<std::string>();
  if (f->is_array())
    bad("prompt", "'prompt' as an array must hold exactly one string (batched and token-id prompts are not supported)");
  bad("prompt", fmt::format("'prompt' must be a string, got {}", type_of(*f)), "invalid_type");
}

// Message content: a string, or an array of {"type": "text", "text": ...} parts.
std::string content_of(const json& m, size_t i) {
  std::string param = fmt::format("messages[{}].content", i);
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) bad(param, fmt::format("'{}' is required", param), "missing_required_parameter");
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array())
    bad(param, fmt::format("'{}' must be a string or an array of text parts, got {}", param, type_of(*it)),
        "invalid_type");
  std::string text;
  for (const json& part : *it) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      bad(param, fmt::format("'{}' parts must be {{\"type\": \"text\", \"text\": string}}", param), "invalid_type");
    text += part["text"].get<std::string>();
  }
  return text;
}

std::vector<backend::ChatMessage> messages_of(const json& body) {
  const json* f = field(body, "messages");
  if (f == nullptr) bad("messages", "'messages' is required", "missing_required_parameter");
  if (!f->is_array()) bad("messages", fmt::format("'messages' must be an array, got {}", type_of(*f)), "invalid_type");
  if (f->empty()) bad("messages", "'messages' must not be empty");
  std::vector<backend::ChatMessage> out;
  for (size_t i = 0; i < f->size(); ++i) {
    const json& m = (*f)[i];
    if (!m.is_object())
      bad(fmt::format("messages[{}]", i), fmt::format("'messages[{}]' must be an object, got {}", i, type_of(m)),
          "invalid_type");
    std::string param = fmt::format("messages[{}].role", i);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) bad(param, fmt::format("'{}' must be a string", param), "invalid_type");
    std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool")
      bad(param, fmt::format("'{}' must be 'system', 'developer', 'user', 'assistant' or 'tool', got '{}'", param, r));
    if (auto calls = m.find("tool_calls");
        calls != m.end() && !calls->is_null() && !(calls->is_array() && calls->empty()))
      bad(fmt::format("messages[{}].tool_calls", i), "tool calls are not supported (this server offers no tools)",
          "unsupported_parameter");
    out.push_back({r, content_of(m, i)});
  }
  return out;
}

[[noreturn]] void unsupported(const std::string& param, const std::string& why) {
  bad(param, fmt::format("'{}' is not supported: {}", param, why), "unsupported_parameter");
}

// Fields that would change the answer and that lcte cannot honour are
// refused, never ignored. Fields that change nothing (user, store, metadata,
// service_tier, parallel_tool_calls) are accepted.
void reject_unsupported(const json& body) {
  if (boolean(body, "echo", false)) unsupported("echo", "the prompt is not repeated in the answer");
  if (integer(body, "best_of", 1, 0, 1 << 20) > 1) unsupported("best_of", "ask for n choices instead");
  if (field(body, "suffix") != nullptr) unsupported("suffix", "no fill-in-the-middle");
  for (const char* name : {"tools", "functions"})
    if (const json* f = field(body, name); f != nullptr && !(f->is_array() && f->empty()))
      unsupported(name, "this server offers no tool calling");
  if (field(body, "function_call") != nullptr) unsupported("function_call", "this server offers no tool calling");
  if (const json* f = field(body, "tool_choice"); f != nullptr && !(f->is_string() && (*f == "none" || *f == "auto")))
    unsupported("tool_choice", "this server offers no tool calling");
  if (const json* f = field(body, "logit_bias"); f != nullptr && !(f->is_object() && f->empty()))
    unsupported("logit_bias", "token biases are not applied");
  if (const json* f = field(body, "modalities"); f != nullptr && *f != json::array({"text"}))
    unsupported("modalities", "text only");
  for (const char* name : {"audio", "prediction", "reasoning_effort", "web_search_options"})
    if (field(body, name) != nullptr) unsupported(name, "not offered by this server");
  if (const json* f = field(body, "response_format")) {
    if (!f->is_object() || !f->contains("type") || !(*f)["type"].is_string())
      bad("response_format", "'response_format' must be an object with a string 'type'", "invalid_type");
    const std::string type = (*f)["type"];
    if (type == "json_object" || type == "json_schema")
      bad("response_format",
          fmt::format("'response_format' type '{}' is not supported: output is not constrained", type),
          "unsupported_parameter");
    if (type != "text") bad("response_format", fmt::format("'response_format' type must be 'text', got '{}'", type));
  }
}

// top_k (-1 or 0: off), min_p, and the penalties, as vLLM and llama.cpp's
// server take them.
void sampling_extras(const json& body, backend::SamplingParams& s) {
  int64_t k = integer(body, "top_k", 0, -1, 1 << 20);
  s.top_k = k > 0 ? static_cast<int>(k) : 0;
  s.min_p = number(body, "min_p", 0.0, 0.0, 1.0);
  s.presence_penalty = number(body, "presence_penalty", 0.0, -2.0, 2.0);
  s.frequency_penalty = number(body, "frequency_penalty", 0.0, -2.0, 2.0);
  s.repetition_penalty = number(body, "repetition_penalty", 1.0, 0.0, 10.0);
  if (s.repetition_penalty == 0.0) bad("repetition_penalty", "'repetition_penalty' must be greater than 0");
}

// -1 (none) or how many alternatives per token: completions take an integer
// `logprobs`; chat takes `logprobs: true` and `top_logprobs`.
int logprobs_of(const json& body, bool chat) {
  if (chat) {
    bool on = boolean(body, "logprobs", false);
    const json* top = field(body, "top_logprobs");
    if (top != nullptr && !on) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    return on ? static_cast<int>(integer(body, "top_logprobs", 0, 0, 20)) : -1;
  }
  const json* f = field(body, "logprobs");
  if (f == nullptr || (f->is_boolean() && !f->get<bool>())) return -1;
  return static_cast<int>(integer(body, "logprobs", 0, 0, 20));
}

}  // namespace

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

ApiRequest parse_request(std::string_view text, bool chat, const ApiLimits& limits) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded())
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", {}, "invalid_json");
  if (!body.is_object())
    throw ApiError(400, fmt::format("the request body must be a JSON object, got {}", type_of(body)),
                   "invalid_request_error", {}, "invalid_json");
  ApiRequest r;
  r.chat = chat;
  const json* model = field(body, "model");
  if (model == nullptr) bad("model", "'model' is required", "missing_required_parameter");
  if (!model->is_string())
    bad("model", fmt::format("'model' must be a string, got {}", type_of(*model)), "invalid_type");
  r.model = model->get<std::string>();
  reject_unsupported(body);

  backend::GenerationRequest& g = r.generation;
  g.chat = chat;
  if (chat) {
    g.messages = messages_of(body);
    for (const auto& m : g.messages)
      if (m.role == "user") r.routing_text += (r.routing_text.empty() ? "" : "\n") + m.content;
  } else {
    g.prompt = prompt_of(body);
    r.routing_text = g.prompt;
  }
  const char* max_key =
      chat && field(body, "max_completion_tokens") != nullptr ? "max_completion_tokens" : "max_tokens";
  g.sampling.max_tokens = static_cast<int>(
      integer(body, max_key, std::min(limits.default_max_tokens, limits.max_tokens), 1, limits.max_tokens));
  g.sampling.temperature = number(body, "temperature", 1.0, 0.0, 2.0);
  g.sampling.top_p = number(body, "top_p", 1.0, 0.0, 1.0);
  if (g.sampling.top_p == 0.0) bad("top_p", "'top_p' must be greater than 0");
  g.sampling.seed = seed_of(body);
  sampling_extras(body, g.sampling);
  g.logprobs = logprobs_of(body, chat);
  g.stops = stops_of(body, limits.max_stops);
  int n = static_cast<int>(integer(body, "n", 1, 1, limits.max_n));
  g.sample_indices.clear();
  for (int i = 0; i < n; ++i) g.sample_indices.push_back(i);
  r.stream = boolean(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object", "invalid_type");
    if (!r.stream) bad("stream_options", "'stream_options' is only allowed with 'stream': true");
    r.include_usage = boolean(*so, "include_usage", false);
  }
  return r;
}

json usage_json(const std::vector<backend::Generation>& gens) {
  int prompt = gens.empty() ? 0 : std::max(0, gens.front().prompt_tokens);
  int completion = 0;
  for (const auto& g : gens) completion += std::max(0, g.completion_tokens);
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

namespace {

json byte_values(const std::string& s) {
  json out = json::array();
  for (unsigned char c : s) out.push_back(static_cast<int>(c));
  return out;
}

}  // namespace

json logprobs_json(const ApiRequest& r, const backend::Generation& g) {
  if (r.generation.logprobs < 0) return nullptr;
  if (r.chat) {
    json content = json::array();
    for (const backend::TokenLogprob& t : g.logprobs) {
      json top = json::array();
      for (const auto& a : t.top)
        top.push_back({{"token", a.token}, {"logprob", a.logprob}, {"bytes", byte_values(a.token)}});
      content.push_back(
          {{"token", t.token}, {"logprob", t.logprob}, {"bytes", byte_values(t.token)}, {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
  }
  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(), offsets = json::array();
  size_t offset = 0;
  for (const backend::TokenLogprob& t : g.logprobs) {
    tokens.push_back(t.token);
    token_logprobs.push_back(t.logprob);
    // The legacy format: a map of the alternatives and the chosen token.
    json top = json::object();
    for (const auto& a : t.top)
      if (!top.contains(a.token)) top[a.token] = a.logprob;
    if (!top.contains(t.token)) top[t.token] = t.logprob;
    top_logprobs.push_back(top);
    offsets.push_back(offset);
    offset += t.token.size();
  }
  return {
      {"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}, {"text_offset", offsets}};
}

json completion_response(const ApiRequest& r, const std::string& id, const std::string& model,
                         const std::vector<backend::Generation>& gens, const json& routing) {
  json choices = json::array();
  for (size_t i = 0; i < gens.size(); ++i) {
    json c = {{"index", i}, {"finish_reason", gens[i].finish_reason}, {"logprobs", logprobs_json(r, gens[i])}};
    if (r.chat) {
      c["message"] = {{"role", "assistant"}, {"content", gens[i].text}};
    } else {
      c["text"] = gens[i].text;
    }
    choices.push_back(std::move(c));
  }
  json out = {{"id", id},
              {"object", r.chat ? "chat.completion" : "text_completion"},
              {"created", static_cast<int64_t>(std::time(nullptr))},
              {"model", model},
              {"choices", choices},
              {"usage", usage_json(gens)}};
  if (!routing.is_null()) out["routing"] = routing;
  return out;
}

json stream_chunk(const ApiRequest& r, const std::string& id, const std::string& model, int index,
                  std::string_view text, const char* finish_reason, const backend::Generation* last) {
  json c = {{"index", index},
            {"finish_reason", finish_reason ? json(finish_reason) : json(nullptr)},
            {"logprobs", last != nullptr ? logprobs_json(r, *last) : json(nullptr)}};
  if (r.chat) {
    c["delta"] = json::object();
    if (!text.empty()) c["delta"]["content"] = std::string(text);
  } else {
    c["text"] = std::string(text);
  }
  json chunk = {{"id", id},
                {"object", r.chat ? "chat.completion.chunk" : "text_completion"},
                {"created", static_cast<int64_t>(std::time(nullptr))},
                {"model", model},
                {"choices", json::array({c})}};
  // OpenAI: with include_usage every chunk has the field, null but in the last.
  if (r.include_usage) chunk["usage"] = nullptr;
  return chunk;
}

json role_chunk(const ApiRequest& r, const std::string& id, const std::string& model, int index) {
  json c = stream_chunk(r, id, model, index, "", nullptr);
  c["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
  return c;
}

std::string sse_event(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace lcte::server
