#include "eval/mutate.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "core/log.h"
#include "core/random.h"
#include "eval/pylex.h"
#include "eval/runner.h"

namespace lcte::eval {
namespace {

int line_of(const std::string& code, size_t offset) {
  return 1 + int(std::count(code.begin(), code.begin() + long(offset), '\n'));
}

// True when the token before an operator ends an operand, so the operator is
// binary ("a - b") rather than unary ("-1", "*args", "**kw").
bool ends_operand(const std::string& code, const Token* before) {
  if (before == nullptr) return false;
  std::string_view text = before->text(code);
  switch (before->kind) {
    case TokenKind::Number:
    case TokenKind::String: return true;
    case TokenKind::Name: return !is_python_keyword(text) || text == "True" || text == "False" || text == "None";
    case TokenKind::Op: return text == ")" || text == "]" || text == "}";
    default: return false;
  }
}

bool is_plain_int(std::string_view text) {
  return !text.empty() && text.size() < 10 && std::all_of(text.begin(), text.end(), ::isdigit) &&
         (text == "0" || text[0] != '0');
}

bool is_simple_argument(const Token& token, const std::string& code) {
  if (token.kind == TokenKind::Number || token.kind == TokenKind::String) return true;
  return token.kind == TokenKind::Name && !is_python_keyword(token.text(code));
}

// Index of the ")" closing the "(" at tokens[open], or 0 when unbalanced.
size_t closing_paren(const std::string& code, const std::vector<const Token*>& tokens, size_t open) {
  int depth = 0;
  for (size_t j = open; j < tokens.size(); j++) {
    std::string_view text = tokens[j]->text(code);
    if (text == "(" || text == "[" || text == "{") depth++;
    if (text == ")" || text == "]" || text == "}") depth--;
    if (depth == 0) return j;
  }
  return 0;
}

// An `in` that tests membership rather than naming a for loop's iterable:
// walking back at the same bracket depth meets `for` only in the latter.
bool is_membership_in(const std::string& code, const std::vector<const Token*>& tokens, size_t at) {
  int depth = tokens[at]->depth;
  for (size_t j = at; j-- > 0;) {
    const Token& t = *tokens[j];
    if (t.depth < depth) return true;
    if (t.depth > depth) continue;
    std::string_view text = t.text(code);
    if (text == "for") return false;
    if (text == "if" || text == "elif" || text == "while" || text == "return" || text == "and" || text == "or" ||
        text == "=" || text == ":" || text == "assert" || text == "lambda" || text == "yield" || text == "(" ||
        text == "[" || text == "{")
      return true;
  }
  return true;
}

void add_site(const std::string& code, std::vector<Mutation>& sites, size_t offset, size_t length,
              std::string replacement, const char* kind) {
  std::string original = code.substr(offset, length);
  sites.push_back({offset, length, replacement, kind,
                   fmt::format("line {}: `{}` -> `{}`", line_of(code, offset), original, replacement)});
}

// Bugs around keywords and common calls: membership and identity tests
// inverted, a `not` dropped, min/max and friends swapped, len() off by one.
void add_keyword_sites(const std::string& code, const std::vector<const Token*>& tokens, size_t i,
                       std::vector<Mutation>& sites) {
  static const std::map<std::string_view, std::string_view> kCalls = {
      {"min", "max"},         {"max", "min"},        {"lower", "upper"},         {"upper", "lower"},
      {"any", "all"},         {"all", "any"},        {"startswith", "endswith"}, {"endswith", "startswith"},
      {"isupper", "islower"}, {"islower", "isupper"}};
  const Token& token = *tokens[i];
  std::string_view text = token.text(code);
  const Token* next = i + 1 < tokens.size() ? tokens[i + 1] : nullptr;
  const Token* before = i > 0 ? tokens[i - 1] : nullptr;
  std::string_view next_text = next ? next->text(code) : std::string_view();
  std::string_view before_text = before ? before->text(code) : std::string_view();
  if (text == "not" && next_text == "in") {
    add_site(code, sites, token.offset, next->offset + next->length - token.offset, "in", "comparison");
  } else if (text == "in" && before_text != "not" && is_membership_in(code, tokens, i)) {
    add_site(code, sites, token.offset, token.length, "not in", "comparison");
  } else if (text == "is" && next_text == "not") {
    add_site(code, sites, token.offset, next->offset + next->length - token.offset, "is", "comparison");
  } else if (text == "is") {
    add_site(code, sites, token.offset, token.length, "is not", "comparison");
  } else if (text == "not" && before_text != "is" && next != nullptr) {
    add_site(code, sites, token.offset, next->offset - token.offset, "", "negation");
    sites.back().description = fmt::format("line {}: `not` removed", line_of(code, token.offset));
  } else if (auto call = kCalls.find(text); call != kCalls.end() && next_text == "(") {
    add_site(code, sites, token.offset, token.length, std::string(call->second), "wrong_function");
  } else if (text == "len" && next_text == "(" && before_text != "." && before_text != "def") {
    size_t close = closing_paren(code, tokens, i + 1);
    if (close == 0) return;
    size_t end = tokens[close]->offset + 1;
    std::string call_text = code.substr(token.offset, end - token.offset);
    sites.push_back({token.offset, end - token.offset, "(" + call_text + " - 1)", "off_by_one",
                     fmt::format("line {}: `{}` -> `{} - 1`", line_of(code, token.offset), call_text, call_text)});
  }
}

}  // namespace

std::vector<Mutation> mutation_sites(const std::string& code) {
  static const std::map<std::string_view, std::string_view> kComparison = {{"<", "<="}, {"<=", "<"},  {">", ">="},
                                                                           {">=", ">"}, {"==", "!="}, {"!=", "=="}};
  static const std::map<std::string_view, std::string_view> kBinary = {
      {"+", "-"}, {"-", "+"}, {"*", "/"}, {"/", "*"}, {"//", "*"}, {"%", "//"}, {"+=", "-="}, {"-=", "+="}};
  std::vector<Token> all = python_tokens(code);
  std::vector<const Token*> tokens;  // without comments and newlines
  for (const Token& token : all)
    if (token.kind != TokenKind::Comment && token.kind != TokenKind::Newline) tokens.push_back(&token);

  std::vector<Mutation> sites;
  auto add = [&](const Token& token, size_t length, std::string replacement, const char* kind) {
    std::string original = code.substr(token.offset, length);
    sites.push_back({token.offset, length, replacement, kind,
                     fmt::format("line {}: `{}` -> `{}`", line_of(code, token.offset), original, replacement)});
  };
  for (size_t i = 0; i < tokens.size(); i++) {
    const Token& token = *tokens[i];
    std::string_view text = token.text(code);
    const Token* before = i > 0 ? tokens[i - 1] : nullptr;
    if (token.kind == TokenKind::Op) {
      if (auto it = kComparison.find(text); it != kComparison.end()) {
        add(token, token.length, std::string(it->second), "comparison");
      } else if (auto op = kBinary.find(text); op != kBinary.end()) {
        bool augmented = text.ends_with("=");
        if (augmented || ends_operand(code, before)) add(token, token.length, std::string(op->second), "operator");
      }
    } else if (token.kind == TokenKind::Name && (text == "and" || text == "or")) {
      add(token, token.length, text == "and" ? "or" : "and", "operator");
    } else if (token.kind == TokenKind::Number && is_plain_int(text)) {
      long value = std::stol(std::string(text));
      add(token, token.length, std::to_string(value + 1), "off_by_one");
      if (value > 0) add(token, token.length, std::to_string(value - 1), "off_by_one");
    } else if (token.kind == TokenKind::Name && text == "return" && i + 1 < tokens.size()) {
      const Token& value = *tokens[i + 1];
      std::string_view value_text = value.text(code);
      bool alone = i + 2 >= tokens.size() || line_of(code, tokens[i + 2]->offset) != line_of(code, value.offset);
      if (value_text == "True" || value_text == "False") {
        add(value, value.length, value_text == "True" ? "False" : "True", "wrong_return");
      } else if (alone && value.kind == TokenKind::Name && value_text != "None") {
        add(value, value.length, "None", "wrong_return");
      }
    }
    if (token.kind == TokenKind::Name) add_keyword_sites(code, tokens, i, sites);
    // name(a, b) -> name(b, a)
    if (token.kind == TokenKind::Name && !is_python_keyword(text) && i + 5 < tokens.size() &&
        tokens[i + 1]->text(code) == "(" && is_simple_argument(*tokens[i + 2], code) &&
        tokens[i + 3]->text(code) == "," && is_simple_argument(*tokens[i + 4], code) &&
        tokens[i + 5]->text(code) == ")" && tokens[i + 2]->text(code) != tokens[i + 4]->text(code) &&
        !(before != nullptr && before->text(code) == "def")) {
      const Token& a = *tokens[i + 2];
      const Token& b = *tokens[i + 4];
      std::string swapped = std::string(b.text(code)) +
                            std::string(code.substr(a.offset + a.length, b.offset - a.offset - a.length)) +
                            std::string(a.text(code));
      Mutation m{a.offset, b.offset + b.length - a.offset, swapped, "swapped_arguments",
                 fmt::format("line {}: {}({}, {}) -> {}({}, {})", line_of(code, token.offset), text, a.text(code),
                             b.text(code), text, b.text(code), a.text(code))};
      sites.push_back(std::move(m));
    }
  }
  return sites;
}

std::string apply_mutation(const std::string& code, const Mutation& mutation) {
  std::string out = code;
  out.replace(mutation.offset, mutation.length, mutation.replacement);
  return out;
}

namespace {

std::string commented(const std::string& code) {
  std::string out;
  size_t start = 0;
  while (start < code.size()) {
    size_t end = code.find('\n', start);
    if (end == std::string::npos) end = code.size();
    std::string_view line(code.data() + start, end - start);
    out += line.empty() ? "#\n" : "# " + std::string(line) + "\n";
    start = end + 1;
  }
  return out;
}

sandbox::Program program_for(const Task& task, const std::string& reference) {
  return {task.setup, task.prompt + reference, task.tests, task.check, task.context};
}

// A confirmed bug for one task, or the reason there is none.
struct Outcome {
  bool ok = false;
  Task task;
  std::string reason;
};

Outcome make_fix_task(const Task& base, Family family, Executor& executor, const FixOptions& options) {
  Outcome outcome;
  if (base.reference.empty()) {
    outcome.reason = "no reference solution";
    return outcome;
  }
  sandbox::Result clean = executor.run(program_for(base, base.reference), options.limits);
  if (clean.status != sandbox::Status::Passed) {
    outcome.reason = fmt::format("reference solution does not pass ({})", status_string(clean.status));
    return outcome;
  }
  std::vector<Mutation> sites = mutation_sites(base.reference);
  SplitMix64 rng(fnv1a64(base.task_id, kFnv1aOffset ^ options.seed));
  shuffle(sites, rng);
  int attempts = 0;
  for (const Mutation& mutation : sites) {
    if (attempts++ >= options.max_attempts) break;
    std::string buggy_reference = apply_mutation(base.reference, mutation);
    sandbox::Result result = executor.run(program_for(base, buggy_reference), options.limits);
    // A bug the tests catch by a wrong answer or an exception; a timeout would
    // make every sample slow, a syntax error is not a realistic bug.
    if (result.status != sandbox::Status::Failed && result.status != sandbox::Status::Error) continue;
    Task task = base;
    // MBPP's reference is the whole program (its prompt is only a docstring);
    // HumanEval's completes the prompt's function.
    task.buggy = family == Family::Mbpp ? buggy_reference : base.prompt + buggy_reference;
    task.mutation = mutation.kind + ", " + mutation.description;
    task.prompt =
        "# This code has a bug: it fails its tests.\n" + commented(task.buggy) + "\n# Fixed version:\n" + base.prompt;
    outcome.ok = true;
    outcome.task = std::move(task);
    return outcome;
  }
  outcome.reason = sites.empty() ? "no place to inject a bug"
                                 : fmt::format("none of {} candidate bugs made the tests fail",
                                               std::min<int>(attempts, int(sites.size())));
  return outcome;
}

}  // namespace

FixSuite make_fix_suite(const Suite& base, const std::vector<size_t>& selection, Executor& executor,
                        const FixOptions& options) {
  std::vector<Outcome> outcomes(selection.size());
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < selection.size(); i = next.fetch_add(1)) {
      try {
        outcomes[i] = make_fix_task(base.tasks.at(selection[i]), base.family, executor, options);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = selection.size();
      }
    }
  };
  int workers = std::max(1, std::min<int>(options.workers > 0 ? options.workers : default_workers(),
                                          int(std::max<size_t>(selection.size(), 1))));
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; i++) threads.emplace_back(work);
  for (auto& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);

  FixSuite fix;
  fix.suite.name = base.name + "-fix";
  fix.suite.family = base.family;
  fix.suite.source = base.source;
  fix.suite.is_fix = true;
  for (size_t i = 0; i < outcomes.size(); i++) {
    if (outcomes[i].ok)
      fix.suite.tasks.push_back(std::move(outcomes[i].task));
    else
      fix.dropped.push_back(base.tasks[selection[i]].task_id + ": " + outcomes[i].reason);
  }
  return fix;
}

}  // namespace lcte::eval
