// What the model is asked. Completion style hands a base model the raw
// prompt and cuts its output at the suite's stop sequences; instruct style
// gives a chat model a system message and the task, and extracts the code
// from its reply (extract.h).
#pragma once

#include <string>
#include <vector>

#include "backend/generation.h"
#include "eval/suite.h"

namespace lcte::eval {

enum class Style { Completion, Instruct };
Style parse_style(const std::string& text);  // "completion" | "instruct"; throws lcte::Error
const char* style_name(Style style);

using ChatMessage = backend::ChatMessage;

struct Prompt {
  Style style = Style::Completion;
  std::string text;                   // completion style: what the model continues
  std::vector<ChatMessage> messages;  // instruct style: the conversation
  std::vector<std::string> stops;     // generation stops at the first of these
  // Completion style: the program is code_prefix + completion (the prompt
  // itself when it is Python, empty for the MBPP paper's [BEGIN] format).
  std::string code_prefix;
};

struct PromptOptions {
  Style style = Style::Completion;
  // MBPP only: how many solved examples (task ids 2, 3, 4 of the prompt
  // split) precede the task, 0-3. Completion style then uses the paper's
  // "[BEGIN] ... [DONE]" format; instruct style adds user/assistant turns.
  int few_shot = 0;
};

// Standard stop sequences for completion style.
const std::vector<std::string>& humaneval_stops();  // "\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"
const std::vector<std::string>& mbpp_stops();

// The MBPP paper's task statement:
// "You are an expert Python programmer, and here is your task: {text} Your
// code should pass these tests:\n\n{tests}".
std::string mbpp_task_statement(const Task& task);

// `suite` supplies the few-shot examples (MBPP tasks 2, 3, 4); it throws
// lcte::Error when few-shot is asked of a suite that lacks them.
Prompt build_prompt(const Suite& suite, const Task& task, const PromptOptions& options);

// Cuts `text` at the earliest occurrence of any stop sequence.
std::string truncate_at_stops(const std::string& text, const std::vector<std::string>& stops);

}  // namespace lcte::eval
