#include "eval/extract.h"

#include <cctype>

#include "eval/io.h"
#include "eval/pylex.h"

namespace lcte::eval {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_code_language(std::string_view tag) {
  tag = trim(tag);
  return tag.empty() || tag == "python" || tag == "py" || tag == "python3" || tag == "Python";
}

bool starts_with_word(std::string_view line, std::string_view word) {
  if (!line.starts_with(word)) return false;
  if (line.size() == word.size()) return true;
  char next = line[word.size()];
  return !(std::isalnum(static_cast<unsigned char>(next)) || next == '_');
}

// A top-level line that reads as English rather than Python: a word that is
// not a keyword followed by another word ("Here is", "This function"), a
// contraction, a label ("Explanation:"), a numbered or bulleted list item, or
// markdown. A Python statement never has two plain words in a row at its start.
bool looks_like_prose(std::string_view line) {
  if (line.starts_with("```") || line.starts_with("**") || line.starts_with("- ") || line.starts_with("> ") ||
      line.starts_with("* "))
    return true;
  size_t end = 0;
  while (end < line.size() &&
         (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '_' || line[end] == '\''))
    end++;
  if (end == 0) return false;
  std::string_view word = line.substr(0, end);
  if (std::isdigit(static_cast<unsigned char>(word[0])))  // "1. First" or "2) Then"
    return end + 1 < line.size() && (line[end] == '.' || line[end] == ')') && line[end + 1] == ' ';
  if (word.find('\'') != std::string_view::npos) return true;  // "Here's", "It's"
  // "match" and "case" are soft keywords: `match command:` is Python.
  if (is_python_keyword(word) || word == "match" || word == "case") return false;
  // Only compound statements end in ':', and they start with a keyword:
  // "Explanation:", "Here it is:".
  if (trim(line).ends_with(":")) return true;
  size_t next = end;
  while (next < line.size() && line[next] == ' ') next++;
  if (next > end && next < line.size() && std::isalpha(static_cast<unsigned char>(line[next]))) return true;
  // "Sure, this works." : several words and nothing an expression would have.
  bool has_code_marks = line.find_first_of("=([{") != std::string_view::npos;
  size_t words = 1;
  for (size_t i = 1; i < line.size(); i++) words += line[i] == ' ' && line[i - 1] != ' ' ? 1 : 0;
  return !has_code_marks && words >= 3;
}

bool is_example_statement(std::string_view line) {
  return starts_with_word(line, "assert") || line.starts_with("print(") || line.starts_with("print (") ||
         (starts_with_word(line, "if") && line.find("__name__") != std::string_view::npos);
}

}  // namespace

std::vector<std::string> fenced_blocks(const std::string& text) {
  std::vector<std::string> blocks;
  auto lines = split_lines(text);
  bool inside = false, wanted = false;
  std::string current;
  for (std::string_view line : lines) {
    std::string_view stripped = trim(line);
    if (stripped.starts_with("```")) {
      if (!inside) {
        inside = true;
        wanted = is_code_language(stripped.substr(3));
        current.clear();
      } else {
        inside = false;
        if (wanted) blocks.push_back(current);
      }
      continue;
    }
    if (inside) {
      current.append(line);
      current.push_back('\n');
    }
  }
  if (inside && wanted && !current.empty()) blocks.push_back(current);
  return blocks;
}

std::string sanitize_code(const std::string& text) {
  auto lines = split_lines(text);
  auto continued = continuation_lines(text);
  std::string out;
  bool keep = true;  // indented lines before any top-level one: a bare function body
  for (size_t i = 0; i < lines.size(); i++) {
    std::string_view line = lines[i];
    bool top_level =
        !line.empty() && !std::isspace(static_cast<unsigned char>(line[0])) && !(i < continued.size() && continued[i]);
    if (top_level && !line.starts_with("#")) keep = !looks_like_prose(line) && !is_example_statement(line);
    if (keep) {
      out.append(line);
      out.push_back('\n');
    }
  }
  // Trailing blank lines from dropped prose are noise.
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

bool defines_function(const std::string& code, const std::string& name) {
  for (std::string_view line : split_lines(code)) {
    if (line.starts_with("async ")) line.remove_prefix(6);
    if (!line.starts_with("def ")) continue;
    std::string_view rest = trim(line.substr(4));
    if (rest.starts_with(name) && trim(rest.substr(name.size())).starts_with("(")) return true;
  }
  return false;
}

std::string extract_code(const std::string& reply, const std::string& entry_point) {
  auto blocks = fenced_blocks(reply);
  std::string chosen = reply;
  if (!blocks.empty()) {
    chosen = blocks.front();
    for (const auto& block : blocks)
      if (defines_function(block, entry_point)) {
        chosen = block;
        break;
      }
  }
  return sanitize_code(chosen);
}

namespace {

bool first_code_line_indented(const std::string& code) {
  for (std::string_view line : split_lines(code)) {
    if (trim(line).empty()) continue;
    return std::isspace(static_cast<unsigned char>(line[0]));
  }
  return false;
}

}  // namespace

sandbox::Program assemble_program(const Task& task, const Prompt& prompt, const std::string& completion) {
  sandbox::Program program;
  program.setup = task.setup;
  program.tests = task.tests;
  program.check = task.check;
  program.helpers = task.context;  // the prompt's own helpers are what the tests call
  if (prompt.style == Style::Completion) {
    std::string body = completion;
    if (!prompt.text.empty() && body.starts_with(prompt.text)) body = body.substr(prompt.text.size());
    program.code = defines_function(body, task.entry_point) ? task.context + body : prompt.code_prefix + body;
    return program;
  }
  std::string code = extract_code(completion, task.entry_point);
  if (defines_function(code, task.entry_point))
    program.code = task.context + code;
  else if (first_code_line_indented(code))
    program.code = task.prompt + code;
  else
    program.code = task.context + code;
  return program;
}

}  // namespace lcte::eval
