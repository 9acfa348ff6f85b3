// The OpenAI wire format as lcte serve speaks it: request bodies of
// /v1/completions and /v1/chat/completions checked field by field into a
// backend::GenerationRequest, the response objects and stream chunks, and the
// error object ({"error": {"message", "type", "param", "code"}}).
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "backend/generation.h"

namespace lcte::server {

// An answer other than 200, with OpenAI's error fields.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type, std::string param = {}, std::string code = {})
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type;   // "invalid_request_error", "authentication_error", "server_error", ...
  std::string param;  // the offending field, or empty
  std::string code;   // "model_not_found", "invalid_api_key", ... or empty
};

nlohmann::json error_body(const ApiError& e);

struct ApiLimits {
  int max_n = 16;         // choices per request
  int max_tokens = 4096;  // per choice
  size_t max_stops = 16;
  int default_max_tokens = 256;
};

struct ApiRequest {
  std::string model;
  bool chat = false;
  bool stream = false;
  bool include_usage = false;             // stream_options.include_usage
  backend::GenerationRequest generation;  // sample_indices 0..n-1
  std::string routing_text;               // what a router looks at: the prompt, or the user messages
};

// Throws ApiError (400, naming the field) for malformed JSON, a missing or
// mistyped field, a value out of range or an option that would change the
// answer and that lcte does not honour (tools, logit_bias, response_format
// json_object/json_schema, echo, ...). Unknown fields are ignored, as OpenAI
// clients send extras (user, store, metadata, ...). Honoured beyond
// OpenAI's basic set: top_k, min_p, presence/frequency/repetition penalties,
// logprobs (completions: 0-20 alternatives; chat: logprobs + top_logprobs);
// roles developer (as system) and tool.
ApiRequest parse_request(std::string_view body, bool chat, const ApiLimits& limits);

// Responses. `id` is the response id; `routing` is added when not null.
nlohmann::json completion_response(const ApiRequest& r, const std::string& id, const std::string& model,
                                   const std::vector<backend::Generation>& gens, const nlohmann::json& routing);
// A chunk of choice `index`; `last` (the finished choice) adds its log
// probabilities when the request asked for them, in the chunk that carries
// the finish reason. With include_usage the chunk carries "usage": null.
nlohmann::json stream_chunk(const ApiRequest& r, const std::string& id, const std::string& model, int index,
                            std::string_view text, const char* finish_reason,
                            const backend::Generation* last = nullptr);
// The first chunk of a chat choice: delta {role: assistant, content: ""}.
nlohmann::json role_chunk(const ApiRequest& r, const std::string& id, const std::string& model, int index);
// Null when not asked for; chat's {content: [...]} or the completions'
// {tokens, token_logprobs, top_logprobs, text_offset}.
nlohmann::json logprobs_json(const ApiRequest& r, const backend::Generation& g);
nlohmann::json usage_json(const std::vector<backend::Generation>& gens);
std::string sse_event(const nlohmann::json& j);  // "data: {...}\n\n"

}  // namespace lcte::server
