#include "core/toml_read.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "core/error.h"
#include "core/text.h"

namespace lcte {

namespace {

std::string line_of(const std::string& file, const toml::node& n) {
  const auto line = n.source().begin.line;
  return line > 0 ? fmt::format("{}:{}", file, line) : file;
}

// A bound at or past int's range is a type's limit rather than a rule of the
// file, and is named only when it is the one broken.
bool is_type_limit(int64_t bound) {
  return bound >= std::numeric_limits<int>::max() || bound <= std::numeric_limits<int>::min();
}

std::string range_message(int64_t v, int64_t min, int64_t max) {
  if (!is_type_limit(min) && !is_type_limit(max)) return fmt::format("must be {} to {}, got {}", min, max, v);
  return v < min ? fmt::format("must be at least {}, got {}", min, v)
                 : fmt::format("must be at most {}, got {}", max, v);
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

}  // namespace

toml::table parse_toml(std::string_view text, const std::string& file) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: {}", file, e.source().begin.line, e.source().begin.column, e.description());
  }
}

std::string toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return node.as_array()->is_array_of_tables() ? "an array of tables" : "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

TomlTable::TomlTable(const toml::table& table, std::string file, std::string label)
    : table_(&table), file_(std::move(file)), label_(std::move(label)) {}

std::optional<std::string> TomlTable::string(std::string_view key) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return std::nullopt;
  auto v = n->value_exact<std::string>();
  if (!v) fail_key(key, "expected a string, found " + toml_type_name(*n));
  return v;
}

std::optional<int64_t> TomlTable::integer(std::string_view key, int64_t min, int64_t max) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return std::nullopt;
  auto v = n->value_exact<int64_t>();
  if (!v) fail_key(key, "expected an integer, found " + toml_type_name(*n));
  if (*v < min || *v > max) fail_key(key, range_message(*v, min, max));
  return v;
}

std::optional<double> TomlTable::number(std::string_view key) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return std::nullopt;
  if (auto d = n->value_exact<double>()) return d;
  // An integer is a number too (cost = 8); every TOML integer has a nearest double.
  if (auto i = n->value_exact<int64_t>()) return static_cast<double>(*i);
  fail_key(key, "expected a number, found " + toml_type_name(*n));
}

std::optional<bool> TomlTable::boolean(std::string_view key) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return std::nullopt;
  auto v = n->value_exact<bool>();
  if (!v) fail_key(key, "expected a boolean (true or false), found " + toml_type_name(*n));
  return v;
}

std::optional<std::vector<std::string>> TomlTable::strings(std::string_view key) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return std::nullopt;
  const toml::array* a = n->as_array();
  if (a == nullptr) fail_key(key, "expected an array of strings, found " + toml_type_name(*n));
  std::vector<std::string> out;
  for (size_t i = 0; i < a->size(); ++i) {
    auto v = a->get(i)->value_exact<std::string>();
    if (!v) fail_item(key, i, "expected a string, found " + toml_type_name(*a->get(i)));
    out.push_back(std::move(*v));
  }
  return out;
}

std::optional<std::vector<int64_t>> TomlTable::integers(std::string_view key, int64_t min, int64_t max) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return std::nullopt;
  const toml::array* a = n->as_array();
  if (a == nullptr) fail_key(key, "expected an array of integers, found " + toml_type_name(*n));
  std::vector<int64_t> out;
  for (size_t i = 0; i < a->size(); ++i) {
    auto v = a->get(i)->value_exact<int64_t>();
    if (!v) fail_item(key, i, "expected an integer, found " + toml_type_name(*a->get(i)));
    if (*v < min || *v > max) fail_item(key, i, range_message(*v, min, max));
    out.push_back(*v);
  }
  return out;
}

std::optional<TomlTable> TomlTable::subtable(std::string_view key, std::string label) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return std::nullopt;
  const toml::table* t = n->as_table();
  if (t == nullptr) fail_key(key, "expected a table, found " + toml_type_name(*n));
  return TomlTable(*t, file_, std::move(label));
}

std::vector<TomlTable> TomlTable::tables(std::string_view key) const {
  const toml::node* n = table_->get(key);
  if (n == nullptr) return {};
  const toml::array* a = n->as_array();
  if (a == nullptr || !a->is_array_of_tables())
    fail_key(key, fmt::format("expected an array of tables ([[{}]]), found {}", key, toml_type_name(*n)));
  std::vector<TomlTable> out;
  for (size_t i = 0; i < a->size(); ++i)
    out.emplace_back(*a->get(i)->as_table(), file_, fmt::format("[[{}]] #{}", key, i + 1));
  return out;
}

void TomlTable::check_keys(const std::vector<std::string>& known) const {
  for (const auto& [k, v] : *table_) {
    const std::string key(k.str());
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const std::vector<std::string> near = closest_names(key, known);
    fail_key(key, near.empty() ? fmt::format("unknown key (known: {})", joined(known))
                               : fmt::format("unknown key; did you mean '{}'?", near.front()));
  }
}

const toml::node& TomlTable::node_or_table(std::string_view key) const {
  const toml::node* n = table_->get(key);
  return n != nullptr ? *n : *table_;
}

std::string TomlTable::where(std::string_view key) const { return line_of(file_, node_or_table(key)); }

std::string TomlTable::where() const { return line_of(file_, *table_); }

std::string TomlTable::prefix(const toml::node& at, std::string_view field) const {
  return fmt::format("{}: {}{}{}: ", line_of(file_, at), label_, label_.empty() || field.empty() ? "" : " ", field);
}

void TomlTable::fail_key(std::string_view key, const std::string& message) const {
  throw Error(prefix(node_or_table(key), key) + message);
}

void TomlTable::fail_item(std::string_view key, size_t index, const std::string& message) const {
  const toml::array* a = table_->get(key) != nullptr ? table_->get(key)->as_array() : nullptr;
  const toml::node& at = a != nullptr && index < a->size() ? *a->get(index) : node_or_table(key);
  throw Error(prefix(at, fmt::format("{}[{}]", key, index)) + message);
}

void TomlTable::fail_missing(std::string_view key, const std::string& hint) const {
  fail_key(key, hint.empty() ? "missing (required)" : fmt::format("missing ({})", hint));
}

void TomlTable::fail_table(const std::string& message) const {
  throw Error(fmt::format("{}: {}{}{}", where(), label_, label_.empty() ? "" : ": ", message));
}

void TomlTable::fail_keyed_message(const std::string& message) const {
  const std::string key = message.substr(0, message.find_first_of(":[ "));
  throw Error(fmt::format("{}: {}{}{}", where(key), label_, label_.empty() ? "" : " ", message));
}

}  // namespace lcte
