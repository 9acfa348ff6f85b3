// Writing a file so that readers see the old contents or the new, never a
// part: every file lcte writes whole (summaries, reports, manifests, rules,
// caches) goes through here.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace lcte {

// Writes the parts, in order, to a temporary file beside `path` (unique to
// this process and call), flushes it to disk, and renames it over `path`.
// On any failure the temporary file is removed, `path` is left as it was,
// and lcte::Error names the file and the reason.
void write_file_atomic(const std::string& path, std::initializer_list<std::string_view> parts);
inline void write_file_atomic(const std::string& path, std::string_view contents) {
  write_file_atomic(path, {contents});
}

}  // namespace lcte
