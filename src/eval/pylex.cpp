#include "eval/pylex.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace lcte::eval {
namespace {

bool is_name_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool is_name_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Length of a string prefix (r, b, f, u, rb, fr, ...) at `at` that is
// directly followed by a quote; 0 when the name there is not a prefix.
size_t string_prefix_length(std::string_view s, size_t at) {
  auto is_prefix_char = [](char c) { return c != '\0' && std::strchr("rRbBfFuU", c) != nullptr; };
  size_t n = 0;
  while (n < 2 && at + n < s.size() && is_prefix_char(s[at + n])) n++;
  for (size_t length = n; length >= 1; length--)
    if (at + length < s.size() && (s[at + length] == '\'' || s[at + length] == '"')) return length;
  return 0;
}

// End of the string literal whose opening quote is at `quote`.
size_t string_end(std::string_view s, size_t quote) {
  char q = s[quote];
  bool triple = quote + 2 < s.size() && s[quote + 1] == q && s[quote + 2] == q;
  size_t i = quote + (triple ? 3 : 1);
  while (i < s.size()) {
    if (s[i] == '\\') {
      i += 2;
      continue;
    }
    if (!triple && s[i] == '\n') return i;  // unterminated: ends at the line end
    if (s[i] == q) {
      if (!triple) return i + 1;
      if (i + 2 < s.size() && s[i + 1] == q && s[i + 2] == q) return i + 3;
    }
    i++;
  }
  return s.size();
}

// Digits, letters (hex digits, exponents, j), underscores, dots, and a sign
// right after a decimal exponent.
size_t number_end(std::string_view s, size_t begin) {
  bool hex = begin + 1 < s.size() && s[begin] == '0' && (s[begin + 1] == 'x' || s[begin + 1] == 'X');
  size_t i = begin;
  while (i < s.size()) {
    char c = s[i];
    bool sign = (c == '+' || c == '-') && !hex && i > begin && (s[i - 1] == 'e' || s[i - 1] == 'E');
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || sign)
      i++;
    else
      break;
  }
  return std::min(std::max(i, begin + 1), s.size());
}

constexpr std::array<std::string_view, 25> kLongOps = {
    "**=", "//=", ">>=", "<<=", "...", "->", ":=", "==", "!=", "<=", ">=", "**", "//",
    "<<",  ">>",  "+=",  "-=",  "*=",  "/=", "%=", "&=", "|=", "^=", "@=", "<>"};

}  // namespace

bool is_python_keyword(std::string_view word) {
  static constexpr std::array<std::string_view, 35> kKeywords = {
      "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
      "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
      "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
      "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield"};
  return std::find(kKeywords.begin(), kKeywords.end(), word) != kKeywords.end();
}

std::vector<Token> python_tokens(std::string_view s) {
  std::vector<Token> tokens;
  int depth = 0;
  size_t i = 0;
  auto push = [&](TokenKind kind, size_t begin, size_t end) {
    tokens.push_back({kind, begin, end - begin, depth});
    i = end;
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      push(TokenKind::Newline, i, i + 1);
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\\') {
      i++;
    } else if (c == '#') {
      size_t end = s.find('\n', i);
      push(TokenKind::Comment, i, end == std::string_view::npos ? s.size() : end);
    } else if (c == '\'' || c == '"') {
      push(TokenKind::String, i, string_end(s, i));
    } else if (is_name_start(c)) {
      size_t prefix = string_prefix_length(s, i);
      if (prefix != 0) {
        push(TokenKind::String, i, string_end(s, i + prefix));
        continue;
      }
      size_t end = i;
      while (end < s.size() && is_name_char(static_cast<unsigned char>(s[end]))) end++;
      push(TokenKind::Name, i, end);
    } else if (std::isdigit(c) ||
               (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      push(TokenKind::Number, i, number_end(s, i));
    } else {
      std::string_view rest = s.substr(i);
      size_t length = 1;
      for (std::string_view op : kLongOps)
        if (rest.starts_with(op)) {
          length = op.size();
          break;
        }
      bool known = length > 1 || std::strchr("+-*/%@&|^~<>()[]{},:;.=!", c) != nullptr;
      if (c == ')' || c == ']' || c == '}') depth = std::max(0, depth - 1);
      push(known ? TokenKind::Op : TokenKind::Other, i, i + length);
      if (c == '(' || c == '[' || c == '{') depth++;
    }
  }
  return tokens;
}

std::vector<bool> continuation_lines(std::string_view source) {
  // Line starts, then mark those that fall inside a multi-line token or
  // inside brackets opened on an earlier line.
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < source.size(); i++)
    if (source[i] == '\n' && i + 1 < source.size()) starts.push_back(i + 1);
  std::vector<bool> continued(starts.size(), false);
  auto tokens = python_tokens(source);
  auto line_of = [&](size_t offset) {
    return size_t(std::upper_bound(starts.begin(), starts.end(), offset) - starts.begin()) - 1;
  };
  for (const Token& token : tokens) {
    size_t first = line_of(token.offset);
    size_t last = line_of(token.offset + (token.length ? token.length - 1 : 0));
    for (size_t line = first + 1; line <= last && line < continued.size(); line++) continued[line] = true;
    if (token.kind == TokenKind::Newline && token.depth > 0 && first + 1 < continued.size())
      continued[first + 1] = true;
  }
  return continued;
}

}  // namespace lcte::eval
