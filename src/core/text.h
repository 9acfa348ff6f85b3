// Small text helpers shared by the command line and the HTTP API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lcte {

// "a,b,,c" -> {"a", "b", "c"}: the items of a comma-separated list, empty ones dropped.
std::vector<std::string> split_commas(std::string_view text);

}  // namespace lcte
