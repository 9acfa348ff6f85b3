#include "chat/chat_template.h"

#include <array>

#include "core/error.h"

namespace lcte::chat {

namespace {

struct FamilyInfo {
  Family family;
  std::string_view name;
};

constexpr std::array<FamilyInfo, 9> kFamilies{{
    {Family::Llama2, "llama2"},
    {Family::Llama3, "llama3"},
    {Family::ChatML, "chatml"},
    {Family::Qwen25, "qwen2.5"},
    {Family::DeepSeekCoder, "deepseek-coder"},
    {Family::Mistral, "mistral"},
    {Family::Zephyr, "zephyr"},
    {Family::Phi3, "phi3"},
    {Family::Plain, "plain"},
}};

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Python's str.strip() / Jinja's trim, for ASCII whitespace.
std::string_view strip(std::string_view s) {
  constexpr std::string_view ws = " \t\n\r\v\f";
  const size_t first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  const size_t last = s.find_last_not_of(ws);
  return s.substr(first, last - first + 1);
}

// The text so far and the tokens; knows to drop the BOS that would open it.
struct Writer {
  std::string out;
  SpecialTokens tokens;
  bool leading_bos;

  void bos() {
    if (!out.empty() || leading_bos) out += tokens.bos;
  }
  template <class... Parts>
  void put(const Parts&... parts) {
    (out.append(parts), ...);
  }
};

// The messages after an optional leading system message, which must then
// alternate user, assistant, user, ... (Llama 2's and Mistral's templates
// raise otherwise).
std::span<const Message> alternating_turns(Family family, std::span<const Message> messages) {
  const bool has_system = !messages.empty() && messages[0].role == Role::System;
  const std::span<const Message> turns = messages.subspan(has_system ? 1 : 0);
  for (size_t i = 0; i < turns.size(); ++i) {
    const Role expected = i % 2 == 0 ? Role::User : Role::Assistant;
    if (turns[i].role != expected)
      fail(
          "chat template {}: message {} has role {}, expected {} (roles must alternate "
          "user/assistant after an optional first system message)",
          family_name(family), i + (has_system ? 1 : 0), role_name(turns[i].role), role_name(expected));
  }
  return turns;
}

// meta-llama/Llama-2-7b-chat-hf: the system message is folded into the first
// user turn; every user turn opens with BOS and contents are stripped.
void render_llama2(Writer& w, std::span<const Message> messages) {
  const std::span<const Message> turns = alternating_turns(Family::Llama2, messages);
  const bool has_system = turns.size() < messages.size();
  for (size_t i = 0; i < turns.size(); ++i) {
    std::string content = turns[i].content;
    if (i == 0 && has_system) content = "<<SYS>>\n" + messages[0].content + "\n<</SYS>>\n\n" + content;
    if (turns[i].role == Role::User) {
      w.bos();
      w.put("[INST] ", strip(content), " [/INST]");
    } else {
      w.put(" ", strip(content), " ", w.tokens.eos);
    }
  }
}

// meta-llama/Meta-Llama-3-8B-Instruct.
void render_llama3(Writer& w, std::span<const Message> messages, bool generation_prompt) {
  w.bos();
  for (const Message& m : messages)
    w.put("<|start_header_id|>", role_name(m.role), "<|end_header_id|>\n\n", strip(m.content), "<|eot_id|>");
  if (generation_prompt) w.put("<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// OpenHermes-style ChatML; Qwen 2.5 adds its system message when the first
// message is not one.
void render_chatml(Writer& w, std::span<const Message> messages, bool generation_prompt,
                   std::string_view default_system) {
  if (!default_system.empty() && (messages.empty() || messages[0].role != Role::System))
    w.put("<|im_start|>system\n", default_system, "<|im_end|>\n");
  for (const Message& m : messages) w.put("<|im_start|>", role_name(m.role), "\n", m.content, "<|im_end|>\n");
  if (generation_prompt) w.put("<|im_start|>assistant\n");
}

// deepseek-ai/deepseek-coder-*-instruct. A system message is written bare,
// without a newline after it; only the default one ends in "\n".
void render_deepseek_coder(Writer& w, std::span<const Message> messages, bool generation_prompt) {
  w.bos();
  bool has_system = false;
  for (const Message& m : messages) has_system |= m.role == Role::System;
  if (!has_system) w.put(kDeepSeekCoderDefaultSystem, "\n");
  for (const Message& m : messages) {
    switch (m.role) {
      case Role::System: w.put(m.content); break;
      case Role::User: w.put("### Instruction:\n", m.content, "\n"); break;
      case Role::Assistant: w.put("### Response:\n", m.content, "\n<|EOT|>\n"); break;
    }
  }
  if (generation_prompt) w.put("### Response:\n");
}

// mistralai/Mistral-7B-Instruct-v0.2. Its template has no system role and
// raises on one; like llama.cpp, a first system message is prepended to the
// first user message with a newline.
void render_mistral(Writer& w, std::span<const Message> messages) {
  const std::span<const Message> turns = alternating_turns(Family::Mistral, messages);
  const bool has_system = turns.size() < messages.size();
  w.bos();
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].role == Role::User) {
      w.put("[INST] ");
      if (i == 0 && has_system) w.put(messages[0].content, "\n");
      w.put(turns[i].content, " [/INST]");
    } else {
      w.put(turns[i].content, w.tokens.eos);
    }
  }
}

// HuggingFaceH4/zephyr-7b-beta. The template leaves BOS to the tokenizer.
// The generation prompt follows the last message only, so an empty
// conversation renders empty.
void render_zephyr(Writer& w, std::span<const Message> messages, bool generation_prompt) {
  w.bos();
  for (const Message& m : messages) w.put("<|", role_name(m.role), "|>\n", m.content, w.tokens.eos, "\n");
  if (generation_prompt && !messages.empty()) w.put("<|assistant|>\n");
}

// microsoft/Phi-3-mini-4k-instruct (the template with a system role; the
// older one wrote {{ bos_token }} first, the newer leaves it to the tokenizer).
void render_phi3(Writer& w, std::span<const Message> messages, bool generation_prompt) {
  w.bos();
  for (const Message& m : messages) w.put("<|", role_name(m.role), "|>\n", m.content, "<|end|>\n");
  if (generation_prompt)
    w.put("<|assistant|>\n");
  else
    w.put(w.tokens.eos);
}

// A base model continues text: the messages' texts, a blank line between.
void render_plain(Writer& w, std::span<const Message> messages) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i > 0) w.put("\n\n");
    w.put(messages[i].content);
  }
}

