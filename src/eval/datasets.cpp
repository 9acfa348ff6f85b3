#include "eval/datasets.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"

namespace lcte::eval {
namespace fs = std::filesystem;

const DatasetFile& humaneval_dataset() {
  static const DatasetFile file{
      "humaneval/HumanEval.jsonl.gz",
      "https://raw.githubusercontent.com/openai/human-eval/master/data/HumanEval.jsonl.gz",
      "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"};
  return file;
}

const DatasetFile& mbpp_dataset() {
  static const DatasetFile file{
      "mbpp/mbpp.jsonl",
      "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl",
      "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f"};
  return file;
}

const DatasetFile& mbpp_sanitized_dataset() {
  static const DatasetFile file{
      "mbpp/sanitized-mbpp.json",
      "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/sanitized-mbpp.json",
      "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9"};
  return file;
}

DatasetLocations default_dataset_locations() {
  DatasetLocations where;
  if (const char* env = std::getenv("LCTE_DATA_DIR"); env != nullptr && *env != '\0')
    where.data_dirs.emplace_back(env);
  where.data_dirs.emplace_back("../shared/data");
  where.data_dirs.emplace_back("shared/data");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg != '\0')
    where.cache_dir = std::string(xdg) + "/lcte/datasets";
  else if (home != nullptr && *home != '\0')
    where.cache_dir = std::string(home) + "/.cache/lcte/datasets";
  return where;
}

namespace {

struct DownloadSink {
  FILE* file = nullptr;
  size_t written = 0;
  size_t max_bytes = 0;
  bool too_large = false;
  Sha256 hash;
};

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<DownloadSink*>(user);
  size_t bytes = size * count;
  if (sink->written + bytes > sink->max_bytes) {
    sink->too_large = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->hash.update(data, bytes);
  sink->written += bytes;
  return std::fwrite(data, 1, bytes, sink->file);
}

}  // namespace

void download_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                       size_t max_bytes) {
  fs::path target(dest);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) fail("{}: cannot create directory: {}", target.parent_path().string(), ec.message());
  std::string part = dest + ".part." + std::to_string(::getpid());

  DownloadSink sink;
  sink.max_bytes = max_bytes;
  sink.file = std::fopen(part.c_str(), "wb");
  if (sink.file == nullptr) fail("{}: cannot create: {}", part, std::strerror(errno));

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    std::fclose(sink.file);
    fs::remove(part, ec);
    fail("{}: cannot initialise libcurl", url);
  }
  char curl_error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 20L);
  // A stalled server must not hang the harness: give up below 1 KB/s for 30 s.
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, curl_error);
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "lcte/0.1");
  CURLcode rc = curl_easy_perform(curl.get());
  long http_status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &http_status);
  bool write_ok = std::fclose(sink.file) == 0;

  auto give_up = [&](const std::string& why) {
    fs::remove(part, ec);
    fail("{}: download failed: {}", url, why);
  };
  if (sink.too_large) give_up(fmt::format("larger than {} bytes", max_bytes));
  if (rc != CURLE_OK) {
    std::string why = curl_error[0] != '\0' ? curl_error : curl_easy_strerror(rc);
    if (rc == CURLE_HTTP_RETURNED_ERROR) why = fmt::format("HTTP status {}", http_status);
    give_up(why);
  }
  if (!write_ok) give_up(fmt::format("cannot write {}", part));
  std::string got = sink.hash.finish_hex();
  if (got != sha256)
    give_up(fmt::format("sha256 mismatch: expected {}, got {} ({} bytes)", sha256, got, sink.written));
  fs::rename(part, target, ec);
  if (ec) give_up(fmt::format("cannot move into {}: {}", dest, ec.message()));
}

std::string resolve_dataset(const DatasetFile& file, const DatasetLocations& where) {
  std::string looked;
  for (const auto& dir : where.data_dirs) {
    fs::path candidate = fs::path(dir) / file.relative_path;
    if (fs::is_regular_file(candidate)) return candidate.string();
    looked += candidate.string() + ", ";
  }
  if (!where.cache_dir.empty()) {
    fs::path cached = fs::path(where.cache_dir) / file.relative_path;
    if (fs::is_regular_file(cached)) {
      if (sha256_file_hex(cached.string()) == file.sha256) return cached.string();
      spdlog::warn("{}: sha256 does not match {}; downloading it again", cached.string(), file.sha256);
    }
    looked += cached.string();
    if (where.allow_download) {
      spdlog::info("downloading {} to {}", file.url, cached.string());
      download_verified(file.url, cached.string(), file.sha256);
      return cached.string();
    }
  }
  fail("dataset {} not found (looked in {}); set LCTE_DATA_DIR or allow the download", file.relative_path,
       looked);
}

}  // namespace lcte::eval
