// Small file helpers for the suites: whole-file reads with a size cap (a
// corrupt or hostile file must not make us allocate gigabytes), gzip, lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/file.h"

namespace lcte::eval {

constexpr size_t kMaxSuiteBytes = size_t(256) << 20;

// Throws lcte::Error naming the file when it is missing, unreadable or larger than max_bytes.
std::string read_file(const std::string& path, size_t max_bytes = kMaxSuiteBytes);
// Decompresses a gzip file (zlib); errors name the file (corrupt data, truncated, too large).
std::string read_gzip_file(const std::string& path, size_t max_bytes = kMaxSuiteBytes);
// read_gzip_file when the name ends in .gz, read_file otherwise.
std::string read_maybe_gzip(const std::string& path, size_t max_bytes = kMaxSuiteBytes);

// Splits on '\n'; a final line without newline is kept; a trailing '\r' is removed.
std::vector<std::string_view> split_lines(std::string_view text);

// "\r\n" and a lone "\r" -> "\n", as Python reads them (MBPP's reference code uses CRLF).
std::string normalize_newlines(std::string_view text);

using lcte::write_file_atomic;  // core/file.h

}  // namespace lcte::eval
