// Chat templates: a conversation (system/user/assistant messages) rendered
// into the prompt text an instruction-tuned model was trained on.
//
// GGUF files carry the template as a Jinja program (tokenizer.chat_template).
// lcte does not run Jinja: it recognises the family by distinctive markers in
// that program and renders the family's format in C++, written from the
// official templates (see docs/parts/sampling.md for the sources and what
// each rendering equals).
//
// BOS: most formats begin with the BOS token, written by the official template
// or added by the tokenizer when the GGUF says add_bos_token.
// RenderOptions::leading_bos = false (the default) leaves that opening BOS out
// of the text so it is not doubled; true writes it, giving the whole text the
// model sees (ChatML/Qwen and Plain have none);
// BOS/EOS tokens inside the conversation (Llama 2's "</s><s>[INST]") are always
// written, as text, so the prompt must be tokenized with special-token parsing on.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lcte::chat {

enum class Role { System, User, Assistant };

struct Message {
  Role role;
  std::string content;
};

std::string_view role_name(Role role);  // "system", "user", "assistant"
// Throws lcte::Error for any other name.
Role parse_role(std::string_view name);

enum class Family {
  Llama2,         // "llama2": <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>
  Llama3,         // "llama3": <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  ChatML,         // "chatml": <|im_start|>role\n...<|im_end|>\n, no default system
  Qwen25,         // "qwen2.5": ChatML with Qwen 2.5's default system message
  DeepSeekCoder,  // "deepseek-coder": ### Instruction:\n...\n### Response:\n
  Mistral,        // "mistral": <s>[INST] ... [/INST]...</s> (v0.1/v0.2, no system role)
  Zephyr,         // "zephyr": <|user|>\n...</s>\n<|assistant|>\n
  Phi3,           // "phi3": <|user|>\n...<|end|>\n<|assistant|>\n
  Plain,          // "plain": the message texts alone, for base (completion) models
};

std::string_view family_name(Family family);
// Accepts the names above; throws lcte::Error listing them otherwise.
Family parse_family(std::string_view name);
const std::vector<Family>& all_families();

// Qwen 2.5's system message when the conversation has none.
inline constexpr std::string_view kQwen25DefaultSystem =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
// DeepSeek-Coder-Instruct's, written (with a trailing newline) when there is no system message.
inline constexpr std::string_view kDeepSeekCoderDefaultSystem =
    "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek "
    "Company, and you only answer questions related to computer science. For politically sensitive "
    "questions, security and privacy issues, and other non-computer science questions, you will "
    "refuse to answer";

struct SpecialTokens {
  std::string bos;
  std::string eos;
};
// The token texts of the family's reference models (e.g. "<s>"/"</s>" for
// Llama 2). Pass the GGUF's own in RenderOptions::tokens when they differ.
SpecialTokens default_special_tokens(Family family);

struct RenderOptions {
  // Append the header that opens the assistant's reply (for families that
  // have one; Llama 2 and Mistral end every user turn with [/INST] anyway).
  bool add_generation_prompt = true;
  // Write the BOS that opens the text (false: the tokenizer adds it).
  bool leading_bos = false;
  std::optional<SpecialTokens> tokens;  // default: default_special_tokens(family)
};

// Renders the conversation. Throws lcte::Error (naming the message index and
// its role) where the official template raises: Llama 2 and Mistral need
// user/assistant turns alternating from a user turn, with a system message
// only first.
std::string render(Family family, std::span<const Message> messages, const RenderOptions& options = {});

struct Detection {
  Family family = Family::ChatML;
  bool recognised = false;  // false: fell back (see warning)
  std::string warning;      // for the caller to log; empty when nothing to say
};

// Recognises the family from a GGUF tokenizer.chat_template Jinja string.
// Empty template: Plain (a base model), with a warning. Unknown: ChatML, with
// a warning that names the fallback.
Detection detect_family(std::string_view jinja_template);

// An explicit family name (non-empty) wins over detection; throws lcte::Error
// for an unknown name.
Detection choose_family(std::string_view override_name, std::string_view jinja_template);

// Text that ends an assistant turn in the family's format, for use as stop
// strings when the engine works on text rather than token ids.
std::vector<std::string> turn_end_strings(Family family);

}  // namespace lcte::chat
