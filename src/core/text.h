// Small text helpers shared by the command line and the HTTP API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lcte {

// "a,b,,c" -> {"a", "b", "c"}: the items of a comma-separated list, empty ones dropped.
std::vector<std::string> split_commas(std::string_view text);

// Levenshtein distance (insertions, deletions, substitutions of bytes).
size_t edit_distance(std::string_view a, std::string_view b);

// The names a mistyped `word` probably meant, closest first (ties in the
// order given): within an edit distance of max(2, |word| / 3), or one being a
// prefix of the other (word of 2 bytes or more). Used for unknown commands,
// flags and keys alike, so every "did you mean" follows one rule.
std::vector<std::string> closest_names(std::string_view word, const std::vector<std::string>& names);

}  // namespace lcte
