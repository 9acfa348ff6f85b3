// The typed TOML readers: each reader's value, its absent key and its wrong
// type, ranges, the unknown-key suggestion, and the one error form
// "FILE:LINE: TABLE KEY: MESSAGE", with the lines counted by hand.
#include "core/toml_read.h"

#include <gtest/gtest.h>

#include "common/error_of.h"

#include <functional>
#include <limits>

#include "core/error.h"

namespace lcte {
namespace {

const std::string kFile = "/etc/lcte/x.toml";

// Line numbers are the lines of this text, from 1.
const char* kText = R"([eval]
name = "humaneval"
n = 3
wide = 9007199254740993
top_p = 0.95
cost = 8
flag = true
words = ["a", "b"]
ks = [1, 2, 4]
mixed = [
  "a",
  3,
]
limits = { humaneval = 5 }
[[model]]
name = "small"
[[model]]
path = "big.gguf"
)";

using lcte::testing::error_of;

class TomlReadTest : public ::testing::Test {
 protected:
  toml::table doc = parse_toml(kText, kFile);
  TomlTable root{doc, kFile, ""};
  TomlTable eval = *root.subtable("eval", "[eval]");
};

TEST_F(TomlReadTest, StringReader) {
  EXPECT_EQ(eval.string("name"), "humaneval");
  EXPECT_EQ(eval.string("absent"), std::nullopt);
  EXPECT_EQ(error_of([&] { eval.string("n"); }), "/etc/lcte/x.toml:3: [eval] n: expected a string, found an integer");
  EXPECT_EQ(error_of([&] { eval.string("words"); }),
            "/etc/lcte/x.toml:8: [eval] words: expected a string, found an array");
}

TEST_F(TomlReadTest, IntegerReaderAndItsRange) {
  EXPECT_EQ(eval.integer("n"), 3);
  EXPECT_EQ(eval.integer("n", 3, 3), 3);  // the bounds are inclusive
  EXPECT_EQ(eval.integer("absent", 1, 2), std::nullopt);
  EXPECT_EQ(error_of([&] { eval.integer("top_p"); }),
            "/etc/lcte/x.toml:5: [eval] top_p: expected an integer, found a float");
  EXPECT_EQ(error_of([&] { eval.integer("flag"); }),
            "/etc/lcte/x.toml:7: [eval] flag: expected an integer, found a boolean");
  EXPECT_EQ(error_of([&] { eval.integer("n", 4, 10); }), "/etc/lcte/x.toml:3: [eval] n: must be 4 to 10, got 3");
  EXPECT_EQ(error_of([&] { eval.integer("n", 1, 2); }), "/etc/lcte/x.toml:3: [eval] n: must be 1 to 2, got 3");
  EXPECT_EQ(error_of([&] { eval.integer("n", 5); }), "/etc/lcte/x.toml:3: [eval] n: must be at least 5, got 3");
  EXPECT_EQ(error_of([&] { eval.integer("n", TomlTable::kMin, 2); }),
            "/etc/lcte/x.toml:3: [eval] n: must be at most 2, got 3");
  // A bound at int's limit is the type's, named alone and only when broken.
  EXPECT_EQ(error_of([&] { eval.integer("n", 4, std::numeric_limits<int>::max()); }),
            "/etc/lcte/x.toml:3: [eval] n: must be at least 4, got 3");
  EXPECT_EQ(error_of([&] { eval.integer("wide", 1, std::numeric_limits<int>::max()); }),
            "/etc/lcte/x.toml:4: [eval] wide: must be at most 2147483647, got 9007199254740993");
  EXPECT_EQ(eval.integer("wide"), 9007199254740993);  // 2^53 + 1: exact, no double in between
}

TEST_F(TomlReadTest, NumberReaderTakesIntegers) {
  EXPECT_DOUBLE_EQ(*eval.number("top_p"), 0.95);
  EXPECT_EQ(eval.number("cost"), 8.0);
  EXPECT_EQ(eval.number("wide"), 9007199254740992.0);  // 2^53 + 1 has no double; 2^53 is the nearest
  EXPECT_EQ(eval.number("absent"), std::nullopt);
  EXPECT_EQ(error_of([&] { eval.number("name"); }),
            "/etc/lcte/x.toml:2: [eval] name: expected a number, found a string");
}

TEST_F(TomlReadTest, BooleanReader) {
  EXPECT_EQ(eval.boolean("flag"), true);
  EXPECT_EQ(eval.boolean("absent"), std::nullopt);
  // No integer stands in for a boolean.
  EXPECT_EQ(error_of([&] { eval.boolean("n"); }),
            "/etc/lcte/x.toml:3: [eval] n: expected a boolean (true or false), found an integer");
}

TEST_F(TomlReadTest, ArrayReadersNameTheItemAtItsLine) {
  EXPECT_EQ(eval.strings("words"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(eval.strings("absent"), std::nullopt);
  EXPECT_EQ(error_of([&] { eval.strings("name"); }),
            "/etc/lcte/x.toml:2: [eval] name: expected an array of strings, found a string");
  EXPECT_EQ(error_of([&] { eval.strings("mixed"); }),
            "/etc/lcte/x.toml:12: [eval] mixed[1]: expected a string, found an integer");
  EXPECT_EQ(eval.integers("ks", 1, 4), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(error_of([&] { eval.integers("ks", 1, 3); }), "/etc/lcte/x.toml:9: [eval] ks[2]: must be 1 to 3, got 4");
  EXPECT_EQ(error_of([&] { eval.integers("words"); }),
            "/etc/lcte/x.toml:8: [eval] words[0]: expected an integer, found a string");
  EXPECT_EQ(error_of([&] { eval.integers("n"); }),
            "/etc/lcte/x.toml:3: [eval] n: expected an array of integers, found an integer");
}

TEST_F(TomlReadTest, MissingKeyIsNamedAtTheTable) {
  const std::vector<TomlTable> models = root.tables("model");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[1].string("path"), "big.gguf");
  EXPECT_EQ(models[1].string("name"), std::nullopt);
  EXPECT_EQ(error_of([&] { models[1].fail_missing("name"); }),
            "/etc/lcte/x.toml:17: [[model]] #2 name: missing (required)");
  EXPECT_EQ(error_of([&] { models[0].fail_missing("path", "required with backend = \"engine\""); }),
            "/etc/lcte/x.toml:15: [[model]] #1 path: missing (required with backend = \"engine\")");
  EXPECT_EQ(error_of([&] { models[1].fail_table("give 'path' or 'url'"); }),
            "/etc/lcte/x.toml:17: [[model]] #2: give 'path' or 'url'");
  EXPECT_EQ(root.tables("compress").size(), 0u);
}

TEST_F(TomlReadTest, UnknownKeysSuggestTheClosest) {
  EXPECT_NO_THROW(eval.check_keys({"name", "n", "wide", "top_p", "cost", "flag", "words", "ks", "mixed", "limits"}));
  // One edit from a known key: suggested.
  EXPECT_EQ(error_of([&] {
              eval.check_keys({"name", "n", "wide", "top_p", "cost", "flag", "wordz", "ks", "mixed", "limits"});
            }),
            "/etc/lcte/x.toml:8: [eval] words: unknown key; did you mean 'wordz'?");
  // "mixed" is 3 or more edits from each (2 allowed for 5 bytes): the known keys are listed.
  EXPECT_EQ(error_of([&] {
              eval.check_keys({"name", "n", "wide", "top_p", "cost", "flag", "words", "ks", "limits"});
            }),
            "/etc/lcte/x.toml:10: [eval] mixed: unknown key (known: name, n, wide, top_p, cost, flag, words, ks, "
            "limits)");
  // The top level has no label; a prefix counts as close.
  EXPECT_EQ(error_of([&] {
              root.check_keys({"evaluate", "model"});
            }),
            "/etc/lcte/x.toml:1: eval: unknown key; did you mean 'evaluate'?");
}

TEST_F(TomlReadTest, TablesAndTheirWrongTypes) {
  const std::optional<TomlTable> limits = eval.subtable("limits", "[eval.limits]");
  ASSERT_TRUE(limits.has_value());
  EXPECT_EQ(limits->integer("humaneval"), 5);
  EXPECT_EQ(error_of([&] { limits->string("humaneval"); }),
            "/etc/lcte/x.toml:14: [eval.limits] humaneval: expected a string, found an integer");
  EXPECT_FALSE(eval.subtable("absent", "[x]").has_value());
  EXPECT_EQ(error_of([&] { eval.subtable("n", "[n]"); }),
            "/etc/lcte/x.toml:3: [eval] n: expected a table, found an integer");
  EXPECT_EQ(error_of([&] { eval.tables("words"); }),
            "/etc/lcte/x.toml:8: [eval] words: expected an array of tables ([[words]]), found an array");
  EXPECT_EQ(error_of([&] { root.tables("eval"); }),
            "/etc/lcte/x.toml:1: eval: expected an array of tables ([[eval]]), found a table");
}

// A table built in memory (a JSON file read as TOML) has no lines: the file alone.
TEST(TomlRead, TablesWithoutLinesNameTheFile) {
  toml::table t;
  t.insert("dim", "wide");
  const TomlTable table(t, "/s.json", "");
  EXPECT_EQ(error_of([&] { table.integer("dim"); }), "/s.json: dim: expected an integer, found a string");
  EXPECT_EQ(table.where("dim"), "/s.json");
}

TEST(TomlRead, SyntaxErrorsNameFileLineAndColumn) {
  const std::string e = error_of([] { parse_toml("a = 1\nb = = 2\n", "/f.toml"); });
  EXPECT_EQ(e.rfind("/f.toml:2:", 0), 0u) << e;
}

// Messages that start with the key they are about (route::RouterConfig's) go
// to that key's line, else the table's.
TEST(TomlRead, KeyedMessagesGoToTheirKeysLine) {
  const toml::table doc = parse_toml("[routing]\npolicy = 'threshold'\ntoken_bounds = [1, 2]\n", "/r.toml");
  const TomlTable routing = *TomlTable(doc, "/r.toml", "").subtable("routing", "[routing]");
  EXPECT_EQ(error_of([&] { routing.fail_keyed_message("token_bounds: needs nine bounds"); }),
            "/r.toml:3: [routing] token_bounds: needs nine bounds");
  EXPECT_EQ(error_of([&] { routing.fail_keyed_message("token_bounds[1]: 2 is not above 5"); }),
            "/r.toml:3: [routing] token_bounds[1]: 2 is not above 5");
  EXPECT_EQ(error_of([&] { routing.fail_keyed_message("tiers: needs 1 to 4 tiers"); }),
            "/r.toml:1: [routing] tiers: needs 1 to 4 tiers");
  EXPECT_EQ(error_of([&] { routing.fail_item("token_bounds", 1, "too small"); }),
            "/r.toml:3: [routing] token_bounds[1]: too small");
}

}  // namespace
}  // namespace lcte
