// Chat templates: each family's rendering of a fixed conversation against the
// string its official Jinja template produces (written out by hand from the
// template; sources in docs/parts/sampling.md), and family detection from
// real template strings.
#include "chat/chat_template.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/test_data.h"
#include "core/error.h"

namespace lcte::chat {
namespace {

// The conversation of llama.cpp's tests/test-chat-template.cpp: a system
// message, alternating turns, an assistant reply with surrounding spaces
// (which Llama 2 and Llama 3 strip and the others keep).
const std::vector<Message>& conversation() {
  static const std::vector<Message> c{
      {Role::System, "You are a helpful assistant"},
      {Role::User, "Hello"},
      {Role::Assistant, "Hi there"},
      {Role::User, "Who are you"},
      {Role::Assistant, "   I am an assistant   "},
      {Role::User, "Another question"},
  };
  return c;
}

std::vector<Message> without_system() { return {conversation().begin() + 1, conversation().end()}; }

RenderOptions with_bos() {
  RenderOptions o;
  o.leading_bos = true;
  return o;
}

// ---- rendering ------------------------------------------------------------------

TEST(ChatTemplate, ChatML) {
  EXPECT_EQ(render(Family::ChatML, conversation()),
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
            "<|im_start|>user\nHello<|im_end|>\n"
            "<|im_start|>assistant\nHi there<|im_end|>\n"
            "<|im_start|>user\nWho are you<|im_end|>\n"
            "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
            "<|im_start|>user\nAnother question<|im_end|>\n"
            "<|im_start|>assistant\n");
  // No default system message for generic ChatML; no BOS even when asked.
  EXPECT_EQ(render(Family::ChatML, std::vector<Message>{{Role::User, "Hi"}}, with_bos()),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen25AddsDefaultSystemOnlyWhenMissing) {
  EXPECT_EQ(render(Family::Qwen25, conversation()), render(Family::ChatML, conversation()));
  EXPECT_EQ(render(Family::Qwen25, without_system()),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n"
            "<|im_start|>user\nHello<|im_end|>\n"
            "<|im_start|>assistant\nHi there<|im_end|>\n"
            "<|im_start|>user\nWho are you<|im_end|>\n"
            "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
            "<|im_start|>user\nAnother question<|im_end|>\n"
            "<|im_start|>assistant\n");
  // An empty conversation still gets the system block, then the prompt.
  EXPECT_EQ(render(Family::Qwen25, std::vector<Message>{}),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>assistant\n");
  RenderOptions no_prompt;
  no_prompt.add_generation_prompt = false;
  EXPECT_EQ(render(Family::Qwen25, std::vector<Message>{{Role::System, "S"}, {Role::User, "U"}}, no_prompt),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n");
}

TEST(ChatTemplate, Llama2) {
  const std::string body =
      "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s>"
      "<s>[INST] Who are you [/INST] I am an assistant </s>"
      "<s>[INST] Another question [/INST]";
  EXPECT_EQ(render(Family::Llama2, conversation()), body);
  EXPECT_EQ(render(Family::Llama2, conversation(), with_bos()), "<s>" + body);
  // No system: the first turn has no <<SYS>> block. Contents are stripped.
  EXPECT_EQ(render(Family::Llama2, std::vector<Message>{{Role::User, "  Hi \n"}}, with_bos()), "<s>[INST] Hi [/INST]");
  // The GGUF's own token texts replace the defaults.
  RenderOptions custom = with_bos();
  custom.tokens = SpecialTokens{"<BOS>", "<EOS>"};
  EXPECT_EQ(render(Family::Llama2, std::vector<Message>{{Role::User, "a"}, {Role::Assistant, "b"}, {Role::User, "c"}},
                   custom),
            "<BOS>[INST] a [/INST] b <EOS><BOS>[INST] c [/INST]");
}

TEST(ChatTemplate, Llama3) {
  const std::string body =
      "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(render(Family::Llama3, conversation()), body);
  EXPECT_EQ(render(Family::Llama3, conversation(), with_bos()), "<|begin_of_text|>" + body);
  RenderOptions no_prompt;
  no_prompt.add_generation_prompt = false;
  EXPECT_EQ(render(Family::Llama3, std::vector<Message>{{Role::User, "Hi"}}, no_prompt),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST(ChatTemplate, DeepSeekCoder) {
  // An explicit system message is written bare, straight before "### Instruction:".
  const std::string turns =
      "### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n"
      "### Instruction:\nWho are you\n### Response:\n   I am an assistant   \n<|EOT|>\n"
      "### Instruction:\nAnother question\n### Response:\n";
  EXPECT_EQ(render(Family::DeepSeekCoder, conversation()), "You are a helpful assistant" + turns);
  EXPECT_EQ(render(Family::DeepSeekCoder, without_system(), with_bos()),
            "<｜begin▁of▁sentence｜>You are an AI programming assistant, utilizing the Deepseek Coder "
            "model, developed by Deepseek Company, and you only answer questions related to computer "
            "science. For politically sensitive questions, security and privacy issues, and other "
            "non-computer science questions, you will refuse to answer\n" +
                turns);
}

TEST(ChatTemplate, Mistral) {
  const std::string body =
      "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>"
      "[INST] Who are you [/INST]   I am an assistant   </s>"
      "[INST] Another question [/INST]";
  EXPECT_EQ(render(Family::Mistral, conversation()), body);
  EXPECT_EQ(render(Family::Mistral, without_system(), with_bos()),
            "<s>[INST] Hello [/INST]Hi there</s>"
            "[INST] Who are you [/INST]   I am an assistant   </s>"
            "[INST] Another question [/INST]");
}

TEST(ChatTemplate, Zephyr) {
  EXPECT_EQ(render(Family::Zephyr, conversation()),
            "<|system|>\nYou are a helpful assistant</s>\n"
            "<|user|>\nHello</s>\n"
            "<|assistant|>\nHi there</s>\n"
            "<|user|>\nWho are you</s>\n"
            "<|assistant|>\n   I am an assistant   </s>\n"
            "<|user|>\nAnother question</s>\n"
            "<|assistant|>\n");
}

TEST(ChatTemplate, Phi3) {
  EXPECT_EQ(render(Family::Phi3, conversation()),
            "<|system|>\nYou are a helpful assistant<|end|>\n"
            "<|user|>\nHello<|end|>\n"
            "<|assistant|>\nHi there<|end|>\n"
            "<|user|>\nWho are you<|end|>\n"
            "<|assistant|>\n   I am an assistant   <|end|>\n"
            "<|user|>\nAnother question<|end|>\n"
            "<|assistant|>\n");
  RenderOptions no_prompt;
  no_prompt.add_generation_prompt = false;
  EXPECT_EQ(render(Family::Phi3, std::vector<Message>{{Role::User, "Hi"}}, no_prompt),
            "<|user|>\nHi<|end|>\n<|endoftext|>");
}

TEST(ChatTemplate, Plain) {
  EXPECT_EQ(render(Family::Plain, std::vector<Message>{{Role::User, "def add(a, b):\n"}}), "def add(a, b):\n");
  EXPECT_EQ(render(Family::Plain, conversation()),
            "You are a helpful assistant\n\nHello\n\nHi there\n\nWho are you\n\n"
            "   I am an assistant   \n\nAnother question");
}

TEST(ChatTemplate, RoleOrderErrorsWhereTheOfficialTemplateRaises) {
  const std::vector<Message> two_users{{Role::User, "a"}, {Role::User, "b"}};
  const std::vector<Message> late_system{{Role::User, "a"}, {Role::Assistant, "b"}, {Role::System, "c"}};
  const std::vector<Message> starts_with_assistant{{Role::Assistant, "a"}};
  for (Family f : {Family::Llama2, Family::Mistral}) {
    try {
      render(f, two_users);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("message 1 has role user, expected assistant"), std::string::npos)
          << e.what();
    }
    EXPECT_THROW(render(f, late_system), Error);
    EXPECT_THROW(render(f, starts_with_assistant), Error);
  }
  // The other families render whatever order they are given.
  EXPECT_NO_THROW(render(Family::ChatML, two_users));
  EXPECT_NO_THROW(render(Family::Llama3, late_system));
}

TEST(ChatTemplate, NamesRoundTripAndUnknownNamesAreErrors) {
  for (Family f : all_families()) EXPECT_EQ(parse_family(family_name(f)), f);
  EXPECT_EQ(all_families().size(), 9u);
  try {
    parse_family("gemma");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'gemma'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("qwen2.5"), std::string::npos);
  }
  EXPECT_EQ(parse_role("assistant"), Role::Assistant);
  EXPECT_THROW(parse_role("tool"), Error);
}

TEST(ChatTemplate, TurnEndStringsCloseTheAssistantTurn) {
  // Each family's turn end is what its rendering writes after an assistant reply
  // (Plain has none).
  const std::vector<Message> reply{{Role::User, "u"}, {Role::Assistant, "REPLY"}};
  RenderOptions o;
  o.add_generation_prompt = false;
  for (Family f : all_families()) {
    const std::string text = render(f, reply, o);
    // Llama 2 and DeepSeek put a space or newline between reply and end marker.
    const size_t after = text.find_first_not_of(" \n", text.find("REPLY") + 5);
    for (const std::string& end : turn_end_strings(f))
      EXPECT_EQ(text.compare(after, end.size(), end), 0) << family_name(f) << ": " << text;
  }
}

// ---- detection ------------------------------------------------------------------

struct DetectCase {
  const char* source;
  std::string jinja;
  Family family;
};

// Template strings as published in the models' tokenizer_config.json (short
// ones whole; Qwen 2.5's and Llama 3.1's cut to the part with the markers).
std::vector<DetectCase> real_templates() {
  return {
      {"meta-llama/Llama-2-7b-chat-hf",
       "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
       "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
       "system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == "
       "'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
       "user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != "
       "false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
       "message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
       "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif "
       "message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% "
       "endfor %}",
       Family::Llama2},
      {"meta-llama/Meta-Llama-3-8B-Instruct",
       "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
       "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
       "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ "
       "content }}{% endfor %}{% if add_generation_prompt %}{{ "
       "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
       Family::Llama3},
      {"teknium/OpenHermes-2.5-Mistral-7B",
       "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
       "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
       "}}{% endif %}",
       Family::ChatML},
      {"Qwen/Qwen2.5-Coder-7B-Instruct (excerpt)",
       "{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + "
       "messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- "
       "'<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
       "assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n",
       Family::Qwen25},
      {"deepseek-ai/deepseek-coder-33b-instruct",
       "{% if not add_generation_prompt is defined %}\n{% set add_generation_prompt = false %}\n{% endif "
       "%}\n{%- set ns = namespace(found=false) -%}\n{%- for message in messages -%}\n    {%- if "
       "message['role'] == 'system' -%}\n        {%- set ns.found = true -%}\n    {%- endif -%}\n{%- "
       "endfor -%}\n{{bos_token}}{%- if not ns.found -%}\n{{'You are an AI programming assistant, "
       "utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer "
       "questions related to computer science. For politically sensitive questions, security and "
       "privacy issues, and other non-computer science questions, you will refuse to "
       "answer\\n'}}\n{%- endif %}\n{%- for message in messages %}\n    {%- if message['role'] == "
       "'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' "
       "%}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n{{'### "
       "Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif "
       "%}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}",
       Family::DeepSeekCoder},
      {"mistralai/Mistral-7B-Instruct-v0.2",
       "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % "
       "2 == 0) %}{{ raise_exception('Conversation roles must alternate "
       "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' "
       "+ message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
       "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are "
       "supported!') }}{% endif %}{% endfor %}",
       Family::Mistral},
      {"HuggingFaceH4/zephyr-7b-beta",
       "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
       "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + "
       "message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ "
       "'<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and "
       "add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
       Family::Zephyr},
      {"microsoft/Phi-3-mini-4k-instruct",
       "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + "
       "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + "
       "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' "
       "%}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if "
       "add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}",
       Family::Phi3},
  };
}

TEST(ChatTemplate, DetectsEachFamilyFromItsPublishedTemplate) {
  for (const DetectCase& c : real_templates()) {
    const Detection d = detect_family(c.jinja);
    EXPECT_EQ(d.family, c.family) << c.source << ": got " << family_name(d.family);
    EXPECT_TRUE(d.recognised) << c.source;
    EXPECT_TRUE(d.warning.empty()) << c.source << ": " << d.warning;
  }
}

TEST(ChatTemplate, Llama31IsLlama3WithAWarning) {
  const std::string excerpt =
      "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if builtin_tools is defined or "
      "tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{{- \"Cutting "
      "Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}";
  const Detection d = detect_family(excerpt);
  EXPECT_EQ(d.family, Family::Llama3);
  EXPECT_TRUE(d.recognised);
  EXPECT_NE(d.warning.find("date"), std::string::npos);
}

TEST(ChatTemplate, UnknownFallsBackToChatMLWithWarning) {
  // google/gemma-7b-it: a family lcte does not render.
  const Detection d = detect_family(
      "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% "
      "endif %}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | "
      "trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt "
      "%}{{'<start_of_turn>model\\n'}}{% endif %}");
  EXPECT_EQ(d.family, Family::ChatML);
  EXPECT_FALSE(d.recognised);
  EXPECT_NE(d.warning.find("chatml"), std::string::npos);
}

TEST(ChatTemplate, NoTemplateIsPlain) {
  for (const char* t : {"", "  \n"}) {
    const Detection d = detect_family(t);
    EXPECT_EQ(d.family, Family::Plain);
    EXPECT_FALSE(d.recognised);
    EXPECT_FALSE(d.warning.empty());
  }
}

TEST(ChatTemplate, OverrideWinsOverDetection) {
  const std::string llama3 = real_templates()[1].jinja;
  EXPECT_EQ(choose_family("", llama3).family, Family::Llama3);
  const Detection d = choose_family("deepseek-coder", llama3);
  EXPECT_EQ(d.family, Family::DeepSeekCoder);
  EXPECT_TRUE(d.recognised);
  EXPECT_THROW(choose_family("llama-3", llama3), Error);
}

// The value of a string key in a GGUF file's metadata, found by scanning for
// the key (enough for a test: key, u32 type 8 = string, u64 length, bytes).
std::string gguf_string_value(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = bytes.find(key);
  if (at == std::string::npos || at + key.size() + 12 > bytes.size()) return {};
  uint32_t type = 0;
  uint64_t len = 0;
  std::memcpy(&type, bytes.data() + at + key.size(), 4);
  std::memcpy(&len, bytes.data() + at + key.size() + 4, 8);
  const size_t start = at + key.size() + 12;
  if (type != 8 || len > bytes.size() - start) return {};
  return bytes.substr(start, len);
}

// The Phi-3 vocabulary from llama.cpp's test models carries a real template
// (the older Phi-3 one: no system role, the assistant header written after
// each user turn). Without a system message it renders exactly as ours.
TEST(ChatTemplate, DetectsPhi3FromARealGgufFile) {
  LCTE_REQUIRE_DATA("tokenizer/ggml-vocab-phi-3.gguf");
  const std::string jinja =
      gguf_string_value(testing::data_path("tokenizer/ggml-vocab-phi-3.gguf"), "tokenizer.chat_template");
  ASSERT_FALSE(jinja.empty());
  EXPECT_EQ(detect_family(jinja).family, Family::Phi3);
  // What that template yields for user/assistant/user with bos_token "<s>":
  // {{ bos_token }} then per user '<|user|>\n' + content + '<|end|>\n<|assistant|>\n',
  // per assistant content + '<|end|>\n'.
  const std::vector<Message> chat{{Role::User, "Hello"}, {Role::Assistant, "Hi there"}, {Role::User, "Bye"}};
  EXPECT_EQ(render(Family::Phi3, chat, with_bos()),
            "<s><|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n");
}

}  // namespace
}  // namespace lcte::chat