Detection recognised(Family family, std::string warning = {}) { return {family, true, std::move(warning)}; }

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::System: return "system";
    case Role::User: return "user";
    case Role::Assistant: return "assistant";
  }
  return "?";
}

Role parse_role(std::string_view name) {
  if (name == "system") return Role::System;
  if (name == "user") return Role::User;
  if (name == "assistant") return Role::Assistant;
  fail("chat: unknown role '{}' (expected system, user or assistant)", name);
}

std::string_view family_name(Family family) {
  for (const FamilyInfo& f : kFamilies)
    if (f.family == family) return f.name;
  return "?";
}

Family parse_family(std::string_view name) {
  std::string known;
  for (const FamilyInfo& f : kFamilies) {
    if (f.name == name) return f.family;
    known += known.empty() ? "" : ", ";
    known += f.name;
  }
  fail("chat: unknown template family '{}' (known: {})", name, known);
}

const std::vector<Family>& all_families() {
  static const std::vector<Family> families = [] {
    std::vector<Family> v;
    for (const FamilyInfo& f : kFamilies) v.push_back(f.family);
    return v;
  }();
  return families;
}

SpecialTokens default_special_tokens(Family family) {
  switch (family) {
    case Family::Llama2:
    case Family::Mistral:
    case Family::Zephyr: return {"<s>", "</s>"};
    case Family::Llama3: return {"<|begin_of_text|>", "<|eot_id|>"};
    case Family::ChatML:
    case Family::Qwen25: return {"", "<|im_end|>"};
    case Family::DeepSeekCoder: return {"<｜begin▁of▁sentence｜>", "<|EOT|>"};
    case Family::Phi3: return {"<s>", "<|endoftext|>"};
    case Family::Plain: return {"", ""};
  }
  return {};
}

std::string render(Family family, std::span<const Message> messages, const RenderOptions& options) {
  Writer w{{}, options.tokens.value_or(default_special_tokens(family)), options.leading_bos};
  const bool gen = options.add_generation_prompt;
  switch (family) {
    case Family::Llama2: render_llama2(w, messages); break;
    case Family::Llama3: render_llama3(w, messages, gen); break;
    case Family::ChatML: render_chatml(w, messages, gen, {}); break;
    case Family::Qwen25: render_chatml(w, messages, gen, kQwen25DefaultSystem); break;
    case Family::DeepSeekCoder: render_deepseek_coder(w, messages, gen); break;
    case Family::Mistral: render_mistral(w, messages); break;
    case Family::Zephyr: render_zephyr(w, messages, gen); break;
    case Family::Phi3: render_phi3(w, messages, gen); break;
    case Family::Plain: render_plain(w, messages); break;
  }
  return std::move(w.out);
}

Detection detect_family(std::string_view t) {
  if (strip(t).empty()) return {Family::Plain, false, "no chat template (a base model?): rendering plain text"};
  // Most specific markers first: Llama 2 and Mistral share [INST], Phi-3 and
  // Zephyr share <|user|>.
  if (contains(t, "<|start_header_id|>")) {
    if (contains(t, "Cutting Knowledge Date"))
      return recognised(Family::Llama3,
                        "Llama 3.1+ template: rendered as Llama 3, without the date lines it adds "
                        "to the system message");
    return recognised(Family::Llama3);
  }
  if (contains(t, "<|im_start|>")) {
    if (contains(t, "You are Qwen, created by Alibaba Cloud")) return recognised(Family::Qwen25);
    return recognised(Family::ChatML);
  }
  if (contains(t, "### Instruction:") && contains(t, "### Response:")) return recognised(Family::DeepSeekCoder);
  if (contains(t, "[INST]")) return recognised(contains(t, "<<SYS>>") ? Family::Llama2 : Family::Mistral);
  if (contains(t, "<|user|>")) return recognised(contains(t, "<|end|>") ? Family::Phi3 : Family::Zephyr);
  return {Family::ChatML, false, "unrecognised chat template: falling back to chatml"};
}

Detection choose_family(std::string_view override_name, std::string_view jinja_template) {
  if (!override_name.empty()) return recognised(parse_family(override_name));
  return detect_family(jinja_template);
}

std::vector<std::string> turn_end_strings(Family family) {
  switch (family) {
    case Family::Llama2:
    case Family::Mistral:
    case Family::Zephyr: return {"</s>"};
    case Family::Llama3: return {"<|eot_id|>"};
    case Family::ChatML:
    case Family::Qwen25: return {"<|im_end|>"};
    case Family::DeepSeekCoder: return {"<|EOT|>"};
    case Family::Phi3: return {"<|end|>"};
    case Family::Plain: return {};
  }
  return {};
}

}  // namespace lcte::chat
