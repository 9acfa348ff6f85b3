#include "data/datasets.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"

namespace lcte::data {
namespace fs = std::filesystem;

const std::vector<DatasetFile>& known_datasets() {
  // One line per file: path in the data directory, official URL, sha256 of the published file, name
  // (benchmarks: shared/data/SOURCES.md; tiktoken: the expected_hash in tiktoken_ext/openai_public.py).
  static const std::vector<DatasetFile> files = {
      {"humaneval/HumanEval.jsonl.gz",
       "https://raw.githubusercontent.com/openai/human-eval/master/data/HumanEval.jsonl.gz",
       "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef", "humaneval"},
      {"mbpp/mbpp.jsonl", "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl",
       "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f", "mbpp"},
      {"mbpp/sanitized-mbpp.json",
       "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/sanitized-mbpp.json",
       "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9", "mbpp-sanitized"},
      // EvalPlus releases (sums as pinned by other projects that fetch them; the sandbox's docs name them)
      {"evalplus/HumanEvalPlus-v0.1.10.jsonl.gz",
       "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
       "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101", "humaneval+"},
      {"evalplus/MbppPlus-v0.2.0.jsonl.gz",
       "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
       "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63", "mbpp+"},
      {"tokenizer/tiktoken/cl100k_base.tiktoken",
       "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
       "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", "cl100k_base"},
      {"tokenizer/tiktoken/o200k_base.tiktoken",
       "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
       "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", "o200k_base"},
      {"tokenizer/tiktoken/p50k_base.tiktoken",
       "https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken",
       "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069", "p50k_base"},
      {"tokenizer/tiktoken/r50k_base.tiktoken",
       "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",
       "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930", "r50k_base"},
  };
  return files;
}

const DatasetFile* find_dataset(std::string_view name) {
  for (const DatasetFile& f : known_datasets())
    if (f.name == name) return &f;
  return nullptr;
}

namespace {

const DatasetFile& registered(std::string_view name) {
  const DatasetFile* f = find_dataset(name);
  if (f == nullptr) fail("no dataset called {} in the registry", name);
  return *f;
}

}  // namespace

const DatasetFile& humaneval_dataset() { return registered("humaneval"); }
const DatasetFile& mbpp_dataset() { return registered("mbpp"); }
const DatasetFile& mbpp_sanitized_dataset() { return registered("mbpp-sanitized"); }

std::string default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/lcte/datasets";
  if (home != nullptr && *home != '\0') return std::string(home) + "/.cache/lcte/datasets";
  return {};
}

DatasetLocations default_dataset_locations() {
  DatasetLocations where;
  if (const char* env = std::getenv("LCTE_DATA_DIR"); env != nullptr && *env != '\0') where.data_dirs.emplace_back(env);
  where.data_dirs.emplace_back("../shared/data");
  where.data_dirs.emplace_back("shared/data");
  where.cache_dir = default_cache_dir();
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

void download_verified(const std::string& url, const std::string& dest, const std::string& sha256, size_t max_bytes) {
  fs::path target(dest);
  std::error_code ec;
  // The directories made here, deepest first: a failed download removes them again.
  std::vector<fs::path> made;
  for (fs::path d = target.parent_path(); !d.empty() && !fs::exists(d); d = d.parent_path()) made.push_back(d);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) fail("{}: cannot create directory: {}", target.parent_path().string(), ec.message());
  auto remove_made = [&] {
    for (const fs::path& d : made) fs::remove(d, ec);  // only if still empty
  };
  std::string part = dest + ".part." + std::to_string(::getpid());

  DownloadSink sink;
  sink.max_bytes = max_bytes;
  sink.file = std::fopen(part.c_str(), "wb");
  if (sink.file == nullptr) {
    const int err = errno;
    remove_made();
    fail("{}: cannot create: {}", part, std::strerror(err));
  }

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    std::fclose(sink.file);
    fs::remove(part, ec);
    remove_made();
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
    remove_made();
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
  if (got != sha256) give_up(fmt::format("sha256 mismatch: expected {}, got {} ({} bytes)", sha256, got, sink.written));
  fs::rename(part, target, ec);
  if (ec) give_up(fmt::format("cannot move into {}: {}", dest, ec.message()));
}

std::string find_local_dataset(const DatasetFile& file, const DatasetLocations& where, std::string* looked) {
  std::string places;
  for (const auto& dir : where.data_dirs) {
    fs::path candidate = fs::path(dir) / file.relative_path;
    if (fs::is_regular_file(candidate)) return candidate.string();
    places += (places.empty() ? "" : ", ") + candidate.string();
  }
  if (!where.cache_dir.empty()) {
    fs::path cached = fs::path(where.cache_dir) / file.relative_path;
    if (fs::is_regular_file(cached)) {
      if (sha256_file_hex(cached.string()) == file.sha256) return cached.string();
      spdlog::warn("{}: sha256 does not match {}; not using it", cached.string(), file.sha256);
    }
    places += (places.empty() ? "" : ", ") + cached.string();
  }
  if (looked != nullptr) *looked = places;
  return {};
}

std::string resolve_dataset(const DatasetFile& file, const DatasetLocations& where) {
  std::string looked;
  if (std::string path = find_local_dataset(file, where, &looked); !path.empty()) return path;
  if (!where.cache_dir.empty() && where.allow_download) {
    fs::path cached = fs::path(where.cache_dir) / file.relative_path;
    spdlog::info("downloading {} to {}", file.url, cached.string());
    download_verified(file.url, cached.string(), file.sha256);
    return cached.string();
  }
  fail("dataset {} not found (looked in {}); set LCTE_DATA_DIR, run `lcte data fetch {}` or allow the download",
       file.relative_path, looked, file.name);
}

std::string source_url(const DatasetFile& file, const std::string& base_url) {
  if (base_url.empty()) return file.url;
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + file.relative_path;
}

FetchOutcome fetch_dataset(const DatasetFile& file, const std::string& dir, const std::string& base_url) {
  const fs::path dest = fs::path(dir) / file.relative_path;
  if (fs::is_regular_file(dest) && sha256_file_hex(dest.string()) == file.sha256) return FetchOutcome::kAlreadyPresent;
  // A copy with another sum stays until the verified download replaces it (rename).
  download_verified(source_url(file, base_url), dest.string(), file.sha256);
  return FetchOutcome::kDownloaded;
}

}  // namespace lcte::data
