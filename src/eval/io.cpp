#include "eval/io.h"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"

namespace lcte::eval {

std::string read_file(const std::string& path, size_t max_bytes) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::string out;
  char buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    if (out.size() + got > max_bytes) fail("{}: larger than {} bytes", path, max_bytes);
    out.append(buffer, got);
  }
  if (std::ferror(file.get())) fail("{}: read error", path);
  return out;
}

std::string read_gzip_file(const std::string& path, size_t max_bytes) {
  std::string compressed = read_file(path, max_bytes);
  z_stream stream{};
  // 15 + 32: accept gzip or zlib headers (automatic detection).
  if (inflateInit2(&stream, 15 + 32) != Z_OK) fail("{}: zlib init failed", path);
  stream.next_in = reinterpret_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string why = stream.msg ? stream.msg : (rc == Z_BUF_ERROR ? "truncated data" : "error");
      inflateEnd(&stream);
      fail("{}: corrupt gzip data ({}) after {} decompressed bytes", path, why, out.size());
    }
    size_t produced = sizeof(buffer) - stream.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&stream);
      fail("{}: decompresses to more than {} bytes", path, max_bytes);
    }
    out.append(buffer, produced);
  }
  inflateEnd(&stream);
  return out;
}

std::string read_maybe_gzip(const std::string& path, size_t max_bytes) {
  bool gz = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  return gz ? read_gzip_file(path, max_bytes) : read_file(path, max_bytes);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::string normalize_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); i++) {
    if (text[i] != '\r') {
      out.push_back(text[i]);
    } else if (i + 1 >= text.size() || text[i + 1] != '\n') {
      out.push_back('\n');  // a lone CR (four MBPP solutions end with one)
    }
  }
  return out;
}

}  // namespace lcte::eval
