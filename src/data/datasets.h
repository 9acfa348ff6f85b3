// The public files lcte reads (benchmarks, tokenizer rank files) and where
// they come from: a data directory (LCTE_DATA_DIR, or ../shared/data beside
// the working directory), the user's cache, or a download from the official
// source, verified against a pinned sha256.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lcte::data {

struct DatasetFile {
  std::string relative_path;  // inside a data dir or the cache, e.g. "humaneval/HumanEval.jsonl.gz"
  std::string url;            // official public source
  std::string sha256;         // of the file as published
  std::string name = {};      // what `lcte data fetch NAME` takes, e.g. "humaneval"
};

// Every file lcte knows, in the order `lcte data fetch --list` prints them.
const std::vector<DatasetFile>& known_datasets();
// The entry called `name`, or nullptr.
const DatasetFile* find_dataset(std::string_view name);

const DatasetFile& humaneval_dataset();
const DatasetFile& mbpp_dataset();
const DatasetFile& mbpp_sanitized_dataset();

struct DatasetLocations {
  std::vector<std::string> data_dirs;  // searched in order, files used as they are
  std::string cache_dir;               // verified files; downloads land here
  bool allow_download = true;
};

// LCTE_DATA_DIR (when set), ./../shared/data and ./shared/data, then
// default_cache_dir().
DatasetLocations default_dataset_locations();
// $XDG_CACHE_HOME/lcte/datasets, else ~/.cache/lcte/datasets; "" when neither is set.
std::string default_cache_dir();

// Path of a copy of `file` already on this machine: the first data dir that
// has it, else the cache when its sha256 matches; "" when there is none.
// `looked` (when given) receives the places searched, for messages.
std::string find_local_dataset(const DatasetFile& file, const DatasetLocations& where, std::string* looked = nullptr);

// Path of a readable copy of `file`: find_local_dataset, else a fresh
// download into the cache (when allowed). Throws lcte::Error saying where it
// looked when none works.
std::string resolve_dataset(const DatasetFile& file, const DatasetLocations& where);

// Downloads `url` to `dest` (parent dirs created) with libcurl and checks its
// sha256; on any failure (HTTP error, connection cut before the end, mismatch,
// too large) nothing is left at `dest` and lcte::Error says what happened.
void download_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                       size_t max_bytes = size_t(64) << 20);

// `file`'s URL, or `base_url` + "/" + its relative path when base_url is set
// (a mirror laid out like the data directory).
std::string source_url(const DatasetFile& file, const std::string& base_url = "");

enum class FetchOutcome { kDownloaded, kAlreadyPresent };

// Makes `dir`/relative_path a verified copy of `file`: kept when its sha256
// already matches, else downloaded from source_url(file, base_url).
FetchOutcome fetch_dataset(const DatasetFile& file, const std::string& dir, const std::string& base_url = "");

}  // namespace lcte::data
