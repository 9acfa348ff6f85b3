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
  if (!f->is_number_integer()) bad(name, fmt::format("'{}' must be an integer, got {}", name, type_of(*f)), "invalid_type");
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
  if (!f->is_number_integer()) bad("seed", fmt::format("'seed' must be an integer, got {}", type_of(*f)), "invalid_type");
  return f->is_number_unsigned() ? f->get<uint64_t>() : static_cast<uint64_t>(f->get<int64_t>());
}

std::vector<std::string> stops_of(const json& body, size_t max_stops) {
  const json* f = field(body, "stop");
  if (f == nullptr) return {};
  std::vector<std::string> stops;
  if (f->is_string()) {
    stops.push_back(f->get<std::string>());
  } else if (f->is_array()) {
    if (f->size() > max_stops) bad("stop", fmt::format("'stop' may hold at most {} sequences, got {}", max_stops, f->size()));
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
  if (!it->is_array()) bad(param, fmt::format("'{}' must be a string or an array of text parts, got {}", param, type_of(*it)), "invalid_type");
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
    if (!m.is_object()) bad(fmt::format("messages[{}]", i), fmt::format("'messages[{}]' must be an object, got {}", i, type_of(m)), "invalid_type");
    std::string param = fmt::format("messages[{}].role", i);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) bad(param, fmt::format("'{}' must be a string", param), "invalid_type");
    std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant")
      bad(param, fmt::format("'{}' must be 'system', 'user' or 'assistant', got '{}'", param, r));
    out.push_back({r, content_of(m, i)});
  }
  return out;
}

void reject_unsupported(const json& body) {
  if (const json* f = field(body, "logprobs"); f != nullptr && !(f->is_boolean() && !f->get<bool>()))
    bad("logprobs", "'logprobs' is not supported", "unsupported_parameter");
  if (boolean(body, "echo", false)) bad("echo", "'echo' is not supported", "unsupported_parameter");
  if (integer(body, "best_of", 1, 0, 1 << 20) > 1) bad("best_of", "'best_of' is not supported", "unsupported_parameter");
  if (const json* f = field(body, "suffix"); f != nullptr) bad("suffix", "'suffix' is not supported", "unsupported_parameter");
  if (const json* f = field(body, "tools"); f != nullptr) bad("tools", "'tools' is not supported", "unsupported_parameter");
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
  if (!model->is_string()) bad("model", fmt::format("'model' must be a string, got {}", type_of(*model)), "invalid_type");
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
  const char* max_key = chat && field(body, "max_completion_tokens") != nullptr ? "max_completion_tokens" : "max_tokens";
  g.sampling.max_tokens = static_cast<int>(
      integer(body, max_key, std::min(limits.default_max_tokens, limits.max_tokens), 1, limits.max_tokens));
  g.sampling.temperature = number(body, "temperature", 1.0, 0.0, 2.0);
  g.sampling.top_p = number(body, "top_p", 1.0, 0.0, 1.0);
  if (g.sampling.top_p == 0.0) bad("top_p", "'top_p' must be greater than 0");
  g.sampling.seed = seed_of(body);
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

json completion_response(const ApiRequest& r, const std::string& id, const std::string& model,
                         const std::vector<backend::Generation>& gens, const json& routing) {
  json choices = json::array();
  for (size_t i = 0; i < gens.size(); ++i) {
    json c = {{"index", i}, {"finish_reason", gens[i].finish_reason}};
    if (r.chat) {
      c["message"] = {{"role", "assistant"}, {"content", gens[i].text}};
    } else {
      c["text"] = gens[i].text;
      c["logprobs"] = nullptr;
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

json stream_chunk(const ApiRequest& r, const std::string& id, const std::string& model, int index, std::string_view text,
                  const char* finish_reason) {
  json c = {{"index", index}, {"finish_reason", finish_reason ? json(finish_reason) : json(nullptr)}};
  if (r.chat) {
    c["delta"] = json::object();
    if (!text.empty()) c["delta"]["content"] = std::string(text);
  } else {
    c["text"] = std::string(text);
    c["logprobs"] = nullptr;
  }
  return {{"id", id},
          {"object", r.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", static_cast<int64_t>(std::time(nullptr))},
          {"model", model},
          {"choices", json::array({c})}};
}

std::string sse_event(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace lcte::server
