// Typed reading of TOML tables (toml++), with one form for every error lcte
// reports about a TOML file (study files, model catalogues, student configs):
//
//   FILE:LINE: TABLE KEY: MESSAGE
//   /srv/study.toml:12: [[model]] #2 tier: expected an integer, found a string
//   /srv/study.toml:20: [eval] temprature: unknown key; did you mean 'temperature'?
//
// LINE is the key's (else the table's; left out where the file has no lines,
// as for a JSON file read into a table), TABLE the table as the file writes
// it ("[eval]", "[[model]] #2" for the second [[model]], nothing for the
// file's top level) and MESSAGE, for a wrong type, the expected and the found
// type. Errors about a whole table read "FILE:LINE: TABLE: MESSAGE".
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lcte {

// `text` parsed as TOML; a syntax error is lcte::Error "FILE:LINE:COLUMN: what".
toml::table parse_toml(std::string_view text, const std::string& file);

// "an integer", "a string", ...: the type of `node` as messages name it.
std::string toml_type_name(const toml::node& node);

// One table of a TOML file being read. It refers to the parsed table, which
// must outlive it.
class TomlTable {
 public:
  static constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  static constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

  // `label`: how messages name the table ("[eval]", "[[model]] #2", "" for
  // the top level).
  TomlTable(const toml::table& table, std::string file, std::string label);

  const toml::table& table() const { return *table_; }
  const std::string& file() const { return file_; }
  const std::string& label() const { return label_; }
  bool has(std::string_view key) const { return table_->contains(key); }

  // Each reader: nullopt when the key is absent, the value when it has the
  // type, else lcte::Error naming the expected and the found type.
  std::optional<std::string> string(std::string_view key) const;
  // Also out of [min, max]: an error naming the range and the value ("must
  // be 1 to 4096, got 0"; a bound at or past int's range is a type's limit,
  // named alone and only when broken: "must be at least 1, got 0").
  std::optional<int64_t> integer(std::string_view key, int64_t min = kMin, int64_t max = kMax) const;
  // A float, or an integer (read as its double).
  std::optional<double> number(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  // An array of strings; a wrong item is named by its index and line.
  std::optional<std::vector<std::string>> strings(std::string_view key) const;
  // An array of integers, each in [min, max].
  std::optional<std::vector<int64_t>> integers(std::string_view key, int64_t min = kMin, int64_t max = kMax) const;

  // The table under `key` (a [section] or an inline table), labelled
  // `label`; nullopt when absent.
  std::optional<TomlTable> subtable(std::string_view key, std::string label) const;
  // The tables of the array of tables `key` ([[key]]), labelled "[[key]] #N"
  // (N from 1); empty when absent.
  std::vector<TomlTable> tables(std::string_view key) const;

  // An error for the first key not in `known`, with the closest known key
  // (closest_names, core/text.h) where one is close, else the known keys.
  void check_keys(const std::vector<std::string>& known) const;

  // "FILE:LINE" of `key` (of the table when the key is absent), or "FILE".
  std::string where(std::string_view key) const;
  // "FILE:LINE" of the table itself, or "FILE".
  std::string where() const;

  // Errors in the one form: about `key` (at its line, else the table's),
  // about item `index` of the array `key` (named key[index], at the item's
  // line), a required key that is absent ("missing (required)", or
  // "missing (HINT)"), and the table as a whole.
  [[noreturn]] void fail_key(std::string_view key, const std::string& message) const;
  [[noreturn]] void fail_item(std::string_view key, size_t index, const std::string& message) const;
  [[noreturn]] void fail_missing(std::string_view key, const std::string& hint = "") const;
  [[noreturn]] void fail_table(const std::string& message) const;
  // `message` starts with the key it is about ("token_bounds[1]: 4 is not
  // above 5", as route::RouterConfig words its errors): at that key's line
  // when the table holds it.
  [[noreturn]] void fail_keyed_message(const std::string& message) const;

 private:
  const toml::node& node_or_table(std::string_view key) const;
  std::string prefix(const toml::node& at, std::string_view field) const;

  const toml::table* table_;
  std::string file_;
  std::string label_;
};

}  // namespace lcte
