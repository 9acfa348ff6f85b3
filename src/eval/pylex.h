// A small Python tokenizer: enough to know where strings, comments, numbers,
// names and operators are, so code extraction does not split a block inside
// a string and bug injection never edits a string or a comment. It never
// fails: text it cannot read (prose, broken code) becomes Other tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lcte::eval {

enum class TokenKind { Name, Number, String, Op, Comment, Newline, Other };

struct Token {
  TokenKind kind;
  size_t offset;  // byte offset in the source
  size_t length;
  int depth;  // open (, [, { before this token
  std::string_view text(std::string_view source) const { return source.substr(offset, length); }
};

std::vector<Token> python_tokens(std::string_view source);

bool is_python_keyword(std::string_view word);

// For each line of `source` (split on '\n'), whether it starts inside a
// multi-line string or inside open brackets, i.e. continues the line before.
std::vector<bool> continuation_lines(std::string_view source);

}  // namespace lcte::eval
