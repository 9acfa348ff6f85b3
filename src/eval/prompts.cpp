#include "eval/prompts.h"

#include "core/error.h"

namespace lcte::eval {

Style parse_style(const std::string& text) {
  if (text == "completion") return Style::Completion;
  if (text == "instruct") return Style::Instruct;
  fail("--style: unknown style \"{}\" (expected completion or instruct)", text);
}

const char* style_name(Style style) { return style == Style::Completion ? "completion" : "instruct"; }

const std::vector<std::string>& humaneval_stops() {
  static const std::vector<std::string> stops{"\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"};
  return stops;
}

const std::vector<std::string>& mbpp_stops() {
  // As in the bigcode evaluation harness for the docstring prompt: the model
  // writes the whole function, so "\ndef" is not a stop; tests, prints and
  // a closing docstring or fence are.
  static const std::vector<std::string> stops{"\nclass", "\nassert", "\n\"\"\"", "\nprint", "\nif", "\n```"};
  return stops;
}

namespace {

const char* kHumanEvalSystem =
    "You are an expert Python programmer. Complete the function the user gives you. Reply with the "
    "complete function (its signature and body) in a single ```python code block and nothing else: "
    "no explanation, no examples, no tests.";

const char* kMbppSystem =
    "You are an expert Python programmer. Reply with only the Python function that solves the task, "
    "in a single ```python code block: no explanation, no examples, no tests.";

const char* kFixSystem =
    "You are an expert Python programmer. The user gives you Python code that has a bug: it fails its "
    "tests. Reply with the complete fixed function (signature and body) in a single ```python code "
    "block and nothing else.";

std::string tests_text(const Task& task) {
  std::string out;
  for (size_t i = 0; i < task.test_list.size(); i++) out += (i ? "\n" : "") + task.test_list[i];
  return out;
}

std::vector<const Task*> few_shot_examples(const Suite& suite, int count) {
  std::vector<const Task*> examples;
  if (count <= 0) return examples;
  if (count > 3) fail("--few-shot: at most 3 examples (MBPP task ids 2, 3, 4), got {}", count);
  if (suite.family != Family::Mbpp) fail("--few-shot: only MBPP suites have few-shot examples, not {}", suite.name);
  for (int id = 2; id < 2 + count; id++) {
    long index = find_task(suite, std::to_string(id));
    if (index < 0) fail("--few-shot: suite {} lacks example task {}", suite.name, id);
    examples.push_back(&suite.tasks[size_t(index)]);
  }
  return examples;
}

std::string fix_request(const Suite& suite, const Task& task) {
  std::string text =
      "This Python code has a bug: it fails its tests. Fix it and return the complete fixed function.\n\n";
  if (!task.description.empty()) text += "The task: " + task.description + "\n\n";
  text += "```python\n" + task.buggy + (task.buggy.ends_with('\n') ? "" : "\n") + "```\n";
  if (!task.test_list.empty()) text += "\nIt must pass these tests:\n\n" + tests_text(task) + "\n";
  return text;
}

Prompt completion_prompt(const Suite& suite, const Task& task, const PromptOptions& options) {
  Prompt prompt;
  prompt.style = Style::Completion;
  auto examples = few_shot_examples(suite, options.few_shot);
  if (!examples.empty() && !suite.is_fix) {
    // The MBPP paper's format: statement, [BEGIN], code, [DONE]. Not Python,
    // so nothing of it is prepended to the program.
    for (const Task* example : examples)
      prompt.text += mbpp_task_statement(*example) + "\n[BEGIN]\n" + example->reference + "\n[DONE]\n";
    prompt.text += mbpp_task_statement(task) + "\n[BEGIN]\n";
    prompt.stops = {"[DONE]"};
    return prompt;
  }
  prompt.text = task.prompt;
  prompt.code_prefix = task.prompt;
  prompt.stops = suite.family == Family::Mbpp ? mbpp_stops() : humaneval_stops();
  return prompt;
}

Prompt instruct_prompt(const Suite& suite, const Task& task, const PromptOptions& options) {
  Prompt prompt;
  prompt.style = Style::Instruct;
  if (suite.is_fix) {
    prompt.messages = {{"system", kFixSystem}, {"user", fix_request(suite, task)}};
    return prompt;
  }
  if (suite.family == Family::Mbpp || !task.description.empty()) {
    prompt.messages.push_back({"system", kMbppSystem});
    for (const Task* example : few_shot_examples(suite, options.few_shot)) {
      prompt.messages.push_back({"user", mbpp_task_statement(*example)});
      prompt.messages.push_back({"assistant", "```python\n" + example->reference + "\n```"});
    }
    prompt.messages.push_back({"user", mbpp_task_statement(task)});
    return prompt;
  }
  if (options.few_shot > 0) few_shot_examples(suite, options.few_shot);  // reports the error
  prompt.messages = {{"system", kHumanEvalSystem},
                     {"user", "Complete the following Python function:\n```python\n" + task.prompt + "```"}};
  return prompt;
}

}  // namespace

std::string mbpp_task_statement(const Task& task) {
  return "You are an expert Python programmer, and here is your task: " + task.description +
         " Your code should pass these tests:\n\n" + tests_text(task);
}

Prompt build_prompt(const Suite& suite, const Task& task, const PromptOptions& options) {
  return options.style == Style::Completion ? completion_prompt(suite, task, options)
                                            : instruct_prompt(suite, task, options);
}

std::string truncate_at_stops(const std::string& text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const auto& stop : stops) {
    if (stop.empty()) continue;
    size_t at = text.find(stop);
    if (at != std::string::npos && at < cut) cut = at;
  }
  return text.substr(0, cut);
}

}  // namespace lcte::eval
